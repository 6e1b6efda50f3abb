/**
 * Where SQS requests arrive and how SQS names a queue: the endpoint's paths,
 * queue URLs (`<origin>/<account id>/<queue>`) and queue ARNs
 * (`arn:aws:sqs:<region>:<account id>:<queue>`).
 */
import { QUEUE_NAME_PATTERN } from "../../client/protocol";
import { invalidParameter, SqsError } from "./errors";

/** The account id in every queue URL and ARN edgeq answers (edgeq has no accounts); any is accepted. */
export const ACCOUNT_ID = "000000000000";

/** The path of a queue URL: `/<12-digit account id>/<queue>`. */
const QUEUE_PATH = /^\/(\d{12})\/([^/]+)\/?$/;

/**
 * Whether a request is for the SQS endpoint: a POST to the origin or to a
 * queue URL. Every other route of edgeq keeps its own rules.
 */
export const isSqsPath = (method: string, path: string): boolean => method === "POST" && (path === "/" || QUEUE_PATH.test(path));

/** The queue a request's path names (query clients post to the queue URL), or null. */
export function queueOfPath(path: string): string | null {
  const m = QUEUE_PATH.exec(path);
  if (!m) return null;
  try {
    return decodeURIComponent(m[2]);
  } catch {
    return null;
  }
}

/** A queue name SQS would accept and edgeq can hold: 1 to 64 of [A-Za-z0-9_-], and `.fifo` for a FIFO queue. */
export const isQueueName = (name: string): boolean => QUEUE_NAME_PATTERN.test(name);

/** Whether a queue is FIFO: SQS says so by its name. */
export const isFifo = (name: string): boolean => name.endsWith(".fifo");

export const queueUrl = (origin: string, name: string): string => `${origin}/${ACCOUNT_ID}/${name}`;

export const queueArn = (region: string, name: string): string => `arn:aws:sqs:${region}:${ACCOUNT_ID}:${name}`;

/**
 * The queue a QueueUrl names: the last segment of a URL whose path is
 * `/<account>/<queue>` (any host and account: the SDKs send back the URL
 * edgeq gave them). A URL of no queue edgeq could hold does not exist.
 */
export function queueOfUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SqsError("InvalidAddress", `The address ${value.slice(0, 200)} is not valid for this endpoint.`);
  }
  const segments = url.pathname.split("/").filter(Boolean);
  if (segments.length !== 2) throw new SqsError("InvalidAddress", `The address ${value.slice(0, 200)} is not valid for this endpoint.`);
  let name: string;
  try {
    name = decodeURIComponent(segments[1]);
  } catch {
    name = "";
  }
  if (!isQueueName(name)) throw new SqsError("QueueDoesNotExist", "The specified queue does not exist.");
  return name;
}

/** The queue an ARN names (any region and account), or InvalidParameterValue for `parameter`. */
export function queueOfArn(value: string, parameter: string): string {
  const m = /^arn:aws[a-z-]*:sqs:[a-z0-9-]*:[0-9]*:(.+)$/.exec(value);
  if (!m || !isQueueName(m[1])) throw invalidParameter(parameter, `${value.slice(0, 200)} is not the ARN of a queue`);
  return m[1];
}
