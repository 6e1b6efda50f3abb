/**
 * Hostile input to the SQS endpoint, property-based, in both protocols:
 * requests whose signature must not pass (none, an unknown key, a wrong
 * secret, a stale date, a body changed after signing) around inputs that
 * would otherwise change state, and correctly signed requests that are
 * each invalid by construction (one parameter made wrong, an action that
 * does not exist, a body that is no JSON or no form). Every answer must be
 * an error of the closed set (worker/sqs/errors.ts) with that error's
 * status, in the request's protocol, or a batch answer whose every entry
 * failed; and nothing may change: the fixture queue (one message in each
 * state) down to its rows, and the registry's queues.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { AwsV4Signer } from "aws4fetch";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { LIMITS, RECEIPT_PATTERN } from "../client/protocol";
import { SQS_ERRORS } from "../worker/sqs/errors";
import { BASE, partition, receive, send, settle, uniqueQueue } from "./helpers";

const RUNS = 600;
/** Replays a run: FUZZ_SEED=<seed printed by a failure> npx vitest run test/sqs-fuzz.test.ts */
const FUZZ_SEED = Number((globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

/** The key bound in vitest.config.ts. */
const KEY = { accessKeyId: "AKIDFUZZ", secretAccessKey: "fuzz-secret" };

const fixture = uniqueQueue("sqsfuzz");
const Q = `${BASE}/000000000000/${fixture}`;
const ABSENT = `${BASE}/000000000000/${uniqueQueue("absent")}`;
const arn = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

type Input = Record<string, unknown>;
interface Req {
  protocol: "json" | "query";
  action: string;
  input: Input;
  /** How the request is broken on the way: unsigned, signed wrong, changed after signing. Null: signed right. */
  auth: null | "unsigned" | "unknown-key" | "wrong-secret" | "stale" | "tampered" | "bearer";
  /** A body sent as it is instead of the input (not JSON, not a form, not UTF-8). */
  rawBody?: string | Uint8Array;
}

// ---- generators -------------------------------------------------------------

const notReceipt = fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom("0.1.short", "1.2", "")).filter((s) => !RECEIPT_PATTERN.test(s));
const badInt = (min: number, max: number) =>
  fc.oneof(
    fc.integer({ min: -1e6, max: min - 1 }),
    fc.integer({ min: max + 1, max: 2 ** 40 }),
    fc.constantFrom<unknown>(1.5, "x", "", true, [], {}, "1e3", -0.5),
  );
const word = fc.string({ minLength: 1, maxLength: 12 });
const badQueueUrl = fc.oneof(fc.constant(ABSENT), fc.string({ maxLength: 30 }), fc.constantFrom(`${BASE}/x`, `${BASE}/000000000000/a b`, `${BASE}/1/2/3`, "http://"));

/** A message attribute map with one thing wrong. */
const badAttributes = fc.oneof(
  fc.constant(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: "String", StringValue: "v" }]))),
  fc.constantFrom<unknown>(
    { "AWS.name": { DataType: "String", StringValue: "v" } },
    { "a..b": { DataType: "String", StringValue: "v" } },
    { ok: { DataType: "Strange", StringValue: "v" } },
    { ok: { DataType: "Number", StringValue: "12abc" } },
    { ok: { DataType: "Binary", BinaryValue: "not base64!" } },
    { ok: { DataType: "String", StringValue: "" } },
    { ok: { DataType: "String" } },
    { ok: "not a structure" },
    ["a", "list"],
    "text",
  ),
);

/** SendMessage's members with exactly one made wrong. */
const badSend = fc.oneof(
  fc.record({ QueueUrl: fc.constant(Q) }),
  fc.record({ QueueUrl: fc.constant(Q), MessageBody: fc.constantFrom<unknown>("", 5, null, ["x"], "bad \u0000 char", "lone \ud800 surrogate") }),
  fc.record({ QueueUrl: fc.constant(Q), MessageBody: word, DelaySeconds: badInt(0, 900) }),
  fc.record({ QueueUrl: fc.constant(Q), MessageBody: word, MessageAttributes: badAttributes }),
  fc.record({ QueueUrl: fc.constant(Q), MessageBody: word, MessageDeduplicationId: word }),
  fc.record({ QueueUrl: fc.constant(Q), MessageBody: word, MessageSystemAttributes: fc.constantFrom<unknown>({ Other: { DataType: "String", StringValue: "x" } }, { AWSTraceHeader: { DataType: "Number", StringValue: "1" } }) }),
  fc.record({ QueueUrl: badQueueUrl, MessageBody: word }),
  fc.record({ MessageBody: word }),
);

/** Batch entries that are all wrong, or a batch that is wrong as a whole. */
const badEntries = (good: Input, broken: fc.Arbitrary<Input>) =>
  fc.oneof(
    fc.constant([]),
    fc.constant(Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, ...good }))),
    fc.constant([{ Id: "same", ...good }, { Id: "same", ...good }]),
    fc.constantFrom("has space", "", "x".repeat(81), "é").map((Id) => [{ Id, ...good }]),
    fc.constant([{ ...good }]),
    fc.constantFrom<unknown>("entries", 5, {}),
    fc.array(broken, { minLength: 1, maxLength: 4 }).map((list) => list.map((e, i) => ({ ...e, Id: `b${i}` }))),
  );

/** A batch entry with one thing wrong: a broken send whose fault is not its QueueUrl (a batch entry has none). */
const brokenMessageEntry = badSend
  .filter((e: Input) => e.QueueUrl === Q && e.MessageBody !== undefined)
  .map((e: Input): Input => Object.fromEntries(Object.entries(e).filter(([k]) => k !== "QueueUrl")));
const brokenReceiptEntry = fc.oneof(notReceipt.map((r) => ({ ReceiptHandle: r })), fc.constant({}));

const signedRight: fc.Arbitrary<{ action: string; input: Input }> = fc.oneof(
  badSend.map((input) => ({ action: "SendMessage", input })),
  badEntries({ MessageBody: "ok" }, brokenMessageEntry).map((Entries) => ({ action: "SendMessageBatch", input: { QueueUrl: Q, Entries } })),
  fc.oneof(
    badInt(1, 10).map((v) => ({ QueueUrl: Q, MaxNumberOfMessages: v })),
    badInt(0, 20).map((v) => ({ QueueUrl: Q, WaitTimeSeconds: v })),
    badInt(0, 43_200).map((v) => ({ QueueUrl: Q, VisibilityTimeout: v })),
    fc.constantFrom<unknown>(["Bogus"], "All", [1]).map((v) => ({ QueueUrl: Q, AttributeNames: v })),
    badQueueUrl.map((u) => ({ QueueUrl: u })),
  ).map((input) => ({ action: "ReceiveMessage", input })),
  fc.oneof(notReceipt.map((r) => ({ QueueUrl: Q, ReceiptHandle: r })), fc.constant({ QueueUrl: Q })).map((input) => ({ action: "DeleteMessage", input })),
  fc.oneof(
    notReceipt.map((r) => ({ QueueUrl: Q, ReceiptHandle: r, VisibilityTimeout: 5 })),
    badInt(0, 43_200).map((v) => ({ QueueUrl: Q, ReceiptHandle: "0.1.aaaaaaaaaaaaaaaaaaaa", VisibilityTimeout: v })),
  ).map((input) => ({ action: "ChangeMessageVisibility", input })),
  badEntries({ ReceiptHandle: "nope" }, brokenReceiptEntry).map((Entries) => ({ action: "DeleteMessageBatch", input: { QueueUrl: Q, Entries } })),
  badEntries({ ReceiptHandle: "nope", VisibilityTimeout: 1 }, brokenReceiptEntry).map((Entries) => ({ action: "ChangeMessageVisibilityBatch", input: { QueueUrl: Q, Entries } })),
  fc.oneof(
    fc.constantFrom("", "a b", "x".repeat(65), "x.fifo.fifo", "é", ".fifo").map((QueueName) => ({ QueueName })),
    fc.constantFrom<unknown>({ Nope: "1" }, { QueueArn: "x" }, { VisibilityTimeout: "-1" }, { FifoQueue: "true" }, { Policy: "{}" }, { RedrivePolicy: "{" }, "attrs")
      .map((Attributes) => ({ QueueName: uniqueQueue("never"), Attributes })),
    fc.constant({ QueueName: uniqueQueue("never"), Tags: { team: "x" } }),
  ).map((input) => ({ action: "CreateQueue", input })),
  fc.oneof(badQueueUrl.map((u) => ({ QueueUrl: u })), fc.constant({})).map((input) => ({ action: "DeleteQueue", input })),
  fc.oneof(badQueueUrl.map((u) => ({ QueueUrl: u })), fc.constant({})).map((input) => ({ action: "PurgeQueue", input })),
  fc.constantFrom<Input>({ QueueName: uniqueQueue("absent") }, { QueueName: "a b" }, {}).map((input) => ({ action: "GetQueueUrl", input })),
  fc.oneof(badInt(1, 1000).map((v) => ({ MaxResults: v })), fc.constant({ NextToken: "x" }), fc.constant({ MaxResults: 5, NextToken: "!!" })).map((input) => ({ action: "ListQueues", input })),
  fc.constantFrom<unknown>(["Nope"], ["All", "X"], "All").map((AttributeNames) => ({ action: "GetQueueAttributes", input: { QueueUrl: Q, AttributeNames } })),
  fc.oneof(
    fc.constantFrom<unknown>({ Nope: "1" }, { QueueArn: "x" }, { FifoQueue: "false" }, { VisibilityTimeout: "43201" }, { MessageRetentionPeriod: "59" }, { KmsMasterKeyId: "k" }, { ContentBasedDeduplication: "true" }, { DelaySeconds: "1", Bogus: "2" }, 5)
      .map((Attributes) => ({ QueueUrl: Q, Attributes })),
    fc.constant({ QueueUrl: Q, Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn(uniqueQueue("absent")), maxReceiveCount: 3 }) } }),
    fc.constant({ QueueUrl: Q }),
  ).map((input) => ({ action: "SetQueueAttributes", input })),
  fc.oneof(badQueueUrl.map((u) => ({ QueueUrl: u })), badInt(1, 1000).map((v) => ({ QueueUrl: Q, MaxResults: v }))).map((input) => ({ action: "ListDeadLetterSourceQueues", input })),
  fc.oneof(
    fc.constantFrom<Input>({ SourceArn: arn(fixture) }, { SourceArn: arn(uniqueQueue("absent")) }, { SourceArn: "arn" }, {}),
    badInt(1, 500).map((v) => ({ SourceArn: arn(fixture), MaxNumberOfMessagesPerSecond: v })),
  ).map((input) => ({ action: "StartMessageMoveTask", input })),
  fc.oneof(badInt(1, 10).map((v) => ({ SourceArn: arn(fixture), MaxResults: v })), fc.constant({ SourceArn: "x" })).map((input) => ({ action: "ListMessageMoveTasks", input })),
  fc.oneof(word, fc.constant(btoa(JSON.stringify({ taskId: "t", sourceArn: arn(fixture) })))).map((TaskHandle) => ({ action: "CancelMessageMoveTask", input: { TaskHandle } })),
  fc.oneof(fc.constantFrom("TagQueue", "AddPermission", "ListQueueTags", "constructor", "__proto__", "toString"), word.filter((w) => /^[A-Za-z]+$/.test(w)))
    .map((action) => ({ action, input: { QueueUrl: Q } })),
);

/** Inputs that would change state if they were let through: the auth must stop them. */
const wouldChange = fc.constantFrom<{ action: string; input: Input }>(
  { action: "SendMessage", input: { QueueUrl: Q, MessageBody: "let in" } },
  { action: "ReceiveMessage", input: { QueueUrl: Q, MaxNumberOfMessages: 10 } },
  { action: "PurgeQueue", input: { QueueUrl: Q } },
  { action: "DeleteQueue", input: { QueueUrl: Q } },
  { action: "SetQueueAttributes", input: { QueueUrl: Q, Attributes: { VisibilityTimeout: "7" } } },
  { action: "CreateQueue", input: { QueueName: uniqueQueue("never") } },
);

const protocol = fc.constantFrom<"json" | "query">("json", "query");

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Parameters that are numbers: a wrong number stays wrong as its digits. */
const NUMERIC = new Set(["DelaySeconds", "MaxNumberOfMessages", "WaitTimeSeconds", "VisibilityTimeout", "MaxResults", "MaxNumberOfMessagesPerSecond"]);
/** Text a form carries as it is: a lone surrogate would go as U+FFFD, which is valid. */
const wellFormed = (v: unknown) => typeof v === "string" && !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v);

/**
 * Whether a form keeps what is wrong with an input. A form has only text:
 * a wrong number stays wrong as its digits, but a number or a JSON list
 * where text belongs turns into some valid text, and a map or list of the
 * wrong kind into a parameter nobody reads (see toForm); those go in JSON only.
 */
function formSafe(input: Input): boolean {
  return Object.entries(input).every(([key, value]) => {
    if (key in MAP_KEYS) return isPlain(value) && Object.values(value).every((v) => wellFormed(v) || (isPlain(v) && Object.values(v).every(wellFormed)));
    if (key in LIST_KEYS) return Array.isArray(value) && value.every(wellFormed);
    if (key === "Entries") return Array.isArray(value) && value.every((e) => isPlain(e) && formSafe(e));
    return wellFormed(value) || (NUMERIC.has(key) && typeof value === "number");
  });
}

const hostile = fc.oneof(
  {
    arbitrary: fc
      .tuple(signedRight, protocol)
      .filter(([r, p]) => p === "json" || formSafe(r.input))
      .map(([r, p]): Req => ({ ...r, protocol: p, auth: null })),
    weight: 6,
  },
  {
    arbitrary: fc
      .tuple(fc.oneof(wouldChange, signedRight), protocol, fc.constantFrom<Req["auth"]>("unsigned", "unknown-key", "wrong-secret", "stale", "tampered", "bearer"))
      .map(([r, p, auth]): Req => ({ ...r, protocol: p, auth })),
    weight: 3,
  },
  {
    arbitrary: fc
      .tuple(
        fc.oneof(
          fc.constantFrom("{", "[1]", "null", '"text"', "{'a':1}", "1 2"),
          fc.uint8Array({ minLength: 1, maxLength: 16 }).map((b) => new Uint8Array([0xff, 0xfe, ...b])),
        ),
      )
      .map(([rawBody]): Req => ({ protocol: "json", action: "SendMessage", input: {}, auth: null, rawBody })),
    weight: 1,
  },
  {
    arbitrary: fc
      .constantFrom(
        "Action=SendMessage&a..b=1",
        "Action=SendMessage&Attribute.1=x&Attribute.1.Name=y",
        "Action=CreateQueue&QueueName=never-x&Attribute.x.Name=a&Attribute.x.Value=b",
        "Action=ReceiveMessage&AttributeName.1.a=b",
        "Version=2012-11-05",
        "Action=Send%20Message",
        "Action=SendMessage&Action=ReceiveMessage",
        "Action=GetQueueUrl&QueueName=a.b.c.d.e.f.g.h",
        "Action=ListQueues&" + Array.from({ length: 1001 }, (_, i) => `k${i}=v`).join("&"),
      )
      .map((rawBody): Req => ({ protocol: "query", action: "", input: {}, auth: null, rawBody })),
    weight: 1,
  },
).map((req) =>
  Object.assign(req, {
    [fc.toStringMethod]: () => `${req.protocol} ${req.action} auth=${req.auth} ${JSON.stringify(req.input).slice(0, 300)} raw=${String(req.rawBody ?? "").slice(0, 80)}`,
  }),
);

// ---- sending ----------------------------------------------------------------

const ENTRY_PREFIX: Record<string, string> = {
  SendMessageBatch: "SendMessageBatchRequestEntry",
  DeleteMessageBatch: "DeleteMessageBatchRequestEntry",
  ChangeMessageVisibilityBatch: "ChangeMessageVisibilityBatchRequestEntry",
};
const MAP_KEYS: Record<string, string> = { Attributes: "Attribute", MessageAttributes: "MessageAttribute", MessageSystemAttributes: "MessageSystemAttribute", Tags: "Tag" };
const LIST_KEYS: Record<string, string> = { AttributeNames: "AttributeName", MessageAttributeNames: "MessageAttributeName" };

/** Members as a Query form, flattened as SQS's model says; a value of the wrong kind goes as its JSON. */
function toForm(action: string, input: Input, form = new URLSearchParams([["Action", action]]), prefix = ""): URLSearchParams {
  const put = (k: string, v: unknown) => form.append(`${prefix}${k}`, typeof v === "string" ? v : JSON.stringify(v));
  for (const [key, value] of Object.entries(input)) {
    if (key in MAP_KEYS && typeof value === "object" && value !== null && !Array.isArray(value)) {
      Object.entries(value).forEach(([name, v], i) => {
        put(`${MAP_KEYS[key]}.${i + 1}.${key === "Tags" ? "Key" : "Name"}`, name);
        if (typeof v === "object" && v !== null && !Array.isArray(v)) for (const [f, fv] of Object.entries(v)) put(`${MAP_KEYS[key]}.${i + 1}.Value.${f}`, fv);
        else put(`${MAP_KEYS[key]}.${i + 1}.Value`, v);
      });
    } else if (key in LIST_KEYS && Array.isArray(value)) {
      value.forEach((v, i) => put(`${LIST_KEYS[key]}.${i + 1}`, v));
    } else if (key === "Entries" && Array.isArray(value)) {
      // An empty list of entries is no parameter at all in a form: SQS then says the entries are missing.
      value.forEach((entry, i) => toForm(action, entry as Input, form, `${prefix}${ENTRY_PREFIX[action]}.${i + 1}.`).delete("Action"));
      if (value.length === 0) form.append(`${prefix}${ENTRY_PREFIX[action]}`, "");
    } else if (value !== undefined && value !== null) {
      put(key, value);
    }
  }
  return form;
}

async function sendRaw(req: Req): Promise<Response> {
  const headers: Record<string, string> =
    req.protocol === "json"
      ? { "content-type": "application/x-amz-json-1.0", "x-amz-target": `AmazonSQS.${req.action}` }
      : { "content-type": "application/x-www-form-urlencoded" };
  const body = req.rawBody ?? (req.protocol === "json" ? JSON.stringify(req.input) : toForm(req.action, req.input).toString());
  if (req.auth === "unsigned") return SELF.fetch(`${BASE}/`, { method: "POST", headers, body });
  if (req.auth === "bearer") return SELF.fetch(`${BASE}/`, { method: "POST", headers: { ...headers, authorization: "Bearer test-admin-token" }, body });
  const key =
    req.auth === "unknown-key" ? { ...KEY, accessKeyId: "AKIDOTHER" } : req.auth === "wrong-secret" ? { ...KEY, secretAccessKey: "guessed" } : KEY;
  const datetime = new Date(Date.now() - (req.auth === "stale" ? 20 * 60_000 : 0)).toISOString().replace(/[:-]|\.\d{3}/g, "");
  const signer = new AwsV4Signer({ url: `${BASE}/`, method: "POST", headers, body, service: "sqs", region: "us-east-1", datetime, ...key });
  const signed = await signer.sign();
  const sent = req.auth === "tampered" ? (typeof body === "string" ? `${body} ` : new Uint8Array([...body, 0x20])) : body;
  return SELF.fetch(signed.url, { method: "POST", headers: signed.headers, body: sent });
}

const CODES = new Map<string, { name: string; status: number }>(Object.entries(SQS_ERRORS).map(([name, { code, status }]) => [code, { name, status }]));

/** The answer's error, checked against the closed set: its name, or null for a batch whose entries all failed. */
function checkAnswer(req: Req, status: number, text: string, label: string): string | null {
  if (status === 200) {
    // Only a batch may answer 200 here, and only with every entry failed.
    const answer = req.protocol === "json" ? (JSON.parse(text) as { Successful: unknown[]; Failed: { Code: string }[] }) : null;
    expect(req.action, label).toMatch(/Batch$/);
    if (answer) {
      expect(answer.Successful, label).toEqual([]);
      for (const f of answer.Failed) expect(CODES.has(f.Code), label).toBe(true);
    } else {
      expect(text, label).not.toMatch(/ResultEntry>/);
      for (const [, code] of text.matchAll(/<Code>([^<]*)<\/Code>/g)) expect(CODES.has(code), label).toBe(true);
    }
    return null;
  }
  if (req.protocol === "json") {
    const error = JSON.parse(text) as { __type: string; message: string };
    const name = error.__type.replace("com.amazonaws.sqs#", "") as keyof typeof SQS_ERRORS;
    expect(Object.keys(SQS_ERRORS), label).toContain(name);
    expect(SQS_ERRORS[name].status, label).toBe(status);
    return name;
  }
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? "";
  expect(CODES.has(code), label).toBe(true);
  expect(CODES.get(code)!.status, label).toBe(status);
  return CODES.get(code)!.name;
}

// ---- state ------------------------------------------------------------------

const snapshot = async () => {
  const rows = await runInDurableObject(partition(fixture), (_, state) => {
    const all = (table: string, order: string) => state.storage.sql.exec(`SELECT * FROM ${table} ORDER BY ${order}`).toArray();
    return { messages: all("messages", "seq"), deadLetters: all("dead_letters", "dl_seq"), dedup: all("dedup", "dedup_id"), moveTasks: all("move_tasks", "task_id") };
  });
  const queues = await env.QUEUE_REGISTRY.get(env.QUEUE_REGISTRY.idFromName("registry")).list();
  return JSON.stringify({ rows, queues });
};

describe("hostile input to the SQS endpoint", () => {
  beforeAll(async () => {
    // One message in each state: dead letter, leased, delayed, ready.
    await send(fixture, { body: "dead" });
    for (let attempt = 0; attempt < 5; attempt++) {
      const [m] = await receive(fixture);
      await settle(fixture, "nack", { receipts: [m.receipt], delayMs: 0, error: "fixture" });
    }
    await send(fixture, { body: "leased" });
    await receive(fixture, { visibilityTimeoutMs: LIMITS.maxVisibilityTimeoutMs });
    await send(fixture, { messages: [{ body: "delayed", delayMs: LIMITS.maxDelayMs }, { body: "ready", attributes: { k: "v" } }] });
  });

  it(`answers ${RUNS} hostile requests with errors of the closed set, and changes nothing`, async () => {
    const before = await snapshot();
    const seen = new Set<string>();
    let ran = 0;
    await fc.assert(
      fc.asyncProperty(hostile, async (req) => {
        ran++;
        const res = await sendRaw(req);
        const text = await res.text();
        const label = `${req.protocol} ${req.action} auth=${req.auth} -> ${res.status} ${text.slice(0, 300)}`;
        const name = checkAnswer(req, res.status, text, label);
        if (name) seen.add(name);
        if (req.auth !== null) expect(["InvalidClientTokenId", "SignatureDoesNotMatch"], label).toContain(name);
        if (ran % 100 === 0) expect(await snapshot(), `state after ${label}`).toBe(before);
      }),
      { numRuns: RUNS, seed: FUZZ_SEED, verbose: 1 },
    );
    expect(await snapshot()).toBe(before);
    // The run met the errors of every layer: auth, protocol, parameters, queues.
    for (const name of ["SignatureDoesNotMatch", "InvalidClientTokenId", "InvalidAction", "InvalidParameterValue", "QueueDoesNotExist", "MissingParameter"]) {
      expect(seen, name).toContain(name);
    }
  }, 120_000);

  it("refuses a body over the limit before reading it all, whatever Content-Length says", async () => {
    let chunks = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (chunks++ >= 80) return controller.close();
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x61));
      },
    });
    const res = await SELF.fetch(`${BASE}/`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: stream });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain("<Code>RequestEntityTooLarge</Code>");
  });
});
