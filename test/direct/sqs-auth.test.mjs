// SigV4 on the SQS endpoint: what is refused (a wrong secret, an unknown key,
// a stale date, a tampered body, a missing or removed header, no signature
// at all) and with which error, keys limited to scopes and queues, and the
// bearer-token API kept apart from it. None of the refused requests changes
// anything.
import { CreateQueueCommand, GetQueueUrlCommand, ListQueuesCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonRequest, KEY, LIMITED, sqsClient, startSqsWorker, uniqueName, v1, xmlText, failure } from "./sqs-helpers.mjs";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";

let worker;
let sqs;
let queueUrl;
let queueName;

beforeAll(async () => {
  worker = await startSqsWorker();
  sqs = sqsClient(worker.url);
  queueName = uniqueName("auth");
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl;
});

afterAll(async () => {
  await worker?.stop();
});


/** A signed SendMessage in the JSON protocol, broken by `tamper` (or not), and the queue's depth after it. */
async function sendSigned(options = {}) {
  const res = await jsonRequest(worker.url, "SendMessage", { QueueUrl: queueUrl, MessageBody: "signed" }, options);
  return { status: res.status, error: res.status === 200 ? null : JSON.parse(res.text), queryError: res.headers.get("x-amzn-query-error") };
}

const depth = async () => (await v1(worker.url, "GET", `/v1/queues/${queueName}/stats`)).json.depth;

describe("SigV4 refusals", () => {
  it("a signed request of another region goes through, and counts", async () => {
    const before = await depth();
    expect((await sendSigned({ region: "ap-southeast-2" })).status).toBe(200);
    expect(await depth()).toBe(before + 1);
  });

  it("a wrong secret: SignatureDoesNotMatch; an unknown access key: InvalidClientTokenId", async () => {
    const before = await depth();
    const wrong = await failure(sqsClient(worker.url, { ...KEY, secretAccessKey: "not-the-secret" }), new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "x" }));
    expect(wrong.name).toBe("SignatureDoesNotMatch");
    expect(wrong.$metadata.httpStatusCode).toBe(403);
    const unknown = await failure(sqsClient(worker.url, { accessKeyId: "AKIDNOBODY", secretAccessKey: "x" }), new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "x" }));
    expect(unknown.name).toBe("InvalidClientTokenId");
    expect(unknown.$metadata.httpStatusCode).toBe(403);
    expect(await depth()).toBe(before);
  });

  it("a date more than 15 minutes off the server's clock, either way", async () => {
    const before = await depth();
    for (const offset of [-16 * 60_000, 16 * 60_000]) {
      const res = await sendSigned({ date: new Date(Date.now() + offset) });
      expect(res.status).toBe(403);
      expect(res.error.__type).toBe("com.amazonaws.sqs#SignatureDoesNotMatch");
      expect(res.error.message).toMatch(/Signature expired/);
      expect(res.queryError).toBe("SignatureDoesNotMatch;Sender");
    }
    // Within the window it is accepted.
    expect((await sendSigned({ date: new Date(Date.now() - 10 * 60_000) })).status).toBe(200);
    expect(await depth()).toBe(before + 1);
  });

  it("a tampered body, a removed signed header, a changed target, a missing X-Amz-Date, no signature", async () => {
    const before = await depth();
    const cases = {
      body: (r) => (r.body = r.body.replace("signed", "forged")),
      target: (r) => (r.headers["x-amz-target"] = "AmazonSQS.PurgeQueue"),
      removedHeader: (r) => delete r.headers["x-amz-target"],
      date: (r) => delete r.headers["x-amz-date"],
      contentHash: (r) => (r.headers["x-amz-content-sha256"] = "0".repeat(64)),
    };
    for (const [name, tamper] of Object.entries(cases)) {
      const res = await sendSigned({ tamper });
      expect(res.status, name).toBe(403);
      expect(res.error.__type, name).toBe("com.amazonaws.sqs#SignatureDoesNotMatch");
    }
    const unsigned = await sendSigned({ tamper: (r) => delete r.headers.authorization });
    expect(unsigned.status).toBe(403);
    expect(unsigned.error.__type).toBe("com.amazonaws.sqs#InvalidClientTokenId");
    // A bearer token is no SQS signature, not even the admin's.
    const bearer = await sendSigned({ tamper: (r) => (r.headers.authorization = "Bearer direct-sqs-admin-token") });
    expect(bearer.status).toBe(403);
    expect(await depth()).toBe(before);
  });

  it("without X-Amz-Content-Sha256 (as the SDK signs) the body is part of the signature all the same", async () => {
    const before = await depth();
    expect((await sendSigned({ applyChecksum: false })).status).toBe(200);
    const forged = await sendSigned({ applyChecksum: false, tamper: (r) => (r.body = r.body.replace("signed", "forged")) });
    expect(forged.status).toBe(403);
    expect(forged.error.__type).toBe("com.amazonaws.sqs#SignatureDoesNotMatch");
    expect(await depth()).toBe(before + 1);
  });
});

describe("keys limited to scopes and queues", () => {
  it("may publish and consume on its queues only, and lists only those", async () => {
    const limited = sqsClient(worker.url, LIMITED);
    const name = uniqueName("limited");
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl;
    await limited.send(new SendMessageCommand({ QueueUrl: url, MessageBody: "allowed" }));
    expect((await limited.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages[0].Body).toBe("allowed");
    expect((await limited.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl).toBe(url);

    const other = await failure(limited, new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "x" }));
    expect(other.name).toBe("AccessDenied");
    expect(other.$metadata.httpStatusCode).toBe(403);
    const manage = await failure(limited, new CreateQueueCommand({ QueueName: uniqueName("limited") }));
    expect(manage.name).toBe("AccessDenied");
    const listed = (await limited.send(new ListQueuesCommand({}))).QueueUrls ?? [];
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.every((u) => u.split("/").pop().startsWith("limited-"))).toBe(true);
  });
});

describe("the two kinds of credentials stay apart", () => {
  it("a SigV4-signed request to the v1 API needs its bearer token", async () => {
    const res = await jsonRequest(worker.url, "ListQueues", {}, { path: "/v1/queues" });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text).error.code).toBe("UNAUTHORIZED");
  });

  it("without EDGEQ_SQS_KEYS every SQS request is refused, in the request's protocol", async () => {
    const bare = await startLocalWorker({ bindings: { EDGEQ_ADMIN_TOKEN: "t" } });
    try {
      const err = await failure(sqsClient(bare.url), new ListQueuesCommand({}));
      expect(err.name).toBe("InvalidClientTokenId");
      expect(err.message).toMatch(/EDGEQ_SQS_KEYS is not set/);
      const res = await fetch(`${bare.url}/`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "Action=ListQueues" });
      expect(res.status).toBe(403);
      expect(xmlText(await res.text(), "Code")).toBe("InvalidClientTokenId");
      // The v1 API is as it was.
      expect((await fetch(`${bare.url}/v1/queues`, { headers: { authorization: "Bearer t" } })).status).toBe(200);
    } finally {
      await bare.stop();
    }
  });
});
