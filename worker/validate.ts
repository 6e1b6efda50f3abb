import { validator } from "hono/validator";
import { z } from "zod";
import { ApiError } from "./errors";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** `messages[2].delayMs` from zod's path. */
function fieldName(path: readonly PropertyKey[]): string {
  let name = "";
  for (const key of path) name += typeof key === "number" ? `[${key}]` : name ? `.${String(key)}` : String(key);
  return name || "body";
}

/** The first issue, with the field it is about. */
export function describeIssues(error: z.ZodError): string {
  const issue = error.issues[0];
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : "";
  return `${fieldName(issue.path)}: ${issue.message}${more}`;
}

/**
 * Validates the JSON body with a zod schema. An empty body counts as `{}`
 * (so `POST .../receive` alone takes the defaults); a body that is not JSON
 * is refused, whatever its Content-Type says.
 */
export const jsonBody = <S extends z.ZodType>(schema: S) =>
  validator("json", async (parsed, c) => {
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
    const result = schema.safeParse(value);
    if (!result.success) throw new ApiError("INVALID_REQUEST", describeIssues(result.error));
    return result.data as z.output<S>;
  });

/** Validates the query string with a zod schema. */
export const queryParams = <S extends z.ZodType>(schema: S) =>
  validator("query", (value) => {
    const result = schema.safeParse(value);
    if (!result.success) throw new ApiError("INVALID_REQUEST", describeIssues(result.error));
    return result.data as z.output<S>;
  });
