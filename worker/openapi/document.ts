/**
 * The OpenAPI 3.1 document of the HTTP API, built from the app's routes:
 * hono-openapi walks `app.routes` and reads each route's `documented(...)`
 * middleware (worker/openapi/describe.ts) and its validator's zod schema
 * (worker/validate.ts); this file then adds what follows from rules kept
 * elsewhere, so that they are stated once: the security of each route from
 * worker/auth/access.ts, and the error codes that its access rule, its
 * request and its path can answer, as the shared error body.
 */
import type { Hono } from "hono";
import { generateSpecs, resolver } from "hono-openapi";
import type { z } from "zod";
import { ERROR_STATUS, LIMITS, QUEUE_NAME_PATTERN, type ErrorCode } from "../../client/protocol";
import { version } from "../../package.json";
import { requiredAccess, type Access } from "../auth/access";
import type { AppEnv } from "../types";
import { ROUTE_ANSWERS, ROUTE_ERRORS, TAGS, type Answer } from "./describe";

type JsonObject = Record<string, any>;
type AnswersModule = typeof import("./answers");

/** Every route can answer these: no token is configured at all, or something failed inside. */
const EVERY_ROUTE: readonly ErrorCode[] = ["AUTH_NOT_CONFIGURED", "INTERNAL"];
/** A route behind a token. */
const WITH_TOKEN: readonly ErrorCode[] = ["UNAUTHORIZED", "FORBIDDEN"];
/** A route with a JSON body (worker/validate.ts `jsonBody`, and the body limit of /v1 in worker/app.ts). */
const WITH_BODY: readonly ErrorCode[] = ["INVALID_JSON", "UNSUPPORTED_MEDIA_TYPE", "INVALID_REQUEST", "INVALID_VALUE", "PAYLOAD_TOO_LARGE"];
/** A route with a query string (worker/validate.ts `queryParams`). */
const WITH_QUERY: readonly ErrorCode[] = ["INVALID_REQUEST", "INVALID_VALUE"];
/** A route on a `{queue}` or a `{topic}`: the name is checked first (worker/app.ts, worker/routes/queues.ts). */
const WITH_QUEUE: readonly ErrorCode[] = ["INVALID_REQUEST"];

const ADMIN = "adminToken";
const SCOPED = "scopedToken";

const SECURITY_SCHEMES = {
  [ADMIN]: {
    type: "http",
    scheme: "bearer",
    description: "The admin token (`EDGEQ_ADMIN_TOKEN`): may call every route.",
  },
  [SCOPED]: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description:
      "A scoped token minted by `POST /v1/tokens`: its scopes (publish, consume, manage) say what it may do, " +
      "its queue grants (names or `prefix-*`, `*` for all) on which queues, its topic grants on which topics. A route lists the scopes it accepts; any one of them is enough.",
  },
};

const DESCRIPTION = `A durable message queue on Cloudflare Workers.

Every error answers \`{"error": {"code", "message"}}\` with a code from a closed set (schema \`ErrorCode\`);
each operation lists the codes it can answer under their HTTP status. Beside those, any path answers
\`NOT_FOUND\` (404) when no route has it, and \`METHOD_NOT_ALLOWED\` (405, with an \`Allow\` header) when
the route exists with other methods. Request bodies are at most ${LIMITS.maxRequestBytes} bytes.`;

/** The operations of a path item, by lowercase method. */
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

/**
 * The access rule of an operation: its path is asked with its parameters as
 * written (`{queue}`), so a rule on `:queue` answers the queue `{queue}`.
 */
const accessOf = (method: string, path: string): Access => requiredAccess(method.toUpperCase(), path);

function security(access: Access): JsonObject[] {
  if (access.kind === "public") return [];
  if (access.kind === "admin") return [{ [ADMIN]: [] }];
  return [{ [ADMIN]: [] }, ...access.scopes.map((scope) => ({ [SCOPED]: [scope] }))];
}

function accessSentence(access: Access): string {
  if (access.kind === "public") return "Public: no token.";
  if (access.kind === "admin") return "Needs the admin token.";
  const where =
    "topic" in access
      ? access.topic === null
        ? "covering every topic (`*` in its topics)"
        : "covering the topic"
      : access.queue === null
        ? "covering every queue (`*`)"
        : "covering the queue";
  return `Needs the admin token, or a scoped token with ${access.scopes.map((s) => `\`${s}\``).join(" or ")} ${where}.`;
}

/** The error answer for one status: the shared error body, its code narrowed to the codes this operation answers with it. */
function errorResponse(codes: ErrorCode[], meanings: Record<ErrorCode, string>): JsonObject {
  const headers: JsonObject = {};
  if (codes.includes("QUEUE_FULL") || codes.includes("UNAVAILABLE")) {
    headers["Retry-After"] = { description: "Seconds to wait before retrying", schema: { type: "integer" } };
  }
  if (codes.includes("UNAUTHORIZED")) {
    headers["WWW-Authenticate"] = { description: 'Bearer realm="edgeq"', schema: { type: "string" } };
  }
  return {
    description: codes.map((code) => `\`${code}\`: ${meanings[code]}`).join("\n\n"),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    content: {
      "application/json": {
        schema: {
          allOf: [
            { $ref: "#/components/schemas/ErrorBody" },
            {
              type: "object",
              properties: { error: { type: "object", properties: { code: { enum: codes } } } },
            },
          ],
        },
      },
    },
  };
}

/** Whether a JSON Schema accepts `{}`: an empty body counts as `{}` (worker/validate.ts). */
const acceptsEmptyObject = (schema: JsonObject | undefined): boolean =>
  schema !== undefined && schema.type === "object" && !(Array.isArray(schema.required) && schema.required.length > 0);

/**
 * A schema as OpenAPI: schemas with an `id` become components, added to
 * `components` (as hono-openapi does for the schemas it resolves).
 */
async function toOpenApi(schema: z.ZodType, components: JsonObject): Promise<JsonObject> {
  const result = await resolver(schema).toOpenAPISchema();
  const { $defs, ...json } = result.schema as JsonObject;
  Object.assign(components, $defs, result.components?.schemas);
  return json;
}

/** The successful answers a route names (worker/openapi/describe.ts). */
async function successResponse(answer: Answer, answers: AnswersModule, components: JsonObject): Promise<JsonObject> {
  if (typeof answer !== "string") {
    if (answer.mediaType === undefined) return { description: answer.description };
    const schema = answer.mediaType === "application/json" ? { type: "object" } : { type: "string" };
    return { description: answer.description, content: { [answer.mediaType]: { schema } } };
  }
  const schema = answers[answer];
  return {
    description: schema.description ?? "OK",
    content: { "application/json": { schema: await toOpenApi(schema, components) } },
  };
}

/** Adds answers, security, error answers and path parameter schemas to one operation. */
async function complete(path: string, method: string, op: JsonObject, answers: AnswersModule, components: JsonObject): Promise<void> {
  for (const [status, answer] of Object.entries((op[ROUTE_ANSWERS] ?? {}) as Record<string, Answer>)) {
    op.responses[status] = await successResponse(answer, answers, components);
  }
  delete op[ROUTE_ANSWERS];

  const access = accessOf(method, path);
  op.security = security(access);
  op.description = op.description ? `${op.description}\n\n${accessSentence(access)}` : accessSentence(access);

  const codes = new Set<ErrorCode>([...(op[ROUTE_ERRORS] ?? []), ...EVERY_ROUTE]);
  delete op[ROUTE_ERRORS];
  if (access.kind !== "public") WITH_TOKEN.forEach((c) => codes.add(c));
  if (op.requestBody) WITH_BODY.forEach((c) => codes.add(c));
  if ((op.parameters ?? []).some((p: JsonObject) => p.in === "query")) WITH_QUERY.forEach((c) => codes.add(c));
  if (path.includes("{queue}") || path.includes("{topic}")) WITH_QUEUE.forEach((c) => codes.add(c));

  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of Object.keys(ERROR_STATUS) as ErrorCode[]) {
    if (!codes.has(code)) continue;
    byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  }
  for (const [status, list] of byStatus) op.responses[String(status)] = errorResponse(list, answers.errorMeanings);

  if (op.requestBody) {
    const schema = op.requestBody.content?.["application/json"]?.schema;
    const empty = acceptsEmptyObject(schema);
    op.requestBody.required = !empty;
    if (empty) op.requestBody.description = "An empty body counts as `{}`.";
  }
  for (const param of op.parameters ?? []) {
    if (param.in === "path" && param.name === "queue") {
      param.schema = { type: "string", pattern: QUEUE_NAME_PATTERN.source };
      param.description = "The queue's name: 1 to 64 letters, digits, '_' or '-'";
    }
    if (param.in === "path" && param.name === "topic") {
      param.schema = { type: "string", pattern: QUEUE_NAME_PATTERN.source };
      param.description = "The topic's name, by the queue name rules";
    }
  }
}

/** Builds the document from the routes `app` has now. */
export async function buildOpenApiDocument(app: Hono<AppEnv>): Promise<JsonObject> {
  const answers = await import("./answers");
  const doc: JsonObject = await generateSpecs(app, {
    documentation: {
      info: { title: "edgeq", version, description: DESCRIPTION },
      tags: TAGS.map((t) => ({ ...t })),
      components: { securitySchemes: SECURITY_SCHEMES as JsonObject },
    },
    // `/openapi.json` is a route, not a static file.
    excludeStaticFile: false,
    // Error answers are the shared error body, added below.
    defaultValidationErrorResponse: false,
  });
  const schemas: JsonObject = { ...doc.components.schemas };
  await toOpenApi(answers.errorBody, schemas);
  for (const [path, item] of Object.entries(doc.paths as JsonObject)) {
    for (const method of METHODS) if (item[method]) await complete(path, method, item[method], answers, schemas);
  }
  doc.components.schemas = schemas;
  return doc;
}

let cached: Promise<string> | undefined;

/**
 * The document as JSON text. Routes are all added before the first request,
 * so it is built once per isolate (and again only after a failure).
 */
export function openApiJson(app: Hono<AppEnv>): Promise<string> {
  cached ??= buildOpenApiDocument(app).then(JSON.stringify, (err) => {
    cached = undefined;
    throw err;
  });
  return cached;
}
