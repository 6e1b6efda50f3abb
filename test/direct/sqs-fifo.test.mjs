// FIFO queues through the AWS SDK: `.fifo` names, MessageGroupId as edgeq's
// group (order within a group, a group held while its head is in flight),
// deduplication by MessageDeduplicationId or by content for five minutes,
// and SequenceNumber.
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sqsClient, startSqsWorker, uniqueName, v1, failure as failureOf } from "./sqs-helpers.mjs";

let worker;
let sqs;

beforeAll(async () => {
  worker = await startSqsWorker();
  sqs = sqsClient(worker.url);
});

afterAll(async () => {
  await worker?.stop();
});

const fifoName = () => `${uniqueName("fifo")}.fifo`;
const createFifo = async (Attributes = {}, name = fifoName()) =>
  (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { FifoQueue: "true", ...Attributes } }))).QueueUrl;

const failure = (command) => failureOf(sqs, command);

const receive = (QueueUrl, extra = {}) =>
  sqs
    .send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ["All"], VisibilityTimeout: 60, ...extra }))
    .then((r) => r.Messages ?? []);

describe("FIFO queues", () => {
  it("a .fifo name is a FIFO queue; FifoQueue must agree with the name", async () => {
    const name = fifoName();
    const QueueUrl = await createFifo({}, name);
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }));
    expect(Attributes).toMatchObject({ FifoQueue: "true", ContentBasedDeduplication: "false" });
    // Without FifoQueue the name says it; the queue is the same.
    expect((await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl).toBe(QueueUrl);
    expect((await failure(new CreateQueueCommand({ QueueName: fifoName(), Attributes: { FifoQueue: "false" } }))).name).toBe("InvalidAttributeValue");
    expect((await failure(new CreateQueueCommand({ QueueName: uniqueName(), Attributes: { FifoQueue: "true" } }))).name).toBe("InvalidAttributeValue");
    expect((await failure(new CreateQueueCommand({ QueueName: "bad.name" }))).name).toBe("InvalidParameterValue");
  });

  it("a send needs a MessageGroupId and a deduplication id, and takes no DelaySeconds of its own", async () => {
    const QueueUrl = await createFifo();
    expect((await failure(new SendMessageCommand({ QueueUrl, MessageBody: "x", MessageDeduplicationId: "d" }))).name).toBe("MissingParameter");
    const noDedup = await failure(new SendMessageCommand({ QueueUrl, MessageBody: "x", MessageGroupId: "g" }));
    expect(noDedup.name).toBe("InvalidParameterValue");
    expect(noDedup.message).toMatch(/ContentBasedDeduplication/);
    const delayed = await failure(new SendMessageCommand({ QueueUrl, MessageBody: "x", MessageGroupId: "g", MessageDeduplicationId: "d", DelaySeconds: 1 }));
    expect(delayed.name).toBe("InvalidParameterValue");
    expect(await receive(QueueUrl)).toEqual([]);
  });

  it("keeps order within each group across groups; a group waits while its head is in flight", async () => {
    const QueueUrl = await createFifo();
    const plan = ["A1", "B1", "A2", "C1", "B2", "A3", "B3"];
    const sequence = [];
    for (const body of plan) {
      const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageGroupId: body[0], MessageDeduplicationId: body }));
      sequence.push(BigInt(sent.SequenceNumber));
    }
    // SequenceNumber grows with every send (within each group, as SQS promises).
    expect(sequence.every((s, i) => i === 0 || s > sequence[i - 1])).toBe(true);

    const first = await receive(QueueUrl);
    expect(first.map((m) => m.Body)).toEqual(["A1", "B1", "C1"]);
    expect(first.map((m) => m.Attributes.MessageGroupId)).toEqual(["A", "B", "C"]);
    expect(first[0].Attributes.MessageDeduplicationId).toBe("A1");
    expect(first[0].Attributes.SequenceNumber).toBe(String(sequence[0]).padStart(20, "0"));
    // Every group's head is in flight: nothing else may go.
    expect(await receive(QueueUrl)).toEqual([]);

    const delivered = { A: ["A1"], B: ["B1"], C: ["C1"] };
    const byBody = new Map(first.map((m) => [m.Body, m]));
    // A1 done; B1 fails and comes back first in its group; C1 done.
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: byBody.get("A1").ReceiptHandle }));
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: byBody.get("B1").ReceiptHandle, VisibilityTimeout: 0 }));
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: byBody.get("C1").ReceiptHandle }));
    for (let round = 0; round < 10; round++) {
      const got = await receive(QueueUrl);
      if (got.length === 0) break;
      for (const m of got) {
        delivered[m.Body[0]].push(m.Body);
        await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    expect(delivered).toEqual({ A: ["A1", "A2", "A3"], B: ["B1", "B1", "B2", "B3"], C: ["C1"] });
  });

  it("deduplicates a MessageDeduplicationId for five minutes, even when the queue's edgeq window is shorter", async () => {
    const name = fifoName();
    const QueueUrl = await createFifo({}, name);
    expect((await v1(worker.url, "PUT", `/v1/queues/${name}`, { dedupWindowMs: 0 })).status).toBe(200);
    const a = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "once", MessageGroupId: "g", MessageDeduplicationId: "order-1" }));
    const b = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "once, again", MessageGroupId: "g", MessageDeduplicationId: "order-1" }));
    expect(b.MessageId).toBe(a.MessageId);
    expect(b.SequenceNumber).toBe(a.SequenceNumber);
    const batch = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: "x", MessageBody: "x", MessageGroupId: "g", MessageDeduplicationId: "order-2" },
          { Id: "y", MessageBody: "y", MessageGroupId: "g", MessageDeduplicationId: "order-2" },
        ],
      }),
    );
    expect(batch.Successful[1].MessageId).toBe(batch.Successful[0].MessageId);
    const got = [];
    for (let i = 0; i < 3; i++) {
      for (const m of await receive(QueueUrl)) {
        got.push(m.Body);
        await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    expect(got).toEqual(["once", "x"]);
  });

  it("ContentBasedDeduplication: the SHA-256 of the body is the deduplication id", async () => {
    const QueueUrl = await createFifo({ ContentBasedDeduplication: "true" });
    const a = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "same body", MessageGroupId: "g" }));
    const b = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "same body", MessageGroupId: "g" }));
    const c = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "other body", MessageGroupId: "g" }));
    expect(b.MessageId).toBe(a.MessageId);
    expect(c.MessageId).not.toBe(a.MessageId);
    const [m] = await receive(QueueUrl);
    const { createHash } = await import("node:crypto");
    expect(m.Attributes.MessageDeduplicationId).toBe(createHash("sha256").update("same body").digest("hex"));
    // Turned off, a send needs its own id again.
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { ContentBasedDeduplication: "false" } }));
    expect((await failure(new SendMessageCommand({ QueueUrl, MessageBody: "x", MessageGroupId: "g" }))).name).toBe("InvalidParameterValue");
  });

  it("a standard queue refuses MessageDeduplicationId and takes MessageGroupId as a routing key only", async () => {
    const QueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName() }))).QueueUrl;
    const err = await failure(new SendMessageCommand({ QueueUrl, MessageBody: "x", MessageDeduplicationId: "d" }));
    expect(err.name).toBe("InvalidParameterValue");
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "fair", MessageGroupId: "tenant-1" }));
    expect(sent.SequenceNumber).toBeUndefined();
    const [m] = await receive(QueueUrl);
    expect(m.Body).toBe("fair");
    expect(m.Attributes.MessageGroupId).toBeUndefined();
  });
});
