/**
 * SQS's JSON protocol (AWS JSON 1.0, "query compatible"), which the AWS SDK
 * for JavaScript v3 (3.447 on), boto3 (1.28.82 on) and recent CLIs speak:
 * `Content-Type: application/x-amz-json-1.0`, `X-Amz-Target:
 * AmazonSQS.<Action>`, the action's members as a JSON object; answers are
 * JSON objects, errors `{__type, message}` with the Query code in
 * `x-amzn-query-error` (`<code>;Sender`), which the SDKs map to their
 * exception classes.
 */
import { SqsError } from "./errors";
import type { Input } from "./input";

export const JSON_MEDIA_TYPE = "application/x-amz-json-1.0";

/** Whether a request speaks the JSON protocol (the Query protocol's is a form). */
export const isJsonRequest = (headers: Headers): boolean =>
  (headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase() === JSON_MEDIA_TYPE || headers.has("x-amz-target");

/** The action and its members. */
export function parseJsonRequest(headers: Headers, body: string): { action: string; input: Input } {
  const target = headers.get("x-amz-target") ?? "";
  const m = /^AmazonSQS\.([A-Za-z]{1,64})$/.exec(target);
  if (!m) throw new SqsError("InvalidAction", "X-Amz-Target must be AmazonSQS.<Action>");
  let input: unknown = {};
  if (body.trim() !== "") {
    try {
      input = JSON.parse(body);
    } catch {
      throw new SqsError("SerializationException", "the request body is not valid JSON");
    }
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new SqsError("SerializationException", "the request body must be a JSON object");
  }
  return { action: m[1], input: input as Input };
}

/** An action's answer; `result` null for the actions that answer nothing (an empty object). */
export function jsonAnswer(result: object | null, requestId: string): Response {
  return new Response(JSON.stringify(result ?? {}), {
    status: 200,
    headers: { "content-type": JSON_MEDIA_TYPE, "x-amzn-requestid": requestId },
  });
}

/** An error's body (`__type` names it as SQS's model does). */
export const jsonErrorBody = (err: SqsError): string => JSON.stringify({ __type: `com.amazonaws.sqs#${err.errorName}`, message: err.message });

export function jsonError(err: SqsError, requestId: string): Response {
  return new Response(jsonErrorBody(err), {
    status: err.status,
    headers: {
      "content-type": JSON_MEDIA_TYPE,
      "x-amzn-requestid": requestId,
      "x-amzn-query-error": `${err.code};${err.fault}`,
    },
  });
}
