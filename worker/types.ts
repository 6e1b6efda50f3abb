/** The Hono environment of every route. */
export type AppEnv = { Bindings: Env };
