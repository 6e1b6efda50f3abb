// Shared by the SQS suites of the direct project: edgeq in plain workerd (scripts/local-edgeq.mjs) with
// SQS access keys, the real AWS SDK client against it, the v1 API beside it,
// and raw requests signed by @smithy/signature-v4 (the SDK's own signer) for
// what the SDK does not send (the Query protocol, broken signatures).
import { createHash, createHmac } from "node:crypto";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SignatureV4 } from "@smithy/signature-v4";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";

export const ADMIN_TOKEN = "direct-sqs-admin-token";
/** A key that may do everything. */
export const KEY = { accessKeyId: "AKIDEDGEQTEST", secretAccessKey: "direct-sqs-secret/with+slash" };
/** A key that may only publish and consume, on queues named `limited-*`. */
export const LIMITED = { accessKeyId: "AKIDLIMITED", secretAccessKey: "limited-secret" };

export const SQS_KEYS = `${KEY.accessKeyId}:${KEY.secretAccessKey}, ${LIMITED.accessKeyId}:${LIMITED.secretAccessKey}:publish+consume:limited-*`;

/** edgeq with the SQS keys, on a free port. */
export const startSqsWorker = (bindings = {}) =>
  startLocalWorker({ bindings: { EDGEQ_ADMIN_TOKEN: ADMIN_TOKEN, EDGEQ_SQS_KEYS: SQS_KEYS, ...bindings } });

/** The AWS SDK's SQS client against edgeq: only the endpoint and the credentials differ from one for AWS. */
export const sqsClient = (url, credentials = KEY, options = {}) =>
  new SQSClient({ endpoint: url, region: "eu-central-1", credentials, maxAttempts: 1, ...options });

let counter = 0;
/** A queue name of its own per test. */
export const uniqueName = (prefix = "sqs") => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

/** The v1 API with the admin token. */
export async function v1(url, method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** SHA-256 and HMAC-SHA-256 for the signer, from node:crypto. */
class Sha256 {
  constructor(secret) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", secret);
  }
  update(data) {
    this.hash.update(data);
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

/**
 * A request signed with SigV4 by @smithy/signature-v4 and sent with fetch.
 * `tamper` may change the signed request before it is sent (to break it).
 * `applyChecksum` signs an X-Amz-Content-Sha256 header (the SDK's SQS
 * client sends none, and the body's hash is then part of the signature only).
 */
export async function signedFetch(
  url,
  { path = "/", headers = {}, body = "", key = KEY, date = new Date(), region = "us-west-2", tamper, applyChecksum = true } = {},
) {
  const target = new URL(path, url);
  const signer = new SignatureV4({ credentials: key, region, service: "sqs", sha256: Sha256, applyChecksum });
  const request = {
    method: "POST",
    protocol: target.protocol,
    hostname: target.hostname,
    port: Number(target.port),
    path: target.pathname,
    query: {},
    headers: { host: target.host, ...headers },
    body,
  };
  const signed = await signer.sign(request, { signingDate: date });
  const sent = { headers: { ...signed.headers }, body: signed.body };
  tamper?.(sent);
  delete sent.headers.host;
  const res = await fetch(target, { method: "POST", headers: sent.headers, body: sent.body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A Query-protocol request (a form, answered in XML), signed. */
export const queryRequest = (url, params, options = {}) =>
  signedFetch(url, {
    ...options,
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8", ...options.headers },
    body: new URLSearchParams({ Version: "2012-11-05", ...params }).toString(),
  });

/** A JSON-protocol request, signed. */
export const jsonRequest = (url, action, input, options = {}) =>
  signedFetch(url, {
    ...options,
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": `AmazonSQS.${action}`, ...options.headers },
    body: JSON.stringify(input),
  });

/** The text of the first element `name` of an XML answer (entities decoded), or undefined. */
export function xmlText(xml, name) {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? decodeXml(m[1]) : undefined;
}

/** The text of every element `name`. */
export const xmlTexts = (xml, name) => [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map((m) => decodeXml(m[1]));

const decodeXml = (s) =>
  s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e) =>
    e[0] === "#" ? String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[e],
  );

/**
 * MD5OfMessageAttributes as the AWS documentation defines it, written apart
 * from edgeq's (worker/sqs/md5.ts) so that the two check each other; it is
 * itself checked against digests AWS answered (see the tests).
 */
export function attributesMd5(attributes) {
  const parts = [];
  const withLength = (buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(buffer.length);
    parts.push(length, buffer);
  };
  for (const name of Object.keys(attributes).sort()) {
    const { DataType, StringValue, BinaryValue } = attributes[name];
    withLength(Buffer.from(name, "utf8"));
    withLength(Buffer.from(DataType, "utf8"));
    if (BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      withLength(Buffer.from(BinaryValue));
    } else {
      parts.push(Buffer.from([1]));
      withLength(Buffer.from(StringValue, "utf8"));
    }
  }
  return createHash("md5").update(Buffer.concat(parts)).digest("hex");
}

export const md5 = (text) => createHash("md5").update(text, "utf8").digest("hex");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The error `command` fails with, sent by `client` (throws when it succeeds). */
export async function failure(client, command) {
  try {
    await client.send(command);
  } catch (err) {
    return err;
  }
  throw new Error(`${command.constructor.name} succeeded`);
}
