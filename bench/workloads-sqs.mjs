// Q1: the SQS endpoint beside the v1 API on the same server, same queue kind,
// same message size: what SigV4 verification, the protocol and the checksums
// cost. Each SQS request is signed here (aws4fetch, as a client would), so
// the client's signing is in the figures too (with its signing key cached,
// as the SDKs cache it). Rows:
//   - SendMessage (one message) at c32, and the v1 enqueue of one at c32;
//   - SendMessageBatch of 10 at c8, and the v1 enqueue of a batch of 10 at c8;
//   - ReceiveMessage (10) + DeleteMessageBatch at c8 on a filled queue, and
//     the v1 receive (10) + ack at c8.
import { AwsV4Signer } from "aws4fetch";
import { closedLoop, request } from "./http.mjs";
import { api } from "./harness.mjs";

/** The key bench/server.mjs binds. */
const KEY = { accessKeyId: "AKIDBENCH", secretAccessKey: "bench-sqs-secret" };
const NOTE = "x".repeat(48);
let counter = 0;
const fresh = (prefix) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
const body = (n) => JSON.stringify({ n, sku: "sku-000-000", qty: 1, note: NOTE });

function ok(res, status, what) {
  if (res.status !== status) throw new Error(`${what} answered ${res.status}: ${res.text.slice(0, 200)}`);
  return res.text ? JSON.parse(res.text) : null;
}

/** The client's signing keys, kept as the AWS SDKs keep them (one per day and region). */
const signingKeys = new Map();

/** An SQS JSON-protocol call, signed. */
async function sqs(server, action, input) {
  const url = `${server.url}/`;
  const headers = { "content-type": "application/x-amz-json-1.0", "x-amz-target": `AmazonSQS.${action}` };
  const payload = JSON.stringify(input);
  const signed = await new AwsV4Signer({ url, method: "POST", headers, body: payload, service: "sqs", region: "us-east-1", cache: signingKeys, ...KEY }).sign();
  return request("POST", url, { body: payload, headers: Object.fromEntries(signed.headers), timeoutMs: 60_000 });
}

const queueUrl = (server, name) => `${server.url}/000000000000/${name}`;

async function sqsQueue(server, prefix) {
  const name = fresh(prefix);
  ok(await sqs(server, "CreateQueue", { QueueName: name }), 200, "CreateQueue");
  return name;
}

const rate = (workload, kase, r, note) => ({ workload, case: kase, value: r.perSec, unit: "msg/s", p50: r.p50, p99: r.p99, note: `${r.units} messages in ${r.seconds.toFixed(1)} s${note ? `; ${note}` : ""}` });

async function sends(server, T, { concurrency, size }) {
  const s = await sqsQueue(server, "s1s");
  const v = await sqsQueue(server, "s1v");
  let n = 0;
  const loop = (step) => closedLoop({ concurrency, durationMs: 5000 * T, warmupMs: 300, step });
  const viaSqs = await loop(async () => {
    if (size === 1) ok(await sqs(server, "SendMessage", { QueueUrl: queueUrl(server, s), MessageBody: body(n++) }), 200, "SendMessage");
    else {
      const Entries = Array.from({ length: size }, (_, i) => ({ Id: `e${i}`, MessageBody: body(n++) }));
      const answer = ok(await sqs(server, "SendMessageBatch", { QueueUrl: queueUrl(server, s), Entries }), 200, "SendMessageBatch");
      if (answer.Failed.length > 0) throw new Error(`SendMessageBatch failed entries: ${JSON.stringify(answer.Failed[0])}`);
    }
    return size;
  });
  const viaV1 = await loop(async () => {
    const messages = Array.from({ length: size }, () => ({ body: JSON.parse(body(n++)) }));
    ok(await api(server).send(v, size === 1 ? messages[0] : { messages }), 201, "enqueue");
    return size;
  });
  const what = size === 1 ? "single" : `batch ${size}`;
  return [
    rate("Q1", `SendMessage ${what}, c${concurrency}`, viaSqs, `v1 enqueue beside it: ${Math.round(viaV1.perSec)} msg/s (ratio ${(viaSqs.perSec / viaV1.perSec).toFixed(2)})`),
    rate("Q1", `v1 enqueue ${what}, c${concurrency}`, viaV1),
  ];
}

/** Fills a queue with `total` messages through the v1 API (batches of 100). */
async function fill(server, queue, total) {
  for (let i = 0; i < total; i += 100) {
    ok(await api(server).send(queue, { messages: Array.from({ length: Math.min(100, total - i) }, (_, j) => ({ body: JSON.parse(body(i + j)) })) }), 201, "fill");
  }
}

async function consumes(server, T, { concurrency }) {
  const total = Math.round(20_000 * T);
  const s = await sqsQueue(server, "s1c");
  const v = await sqsQueue(server, "s1d");
  await fill(server, s, total);
  await fill(server, v, total);
  const loop = (step) => closedLoop({ concurrency, durationMs: 5000 * T, step });
  const viaSqs = await loop(async () => {
    const { Messages = [] } = ok(await sqs(server, "ReceiveMessage", { QueueUrl: queueUrl(server, s), MaxNumberOfMessages: 10 }), 200, "ReceiveMessage");
    if (Messages.length === 0) return 0;
    const Entries = Messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle }));
    ok(await sqs(server, "DeleteMessageBatch", { QueueUrl: queueUrl(server, s), Entries }), 200, "DeleteMessageBatch");
    return Messages.length;
  });
  const viaV1 = await loop(async () => {
    const { messages } = ok(await api(server).receive(v, { max: 10 }), 200, "receive");
    if (messages.length === 0) return 0;
    ok(await api(server).ack(v, messages.map((m) => m.receipt)), 200, "ack");
    return messages.length;
  });
  return [
    rate("Q1", `ReceiveMessage 10 + DeleteMessageBatch, c${concurrency}`, viaSqs, `v1 receive + ack beside it: ${Math.round(viaV1.perSec)} msg/s (ratio ${(viaSqs.perSec / viaV1.perSec).toFixed(2)})`),
    rate("Q1", `v1 receive 10 + ack, c${concurrency}`, viaV1),
  ];
}

/** Q1's rows. */
export async function sqsWorkload(server, T) {
  return [
    ...(await sends(server, T, { concurrency: 32, size: 1 })),
    ...(await sends(server, T, { concurrency: 8, size: 10 })),
    ...(await consumes(server, T, { concurrency: 8 })),
  ];
}
