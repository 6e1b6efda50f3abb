/**
 * Verifies the AWS Signature Version 4 of an SQS request (the
 * `Authorization: AWS4-HMAC-SHA256 ...` header the AWS SDKs and CLI send).
 * The expected signature is computed by aws4fetch's signer over the request
 * as received (its method, path, query, the headers it names as signed, its
 * body) with the key's secret, and compared in constant time. Any region in
 * the credential scope is accepted; the service must be `sqs`.
 */
import { AwsV4Signer } from "aws4fetch";
import { SqsError } from "./errors";
import type { SqsKeys, SqsPrincipal } from "./keys";

/** How far a request's X-Amz-Date may be from the server's clock, as AWS allows. */
export const MAX_CLOCK_SKEW_MS = 15 * 60_000;

const encoder = new TextEncoder();

/** The parts of an Authorization header. */
interface Authorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/**
 * Signing keys (an HMAC chain of the secret, the day, the region and the
 * service) derived in this isolate, as aws4fetch keys them: four HMACs
 * saved on every request of a key, day and region seen before. Emptied
 * when it grows past a bound (old days are never used again).
 */
const signingKeys = new Map<string, ArrayBuffer>();
const MAX_SIGNING_KEYS = 256;

const mismatch = (why: string) => new SqsError("SignatureDoesNotMatch", why);

function parseAuthorization(header: string): Authorization | null {
  const match = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(header.trim());
  if (!match) return null;
  const fields = new Map<string, string>();
  for (const part of match[1].split(",")) {
    const at = part.indexOf("=");
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const credential = fields.get("Credential")?.split("/");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (!credential || credential.length !== 5 || credential[4] !== "aws4_request" || !signedHeaders || !signature) return null;
  if (!/^[0-9a-f]{64}$/.test(signature) || !/^[a-z0-9-]+(;[a-z0-9-]+)*$/.test(signedHeaders)) return null;
  const [accessKeyId, date, region, service] = credential;
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(";"), signature };
}

/** `20240102T030405Z` as ms since the epoch, or NaN. */
function amzDateMs(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
}

const hex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

/**
 * The principal of a correctly signed request and the region it was signed
 * for, or the SqsError to answer:
 * InvalidClientTokenId for a request that is not signed or names an unknown
 * access key, SignatureDoesNotMatch for any other fault (a malformed
 * header, a missing signed header, a date more than 15 minutes off, a body
 * that is not the one signed, a wrong signature).
 */
export async function verifySignature(
  request: Request,
  body: ArrayBuffer,
  keys: SqsKeys,
  now = Date.now(),
): Promise<{ principal: SqsPrincipal; region: string }> {
  if (!keys.ok) throw new SqsError("InvalidClientTokenId", keys.problem);
  const header = request.headers.get("authorization");
  if (header === null) throw new SqsError("InvalidClientTokenId", "the request is not signed: it has no Authorization header (AWS Signature Version 4)");
  const auth = parseAuthorization(header);
  if (!auth) throw mismatch("the Authorization header is not a valid AWS4-HMAC-SHA256 signature");
  const key = keys.keys.get(auth.accessKeyId);
  if (!key) throw new SqsError("InvalidClientTokenId", "The security token included in the request is invalid.");
  if (auth.service !== "sqs") throw mismatch(`the credential scope names service ${auth.service.slice(0, 32)}, not sqs`);

  const signed = new Set(auth.signedHeaders);
  if (!signed.has("host")) throw mismatch("the signed headers must include host");
  const amzDate = request.headers.get("x-amz-date");
  if (amzDate === null || !signed.has("x-amz-date")) throw mismatch("the request must carry a signed X-Amz-Date header");
  const at = amzDateMs(amzDate);
  if (Number.isNaN(at) || amzDate.slice(0, 8) !== auth.date) throw mismatch("X-Amz-Date is not valid or does not match the credential scope");
  if (Math.abs(now - at) > MAX_CLOCK_SKEW_MS) {
    throw mismatch(`Signature expired: ${amzDate} is more than 15 minutes from the server's time ${new Date(now).toISOString()}`);
  }

  const url = new URL(request.url);
  const headers = new Headers();
  for (const name of signed) {
    if (name === "host") continue;
    const value = request.headers.get(name);
    if (value === null) throw mismatch(`the signed header ${name} is missing`);
    headers.set(name, value);
  }
  // The host the client signed is the Host header it sent (the URL the Worker sees may be rewritten by a proxy).
  url.host = request.headers.get("host") ?? url.host;
  const declared = headers.get("x-amz-content-sha256");
  if (declared !== null && declared !== hex(await crypto.subtle.digest("SHA-256", body))) {
    throw mismatch("the body does not match its signed X-Amz-Content-Sha256");
  }

  if (signingKeys.size > MAX_SIGNING_KEYS) signingKeys.clear();
  const signer = new AwsV4Signer({
    method: request.method,
    url: url.toString(),
    headers,
    body,
    accessKeyId: key.accessKeyId,
    secretAccessKey: key.secret,
    service: "sqs",
    region: auth.region,
    datetime: amzDate,
    allHeaders: true,
    cache: signingKeys,
  });
  const expected = await signer.signature();
  // Both are 64 hex digits (the header's was checked), so the comparison takes the same time wherever they differ.
  if (!crypto.subtle.timingSafeEqual(encoder.encode(expected), encoder.encode(auth.signature))) {
    throw mismatch(
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
    );
  }
  return { principal: { accessKeyId: key.accessKeyId, scopes: key.scopes, queues: key.queues }, region: auth.region };
}
