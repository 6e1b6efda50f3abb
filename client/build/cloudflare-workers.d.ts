// The part of `cloudflare:workers` that client/consumer.ts uses, for building
// dist/client's types without the Workers types (client/tsconfig.build.json).
// Workers provide the module itself; the Worker's own build types it fully.
declare module "cloudflare:workers" {
  export abstract class WorkerEntrypoint<Env = unknown> {
    protected ctx: { waitUntil(promise: Promise<unknown>): void; passThroughOnException(): void };
    protected env: Env;
    constructor(ctx: unknown, env: Env);
  }
}
