import type { MiddlewareHandler } from "hono";
import { resolver, uniqueSymbol } from "hono-openapi";
import { validator } from "hono/validator";
import { z } from "zod";
import { LIMITS } from "../client/protocol";
import { ApiError } from "./errors";
import { documentedAs, jsonDepth, QUEUE_NAME_RULE, queueName, TOPIC_NAME_RULE, topicName } from "./schemas";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** `messages[2].delayMs` from zod's path; cut short, since keys come from the caller. */
function fieldName(path: readonly PropertyKey[]): string {
  let name = "";
  for (const key of path) name += typeof key === "number" ? `[${key}]` : name ? `.${String(key)}` : String(key);
  if (name.length > 100) name = `${name.slice(0, 100)}...`;
  return name || "request";
}

/**
 * Issues that say the request has the wrong shape (400 INVALID_REQUEST): a
 * wrong type, a missing or unknown field, none of a union's shapes. Every
 * other issue (too small, too big, a bad format, a custom check) says a value
 * is wrong in a request of the right shape (422 INVALID_VALUE).
 */
const SHAPE_ISSUES: ReadonlySet<string> = new Set(["invalid_type", "unrecognized_keys", "invalid_union"]);

type Issue = z.core.$ZodIssue;

/** A key of a record or an element of a set is judged by its own issues. */
const isShapeIssue = (issue: Issue): boolean =>
  issue.code === "invalid_key" || issue.code === "invalid_element"
    ? issue.issues.some(isShapeIssue)
    : SHAPE_ISSUES.has(issue.code);

/**
 * A field that is absent. zod does not report the input by default, so this
 * reads its message ("..., received undefined"); a union (a message `body`)
 * is absent when each of its options says so.
 */
function isMissing(issue: Issue): boolean {
  if (issue.code === "invalid_type") return /received undefined$/.test(issue.message);
  if (issue.code === "invalid_union") {
    return issue.errors.length > 0 && issue.errors.every((branch) => branch.some((i) => i.path.length === 0 && isMissing(i)));
  }
  return false;
}

function describe(issue: Issue, count: number): string {
  const more = count > 1 ? ` (and ${count - 1} more)` : "";
  let message = issue.message;
  if (isMissing(issue)) message = "required";
  if ((issue.code === "invalid_key" || issue.code === "invalid_element") && issue.issues[0]) {
    message = `${issue.code === "invalid_key" ? "key" : "element"}: ${issue.issues[0].message}`;
  }
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.map((k) => (k.length > 64 ? `${k.slice(0, 64)}...` : k));
    return `${fieldName(issue.path)}: unknown field${keys.length > 1 ? "s" : ""} ${keys.map((k) => `"${k}"`).join(", ")}${more}`;
  }
  return `${fieldName(issue.path)}: ${message}${more}`;
}

/** The first issue, with the field it is about. */
export function describeIssues(error: z.ZodError): string {
  return describe(error.issues[0], error.issues.length);
}

/**
 * The error for a failed validation: 400 INVALID_REQUEST when any issue is
 * about the shape (and the message names that field), else 422 INVALID_VALUE.
 */
export function validationError(error: z.ZodError): ApiError {
  const shape = error.issues.find(isShapeIssue);
  if (shape) return new ApiError("INVALID_REQUEST", describe(shape, error.issues.length));
  return new ApiError("INVALID_VALUE", describe(error.issues[0], error.issues.length));
}

/**
 * Validates `value` with `schema`. A hostile value nested deep enough to
 * exhaust the stack inside zod is refused as a value, never a 500.
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const limit = LIMITS.maxBodyDepth + 8; // a message body, inside {messages: [{body: ...}]}
  if (jsonDepth(value, limit) > limit) {
    throw new ApiError("INVALID_VALUE", `request: nested deeper than ${LIMITS.maxBodyDepth} levels`);
  }
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error);
  return result.data;
}

/**
 * Marks a validator middleware the way hono-openapi's own validator is
 * marked, so the OpenAPI document (worker/openapi/document.ts) takes the
 * request body or the query parameters from the very schema that checks
 * them. The mark is data on the function: it changes no validation.
 */
function described<M extends object>(middleware: M, target: "json" | "query", schema: z.ZodType): M {
  return Object.assign(middleware, { [uniqueSymbol]: { target, ...resolver(documentedAs.get(schema) ?? schema) } });
}

/**
 * Validates the JSON body with a zod schema. An empty body counts as `{}`
 * (so `POST .../receive` alone takes the defaults); a body that is not JSON
 * is refused, whatever its Content-Type says.
 */
export const jsonBody = <S extends z.ZodType>(schema: S) =>
  described(validator("json", async (parsed, c) => {
    const mediaType = (c.req.header("content-type") ?? "").split(";")[0].trim();
    let value: unknown = parsed;
    if (mediaType && !JSON_MEDIA_TYPE.test(mediaType)) {
      throw new ApiError("UNSUPPORTED_MEDIA_TYPE", `Content-Type must be application/json, got ${mediaType.slice(0, 100)}`);
    }
    if (!mediaType) {
      const text = await c.req.text();
      try {
        value = text.trim() === "" ? {} : JSON.parse(text);
      } catch {
        throw new ApiError("INVALID_JSON", "request body is not valid JSON");
      }
    }
    return validate(schema, value);
  }), "json", schema);

/** Validates the query string with a zod schema. */
export const queryParams = <S extends z.ZodType>(schema: S) =>
  described(validator("query", (value) => validate(schema, value)), "query", schema);

/**
 * A queue name from a path or an RPC argument. A malformed one names no
 * resource, so it is a malformed request (400 INVALID_REQUEST), not a bad value.
 */
export function checkQueueName(name: unknown): string {
  const result = queueName.safeParse(name);
  if (!result.success) throw new ApiError("INVALID_REQUEST", `queue: ${QUEUE_NAME_RULE}`);
  return result.data;
}

/** Checks the `:queue` path parameter once for every route under a queue. */
export const queueParam = (): MiddlewareHandler =>
  async function queueParam(c, next) {
    checkQueueName(c.req.param("queue"));
    await next();
  };

/** A topic name from a path or an RPC argument: as a queue name, 400 INVALID_REQUEST when malformed. */
export function checkTopicName(name: unknown): string {
  const result = topicName.safeParse(name);
  if (!result.success) throw new ApiError("INVALID_REQUEST", `topic: ${TOPIC_NAME_RULE}`);
  return result.data;
}

/** Checks the `:topic` path parameter once for every route under a topic. */
export const topicParam = (): MiddlewareHandler =>
  async function topicParam(c, next) {
    checkTopicName(c.req.param("topic"));
    await next();
  };
