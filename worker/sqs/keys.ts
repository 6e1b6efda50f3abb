/**
 * The SQS endpoint's access keys, from the secret EDGEQ_SQS_KEYS:
 *
 *     accessKeyId:secret[:scopes:queues][,accessKeyId:secret[:scopes:queues]...]
 *
 * A key with only `accessKeyId:secret` may do everything the SQS endpoint
 * offers. `scopes` and `queues` limit a key as a scoped token is limited:
 * scopes (`publish`, `consume`, `manage`) and queue grants (names, or a
 * prefix ending in `*`), each joined by `+`, e.g.
 * `AKIDORDERS:s3cr3t:publish+consume:orders-*+jobs.fifo`. Access key ids and
 * secrets may hold neither `:` nor `,`; spaces around entries are ignored.
 */
import { QUEUE_GRANT_PATTERN, SCOPES, type Scope } from "../../client/protocol";
import { coversQueue } from "../auth/access";

/** Who signed an SQS request: an access key and what it may do. */
export interface SqsPrincipal {
  accessKeyId: string;
  scopes: readonly Scope[];
  /** Queue grants, as a token's: `*` is every queue. */
  queues: readonly string[];
}

export interface SqsKey extends SqsPrincipal {
  secret: string;
}

/** The keys of one value of EDGEQ_SQS_KEYS, or why it is not valid (the message names the entry, never a secret). */
export type SqsKeys = { ok: true; keys: Map<string, SqsKey> } | { ok: false; problem: string };

const ACCESS_KEY_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/** Parses EDGEQ_SQS_KEYS. */
export function parseSqsKeys(source: string): SqsKeys {
  const keys = new Map<string, SqsKey>();
  const entries = source.split(",").map((e) => e.trim()).filter(Boolean);
  for (const [index, entry] of entries.entries()) {
    const problem = (why: string) => ({ ok: false as const, problem: `EDGEQ_SQS_KEYS entry ${index + 1}: ${why}` });
    const parts = entry.split(":");
    if (parts.length !== 2 && parts.length !== 4) return problem("must be accessKeyId:secret or accessKeyId:secret:scopes:queues");
    const [accessKeyId, secret, scopeList, queueList] = parts;
    if (!ACCESS_KEY_ID.test(accessKeyId)) return problem("the access key id must be 1 to 128 of [A-Za-z0-9_.-]");
    if (secret.length === 0) return problem("the secret is empty");
    if (keys.has(accessKeyId)) return problem(`access key id ${accessKeyId} is listed twice`);
    let scopes: readonly Scope[] = SCOPES;
    let queues: readonly string[] = ["*"];
    if (scopeList !== undefined) {
      const named = scopeList.split("+");
      if (!named.every((s): s is Scope => (SCOPES as readonly string[]).includes(s))) {
        return problem(`scopes are ${SCOPES.join(", ")}, joined by '+'`);
      }
      scopes = [...new Set(named)];
      queues = queueList.split("+");
      if (!queues.every((q) => QUEUE_GRANT_PATTERN.test(q))) return problem("queues are queue names or prefixes ending in '*', joined by '+'");
    }
    keys.set(accessKeyId, { accessKeyId, secret, scopes, queues });
  }
  if (keys.size === 0) return { ok: false, problem: "EDGEQ_SQS_KEYS is not set: every SQS request is refused" };
  return { ok: true, keys };
}

/** The keys of the current value, parsed once per distinct value in this isolate. */
let parsed: { source: string; keys: SqsKeys } | undefined;
export function sqsKeys(source: string | undefined): SqsKeys {
  const value = source ?? "";
  if (parsed?.source !== value) parsed = { source: value, keys: parseSqsKeys(value) };
  return parsed.keys;
}

/** Whether the key may use `scope` on `queue` (null: on every queue, which only `*` covers). */
export const mayUse = (principal: SqsPrincipal, scope: Scope, queue: string | null): boolean =>
  principal.scopes.includes(scope) && coversQueue(principal.queues, queue);
