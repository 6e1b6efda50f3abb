/**
 * What an SQS action gets: its parameters, who signed the request, where
 * the request came in (for queue URLs and ARNs), and the request's life
 * (its signal and waitUntil, for long-polls).
 */
import type { Scope } from "../../client/protocol";
import type { Secrets } from "../types";
import { SqsError } from "./errors";
import { text, type Input } from "./input";
import { mayUse, type SqsPrincipal } from "./keys";
import { queueOfUrl } from "./queue-url";

export interface ActionContext {
  env: Env & Secrets;
  input: Input;
  principal: SqsPrincipal;
  /** The origin the request came to: queue URLs are made from it. */
  origin: string;
  /** The region of the request's credential scope: ARNs name it. */
  region: string;
  /** The queue the request's path names (the Query protocol posts to the queue URL), or null. */
  pathQueue: string | null;
  /** The request's protocol: answers that an action writes itself (a long-poll's) are in it. */
  protocol: "json" | "query";
  /** The request's id, in every answer. */
  requestId: string;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  waitUntil: (promise: Promise<unknown>) => void;
}

/**
 * An action: its result (null for one that answers nothing), written in the
 * request's protocol by the endpoint; or an answer it wrote itself (a
 * long-poll, which may stream); or a thrown SqsError.
 */
export type Action = (ctx: ActionContext) => Promise<object | null | Response>;

/** The queue an action is about: its QueueUrl, or the queue URL the request was posted to. */
export function targetQueue(ctx: ActionContext): string {
  if (ctx.pathQueue === null) return queueOfUrl(text(ctx.input, "QueueUrl", true));
  const url = text(ctx.input, "QueueUrl");
  return url === undefined ? ctx.pathQueue : queueOfUrl(url);
}

/** Refuses the action unless the request's key has `scope` on `queue` (null: on every queue). */
export function allow(ctx: ActionContext, scope: Scope, queue: string | null): void {
  if (mayUse(ctx.principal, scope, queue)) return;
  const what = queue === null ? "every queue ('*')" : `queue ${queue}`;
  throw new SqsError("AccessDenied", `access key ${ctx.principal.accessKeyId} may not ${scope} on ${what}`);
}
