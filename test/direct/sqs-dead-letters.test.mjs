// Dead-letter queues through the AWS SDK: a RedrivePolicy moves a message to
// its dead-letter queue after maxReceiveCount receives (the partition's
// outbox forwards it, with retries), ListDeadLetterSourceQueues, and redrive
// with message move tasks (start, list, cancel).
import {
  CancelMessageMoveTaskCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attributesMd5, sleep, sqsClient, startSqsWorker, uniqueName, v1, failure as failureOf } from "./sqs-helpers.mjs";

let worker;
let sqs;

beforeAll(async () => {
  worker = await startSqsWorker();
  sqs = sqsClient(worker.url);
});

afterAll(async () => {
  await worker?.stop();
});

const arn = (name) => `arn:aws:sqs:eu-central-1:000000000000:${name}`;
const create = async (name, Attributes) => (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes }))).QueueUrl;
const policy = (target, maxReceiveCount) => JSON.stringify({ deadLetterTargetArn: arn(target), maxReceiveCount });

const failure = (command) => failureOf(sqs, command);

const receive = (QueueUrl, extra = {}) =>
  sqs
    .send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ["All"], MessageSystemAttributeNames: ["All"], ...extra }))
    .then((r) => r.Messages ?? []);

/** Receives the message and gives it back at once, `times` times: each is a receive that did not delete it. */
async function failReceives(QueueUrl, times) {
  for (let i = 0; i < times; i++) {
    const [m] = await receive(QueueUrl);
    expect(m, `receive ${i + 1}`).toBeDefined();
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
  }
}

/** Waits until `check` answers something truthy (the outbox works on alarms). */
async function eventually(check, ms = 15_000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error("timed out waiting");
    await sleep(200);
  }
}

const task = async (dlq) => (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: arn(dlq), MaxResults: 10 }))).Results;

describe("RedrivePolicy", () => {
  it("moves a message to its dead-letter queue after maxReceiveCount receives, attributes and all", async () => {
    const dlqName = uniqueName("dlq");
    const dlq = await create(dlqName);
    const name = uniqueName("src");
    const source = await create(name, { RedrivePolicy: policy(dlqName, 2) });
    const MessageAttributes = { kind: { DataType: "String", StringValue: "poison" }, n: { DataType: "Number", StringValue: "42" } };
    await sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: "cannot be processed", MessageAttributes }));

    expect((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: source, AttributeNames: ["RedrivePolicy"] }))).Attributes).toEqual({
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn(dlqName), maxReceiveCount: 2 }),
    });
    await failReceives(source, 2);
    // The second failed receive was its last: it is gone from the source and arrives in the dead-letter queue.
    expect(await receive(source)).toEqual([]);
    const [dead] = await receive(dlq, { WaitTimeSeconds: 15 });
    expect(dead).toMatchObject({ Body: "cannot be processed", MessageAttributes, MD5OfMessageAttributes: attributesMd5(MessageAttributes) });
    expect(dead.Attributes.DeadLetterQueueSourceArn).toBe(arn(name));
    // Forwarded, it left the source's own dead letters.
    const stats = await eventually(async () => {
      const s = (await v1(worker.url, "GET", `/v1/queues/${name}/stats`)).json;
      return s.deadLetters === 0 && s;
    });
    expect(stats.totals.deadLettered).toBe(1);

    const sources = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq }));
    expect(sources.queueUrls).toEqual([source]);
    expect((await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: source }))).queueUrls).toEqual([]);
  });

  it("a lease that ends counts as a receive; a FIFO queue's dead letters keep their group", async () => {
    const dlqName = `${uniqueName("dlq")}.fifo`;
    const dlq = await create(dlqName, { FifoQueue: "true" });
    const source = await create(`${uniqueName("src")}.fifo`, { FifoQueue: "true", RedrivePolicy: policy(dlqName, 1), VisibilityTimeout: "1" });
    await sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: "late", MessageGroupId: "g-1", MessageDeduplicationId: "d-1" }));
    expect(await receive(source)).toHaveLength(1); // and never deleted: its lease ends after a second
    const [dead] = await receive(dlq, { WaitTimeSeconds: 15 });
    expect(dead.Body).toBe("late");
    expect(dead.Attributes.MessageGroupId).toBe("g-1");
  });

  it("refuses a RedrivePolicy whose target does not exist, is the queue itself, or is of the other kind", async () => {
    const QueueUrl = await create(uniqueName());
    const fifo = `${uniqueName()}.fifo`;
    await create(fifo, { FifoQueue: "true" });
    for (const RedrivePolicy of [policy(uniqueName("absent"), 3), policy(fifo, 3)]) {
      expect((await failure(new SetQueueAttributesCommand({ QueueUrl, Attributes: { RedrivePolicy } }))).name).toBe("InvalidParameterValue");
    }
    const self = QueueUrl.split("/").pop();
    expect((await failure(new SetQueueAttributesCommand({ QueueUrl, Attributes: { RedrivePolicy: policy(self, 3) } }))).name).toBe("InvalidAttributeValue");
    expect((await failure(new SetQueueAttributesCommand({ QueueUrl, Attributes: { RedrivePolicy: policy(fifo, 0) } }))).name).toBe("InvalidAttributeValue");
  });

  it("retries a dead-letter queue that is full, and keeps a dead letter its queue can never take", async () => {
    const dlqName = uniqueName("full");
    await create(dlqName);
    expect((await v1(worker.url, "PUT", `/v1/queues/${dlqName}`, { maxDepth: 1, maxMessageBytes: 1024 })).status).toBe(200);
    await v1(worker.url, "POST", `/v1/queues/${dlqName}/messages`, { body: "filler" });
    const name = uniqueName("src");
    const source = await create(name, { RedrivePolicy: policy(dlqName, 1) });
    await sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: "waits for room" }));
    await failReceives(source, 1);
    // The dead-letter queue is full: the dead letter waits in the source, and is tried again.
    await sleep(1_500);
    const waiting = (await v1(worker.url, "GET", `/v1/queues/${name}/dead-letters`)).json.deadLetters;
    expect(waiting.map((d) => d.body)).toEqual(["waits for room"]);
    await sqs.send(new PurgeQueueCommand({ QueueUrl: (await sqs.send(new CreateQueueCommand({ QueueName: dlqName }))).QueueUrl }));
    await eventually(async () => (await v1(worker.url, "GET", `/v1/queues/${name}/dead-letters`)).json.deadLetters.length === 0, 20_000);
    const peek = (await v1(worker.url, "GET", `/v1/queues/${dlqName}/messages`)).json.messages;
    expect(peek.map((m) => m.body)).toEqual(["waits for room"]);

    // Too large for the dead-letter queue: it stays as the source's own dead letter, with the reason.
    await sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: "x".repeat(2000) }));
    await failReceives(source, 1);
    const kept = await eventually(async () => {
      const [d] = (await v1(worker.url, "GET", `/v1/queues/${name}/dead-letters`)).json.deadLetters;
      return d?.lastError?.startsWith(`not forwarded to ${dlqName}: PAYLOAD_TOO_LARGE`) && d;
    });
    expect(kept.body).toBe("x".repeat(2000));
  });
});

describe("message move tasks", () => {
  /** A dead-letter queue holding `n` messages that died in `source`. */
  async function deadLettersOf(n) {
    const dlqName = uniqueName("dlq");
    const dlq = await create(dlqName);
    const name = uniqueName("src");
    const source = await create(name, { RedrivePolicy: policy(dlqName, 1) });
    for (let i = 0; i < n; i++) {
      await sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: `m${i}`, MessageAttributes: { i: { DataType: "Number", StringValue: String(i) } } }));
    }
    for (const m of await receive(source, { VisibilityTimeout: 60 })) {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: source, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    }
    await eventually(async () => {
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ["ApproximateNumberOfMessages"] }));
      return Attributes.ApproximateNumberOfMessages === String(n);
    });
    return { dlqName, dlq, name, source };
  }

  it("moves a dead-letter queue's messages back to the queue they died in", async () => {
    const { dlqName, dlq, source } = await deadLettersOf(3);
    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: arn(dlqName) }));
    expect(TaskHandle).toEqual(expect.any(String));
    const [done] = await eventually(async () => {
      const tasks = await task(dlqName);
      return tasks[0]?.Status === "COMPLETED" && tasks;
    });
    expect(done).toMatchObject({ SourceArn: arn(dlqName), ApproximateNumberOfMessagesMoved: 3, ApproximateNumberOfMessagesToMove: 3 });
    expect(done.TaskHandle).toBeUndefined();
    const back = await receive(source);
    expect(back.map((m) => m.Body).sort()).toEqual(["m0", "m1", "m2"]);
    expect(back.every((m) => m.Attributes.DeadLetterQueueSourceArn === undefined)).toBe(true);
    expect(back.find((m) => m.Body === "m2").MessageAttributes).toEqual({ i: { DataType: "Number", StringValue: "2" } });
    expect(await receive(dlq)).toEqual([]);
    for (const m of back) await sqs.send(new DeleteMessageCommand({ QueueUrl: source, ReceiptHandle: m.ReceiptHandle }));
  });

  it("moves to a DestinationArn at MaxNumberOfMessagesPerSecond; one task at a time; a cancel stops it", async () => {
    const { dlqName } = await deadLettersOf(4);
    const destName = uniqueName("dest");
    const dest = await create(destName);
    const { TaskHandle } = await sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: arn(dlqName), DestinationArn: arn(destName), MaxNumberOfMessagesPerSecond: 1 }),
    );
    const second = await failure(new StartMessageMoveTaskCommand({ SourceArn: arn(dlqName) }));
    expect(second.name).toBe("UnsupportedOperation");
    const [running] = await task(dlqName);
    expect(running).toMatchObject({ Status: "RUNNING", TaskHandle, DestinationArn: arn(destName), MaxNumberOfMessagesPerSecond: 1, ApproximateNumberOfMessagesToMove: 4 });
    // One a second: after about a second and a half, one or two have moved.
    await sleep(1_500);
    const { ApproximateNumberOfMessagesMoved: moved } = await sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle }));
    expect(moved).toBeGreaterThanOrEqual(1);
    expect(moved).toBeLessThan(4);
    const [cancelled] = await eventually(async () => {
      const tasks = await task(dlqName);
      return tasks[0].Status === "CANCELLED" && tasks;
    });
    const inDest = (await receive(dest)).length;
    expect(inDest).toBe(cancelled.ApproximateNumberOfMessagesMoved);
    expect(inDest).toBeLessThan(4);
    expect((await failure(new CancelMessageMoveTaskCommand({ TaskHandle }))).name).toBe("UnsupportedOperation");
  });

  it("refuses a source that is no dead-letter queue, one that does not exist, and a handle of no task", async () => {
    const plain = uniqueName("plain");
    await create(plain);
    expect((await failure(new StartMessageMoveTaskCommand({ SourceArn: arn(plain) }))).name).toBe("UnsupportedOperation");
    expect((await failure(new StartMessageMoveTaskCommand({ SourceArn: arn(uniqueName("absent")) }))).name).toBe("ResourceNotFoundException");
    expect((await failure(new CancelMessageMoveTaskCommand({ TaskHandle: "bm90IGEgaGFuZGxl" }))).name).toBe("ResourceNotFoundException");
    expect((await failure(new ListMessageMoveTasksCommand({ SourceArn: "not an arn" }))).name).toBe("InvalidParameterValue");
  });
});
