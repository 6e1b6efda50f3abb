// The SQS endpoint through the real AWS SDK for JavaScript (JSON protocol),
// against edgeq in plain workerd: the queue actions, the message actions,
// message attributes and their checksums, long-poll, and the v1 API seeing
// the same queues and messages. FIFO, dead letters, the Query protocol and
// the signature refusals have files of their own.
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ListQueueTagsCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attributesMd5, md5, sleep, sqsClient, startSqsWorker, uniqueName, v1, failure as failureOf } from "./sqs-helpers.mjs";

let worker;
let sqs;

beforeAll(async () => {
  worker = await startSqsWorker();
  sqs = sqsClient(worker.url);
});

afterAll(async () => {
  await worker?.stop();
});

const createQueue = async (name = uniqueName(), Attributes) => (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes }))).QueueUrl;

const failure = (command, client = sqs) => failureOf(client, command);

const receiveAll = (QueueUrl, extra = {}, options) =>
  sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ["All"], MessageSystemAttributeNames: ["All"], ...extra }), options);

describe("checksums", () => {
  it("the helper's MD5OfMessageAttributes gives the digests AWS answered", () => {
    // Digests AWS answered for these attributes, as pinned by moto's SQS tests.
    expect(attributesMd5({ timestamp: { DataType: "Number", StringValue: "1493147359900" } })).toBe("235c5c510d26fb653d073faed50ae77c");
    expect(attributesMd5({ timestamp: { DataType: "Number", StringValue: "1493147359901" } })).toBe("994258b45346a2cc3f9cbb611aa7af30");
    expect(attributesMd5({ "SOME_Valid.attribute-Name": { DataType: "Number", StringValue: "1493147359900" } })).toBe(
      "36655e7e9d7c0e8479fa3f3f42247ae7",
    );
  });

  it("the SDK checks MD5OfMessageBody: a wrong one makes SendMessage fail", async () => {
    const QueueUrl = await createQueue();
    const client = sqsClient(worker.url);
    // Changes the parsed answer before the SDK's check (in the initialize step, around this one) reads it.
    client.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        out.output.MD5OfMessageBody = "00000000000000000000000000000000";
        return out;
      },
      { step: "serialize", name: "corruptMd5" },
    );
    await expect(client.send(new SendMessageCommand({ QueueUrl, MessageBody: "x" }))).rejects.toThrow(/Checksum/i);
    // Unchanged, the same client's check passes.
    await expect(sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "x" }))).resolves.toMatchObject({ MD5OfMessageBody: md5("x") });
  });

  it("MD5OfMessageAttributes of a send and of a receive are SQS's, for String, Number, Binary and custom types", async () => {
    const QueueUrl = await createQueue();
    const MessageAttributes = {
      timestamp: { DataType: "Number", StringValue: "1493147359900" },
      name: { DataType: "String", StringValue: "Tüst ✓" },
      blob: { DataType: "Binary", BinaryValue: Uint8Array.of(2, 3, 4, 0, 255) },
      price: { DataType: "Number.float", StringValue: "0230.01" },
      "app.json": { DataType: "String.json", StringValue: '{"a":1}' },
    };
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "derp", MessageAttributes }));
    expect(sent.MD5OfMessageBody).toBe("58fd9edd83341c29f1aebba81c31e257");
    expect(sent.MD5OfMessageAttributes).toBe(attributesMd5(MessageAttributes));
    const one = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "derp", MessageAttributes: { timestamp: MessageAttributes.timestamp } }));
    expect(one.MD5OfMessageAttributes).toBe("235c5c510d26fb653d073faed50ae77c");

    const { Messages } = await receiveAll(QueueUrl);
    expect(Messages).toHaveLength(2);
    const [first, second] = Messages;
    expect(first.MessageAttributes).toEqual(MessageAttributes);
    expect(first.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(second.MD5OfMessageAttributes).toBe("235c5c510d26fb653d073faed50ae77c");
    // Asked for by prefix and by name: the checksum covers what is answered.
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 0 }));
    const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MessageAttributeNames: ["app.*", "name"] }));
    const picked = { "app.json": MessageAttributes["app.json"], name: MessageAttributes.name };
    expect(again.Messages[0].MessageAttributes).toEqual(picked);
    expect(again.Messages[0].MD5OfMessageAttributes).toBe(attributesMd5(picked));
  });
});

describe("queues", () => {
  it("CreateQueue answers the queue URL, again for the same attributes, and QueueNameExists for others", async () => {
    const name = uniqueName();
    const url = await createQueue(name, { VisibilityTimeout: "45", DelaySeconds: "0" });
    expect(url).toBe(`${worker.url}/000000000000/${name}`);
    expect(await createQueue(name, { VisibilityTimeout: "45" })).toBe(url);
    expect(await createQueue(name)).toBe(url);
    const err = await failure(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: "46" } }));
    expect(err.name).toBe("QueueNameExists");
    expect(err.Code).toBe("QueueAlreadyExists");
    expect(err.$metadata.httpStatusCode).toBe(400);
  });

  it("GetQueueUrl finds a queue, and answers QueueDoesNotExist for one that is not", async () => {
    const name = uniqueName();
    const url = await createQueue(name);
    expect((await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl).toBe(url);
    const err = await failure(new GetQueueUrlCommand({ QueueName: `${name}-absent` }));
    expect(err.name).toBe("QueueDoesNotExist");
    expect(err.Code).toBe("AWS.SimpleQueueService.NonExistentQueue");
  });

  it("ListQueues lists by prefix, a page at a time with MaxResults and NextToken", async () => {
    const prefix = uniqueName("list");
    const names = ["a", "b", "c", "d", "e"].map((s) => `${prefix}-${s}`);
    for (const name of names) await createQueue(name);
    const all = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }));
    expect(all.QueueUrls).toEqual(names.map((n) => `${worker.url}/000000000000/${n}`));
    expect(all.NextToken).toBeUndefined();
    const pages = [];
    let NextToken;
    do {
      const page = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 2, NextToken }));
      pages.push(page.QueueUrls.map((u) => u.split("/").pop()));
      NextToken = page.NextToken;
    } while (NextToken);
    expect(pages).toEqual([names.slice(0, 2), names.slice(2, 4), names.slice(4)]);
    expect((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: `${prefix}-zzz` }))).QueueUrls).toBeUndefined();
  });

  it("attributes in SQS's units: set, read back, and the edgeq configuration they are", async () => {
    const name = uniqueName();
    const QueueUrl = await createQueue(name, { MessageRetentionPeriod: "86400", MaximumMessageSize: "2048" });
    const before = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }))).Attributes;
    expect(before).toMatchObject({
      QueueArn: `arn:aws:sqs:eu-central-1:000000000000:${name}`,
      VisibilityTimeout: "30",
      MessageRetentionPeriod: "86400",
      MaximumMessageSize: "2048",
      DelaySeconds: "0",
      ReceiveMessageWaitTimeSeconds: "0",
      ApproximateNumberOfMessages: "0",
      ApproximateNumberOfMessagesNotVisible: "0",
      ApproximateNumberOfMessagesDelayed: "0",
    });
    expect(Math.abs(Number(before.CreatedTimestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(before.RedrivePolicy).toBeUndefined();
    expect(before.FifoQueue).toBeUndefined();

    await sleep(1100); // LastModifiedTimestamp counts seconds
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { VisibilityTimeout: "120", DelaySeconds: "5", ReceiveMessageWaitTimeSeconds: "3" } }));
    const after = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["VisibilityTimeout", "DelaySeconds", "LastModifiedTimestamp", "CreatedTimestamp"] }))).Attributes;
    expect(after).toEqual({
      VisibilityTimeout: "120",
      DelaySeconds: "5",
      CreatedTimestamp: before.CreatedTimestamp,
      LastModifiedTimestamp: expect.any(String),
    });
    expect(Number(after.LastModifiedTimestamp)).toBeGreaterThan(Number(before.LastModifiedTimestamp));
    // The same queue through the v1 API: edgeq's settings in milliseconds; SQS's behaviour (no backoff).
    const { json } = await v1(worker.url, "GET", `/v1/queues/${name}`);
    expect(json.config).toMatchObject({ visibilityTimeoutMs: 120_000, retentionMs: 86_400_000, maxMessageBytes: 2048, backoffBaseMs: 0, deadLetterQueue: null });
  });

  it("refuses unknown, read-only and unsupported attributes, and values out of range", async () => {
    const QueueUrl = await createQueue();
    const cases = [
      [{ Nonsense: "1" }, "InvalidAttributeName"],
      [{ QueueArn: "x" }, "InvalidAttributeName"],
      [{ Policy: "{}" }, "InvalidAttributeName"],
      [{ FifoQueue: "true" }, "InvalidAttributeName"],
      [{ ContentBasedDeduplication: "true" }, "InvalidAttributeName"],
      [{ VisibilityTimeout: "43201" }, "InvalidAttributeValue"],
      [{ DelaySeconds: "-1" }, "InvalidAttributeValue"],
      [{ RedrivePolicy: "{not json" }, "InvalidAttributeValue"],
    ];
    for (const [Attributes, name] of cases) {
      expect((await failure(new SetQueueAttributesCommand({ QueueUrl, Attributes }))).name, JSON.stringify(Attributes)).toBe(name);
    }
    expect((await failure(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["Nope"] }))).name).toBe("InvalidAttributeName");
    // Nothing of it was applied.
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["VisibilityTimeout", "DelaySeconds"] }));
    expect(Attributes).toEqual({ VisibilityTimeout: "30", DelaySeconds: "0" });
  });

  it("a queue made through the v1 API is an SQS queue, and one made through SQS is listed by the v1 API", async () => {
    const name = uniqueName("v1");
    expect((await v1(worker.url, "PUT", `/v1/queues/${name}`, { visibilityTimeoutMs: 10_000 })).status).toBe(201);
    const QueueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    expect((await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["VisibilityTimeout"] }))).Attributes).toEqual({ VisibilityTimeout: "10" });
    // A v1 message reads as text in SQS: its body's JSON, its attributes as Strings.
    await v1(worker.url, "POST", `/v1/queues/${name}/messages`, { body: { order: 7 }, attributes: { kind: "paid", "not:sqs": "x" } });
    const { Messages } = await receiveAll(QueueUrl);
    expect(Messages[0]).toMatchObject({ Body: '{"order":7}', MD5OfBody: md5('{"order":7}'), MessageAttributes: { kind: { DataType: "String", StringValue: "paid" } } });

    const sqsName = uniqueName("made-by-sqs");
    const url = await createQueue(sqsName);
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: "plain text", MessageAttributes: { n: { DataType: "Number", StringValue: "3" } } }));
    const listed = await v1(worker.url, "GET", `/v1/queues?limit=1000`);
    expect(listed.json.queues.find((q) => q.name === sqsName)?.stats).toMatchObject({ ready: 1 });
    const peek = await v1(worker.url, "GET", `/v1/queues/${sqsName}/messages`);
    expect(peek.json.messages[0]).toMatchObject({ body: "plain text", attributes: { n: "3", "edgeq:sqsTypes": '{"n":"Number"}' } });
  });

  it("PurgeQueue deletes the waiting messages; DeleteQueue deletes the queue", async () => {
    const name = uniqueName();
    const QueueUrl = await createQueue(name);
    await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: [1, 2, 3].map((i) => ({ Id: `m${i}`, MessageBody: `m${i}` })) }));
    await sqs.send(new PurgeQueueCommand({ QueueUrl }));
    expect((await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }))).Attributes).toEqual({
      ApproximateNumberOfMessages: "0",
    });
    await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    expect((await failure(new GetQueueUrlCommand({ QueueName: name }))).name).toBe("QueueDoesNotExist");
    expect((await failure(new SendMessageCommand({ QueueUrl, MessageBody: "x" }))).name).toBe("QueueDoesNotExist");
    expect((await failure(new DeleteQueueCommand({ QueueUrl }))).name).toBe("QueueDoesNotExist");
    expect((await v1(worker.url, "GET", `/v1/queues/${name}`)).status).toBe(404);
  });

  it("an action edgeq does not offer is InvalidAction", async () => {
    const QueueUrl = await createQueue();
    const err = await failure(new ListQueueTagsCommand({ QueueUrl }));
    expect(err.name).toBe("InvalidAction");
    expect(err.message).toMatch(/does not support/);
  });
});

describe("messages", () => {
  it("send, receive with system attributes, delete", async () => {
    const QueueUrl = await createQueue();
    const before = Date.now();
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "hello <&> \r\n ünïcode 🎉" }));
    const { Messages } = await receiveAll(QueueUrl, { VisibilityTimeout: 60 });
    expect(Messages).toHaveLength(1);
    const [m] = Messages;
    expect(m).toMatchObject({ MessageId: sent.MessageId, Body: "hello <&> \r\n ünïcode 🎉", MD5OfBody: sent.MD5OfMessageBody });
    expect(m.Attributes.ApproximateReceiveCount).toBe("1");
    expect(Number(m.Attributes.SentTimestamp)).toBeGreaterThanOrEqual(before - 1000);
    expect(Number(m.Attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(Number(m.Attributes.SentTimestamp));
    expect((await receiveAll(QueueUrl)).Messages).toBeUndefined(); // in flight
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    // Deleting again: the message is gone, which SQS answers as success.
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    expect((await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }))).Attributes).toMatchObject({
      ApproximateNumberOfMessages: "0",
      ApproximateNumberOfMessagesNotVisible: "0",
    });
    const bad = await failure(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: "not-a-handle" }));
    expect(bad.name).toBe("ReceiptHandleIsInvalid");
  });

  it("ChangeMessageVisibility: 0 makes a message visible at once (counting the receive), more extends it", async () => {
    const QueueUrl = await createQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "again" }));
    const first = (await receiveAll(QueueUrl, { VisibilityTimeout: 1 })).Messages[0];
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 60 }));
    await sleep(1500); // past the first timeout: still leased
    expect((await receiveAll(QueueUrl)).Messages).toBeUndefined();
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 0 }));
    const second = (await receiveAll(QueueUrl)).Messages[0];
    expect(second.MessageId).toBe(first.MessageId);
    expect(second.Attributes.ApproximateReceiveCount).toBe("2");
    expect(second.Attributes.ApproximateFirstReceiveTimestamp).toBe(first.Attributes.ApproximateFirstReceiveTimestamp);
    // The first receipt's lease is over: it changes and deletes nothing.
    const stale = await failure(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 5 }));
    expect(stale.name).toBe("MessageNotInflight");
    const expired = await failure(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first.ReceiptHandle }));
    expect(expired.name).toBe("InvalidParameterValue");
    expect(expired.message).toMatch(/expired/);
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: second.ReceiptHandle }));
  });

  it("batches: each entry answered alone; the batch errors SQS has", async () => {
    const QueueUrl = await createQueue();
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: "a", MessageBody: "first" },
          { Id: "b", MessageBody: "second", DelaySeconds: 901 },
          { Id: "c", MessageBody: "third", MessageAttributes: { k: { DataType: "String", StringValue: "v" } } },
          { Id: "d", MessageBody: "bad \u0000 char" },
        ],
      }),
    );
    expect(sent.Successful.map((s) => s.Id)).toEqual(["a", "c"]);
    expect(sent.Successful[1].MD5OfMessageAttributes).toBe(attributesMd5({ k: { DataType: "String", StringValue: "v" } }));
    expect(sent.Failed.map((f) => [f.Id, f.Code, f.SenderFault])).toEqual([
      ["b", "InvalidParameterValue", true],
      ["d", "InvalidMessageContents", true],
    ]);
    const { Messages } = await receiveAll(QueueUrl, { VisibilityTimeout: 30 });
    expect(Messages.map((m) => m.Body)).toEqual(["first", "third"]);

    const changed = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl,
        Entries: [
          { Id: "x", ReceiptHandle: Messages[0].ReceiptHandle, VisibilityTimeout: 0 },
          { Id: "y", ReceiptHandle: "garbage", VisibilityTimeout: 0 },
        ],
      }),
    );
    expect(changed.Successful).toEqual([{ Id: "x" }]);
    expect(changed.Failed.map((f) => [f.Id, f.Code])).toEqual([["y", "ReceiptHandleIsInvalid"]]);
    const again = (await receiveAll(QueueUrl)).Messages;
    expect(again.map((m) => m.Body)).toEqual(["first"]);

    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: "p", ReceiptHandle: again[0].ReceiptHandle },
          { Id: "q", ReceiptHandle: Messages[1].ReceiptHandle },
          { Id: "r", ReceiptHandle: Messages[0].ReceiptHandle }, // the lease given back above
        ],
      }),
    );
    expect(deleted.Successful.map((s) => s.Id).sort()).toEqual(["p", "q"]);
    expect(deleted.Failed.map((f) => [f.Id, f.Code])).toEqual([["r", "InvalidParameterValue"]]);

    const tooMany = Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: "x" }));
    expect((await failure(new SendMessageBatchCommand({ QueueUrl, Entries: tooMany }))).name).toBe("TooManyEntriesInBatchRequest");
    expect((await failure(new SendMessageBatchCommand({ QueueUrl, Entries: [] }))).name).toBe("EmptyBatchRequest");
    const twice = [
      { Id: "same", MessageBody: "x" },
      { Id: "same", MessageBody: "y" },
    ];
    expect((await failure(new SendMessageBatchCommand({ QueueUrl, Entries: twice }))).name).toBe("BatchEntryIdsNotDistinct");
    expect((await failure(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: "no spaces", MessageBody: "x" }] }))).name).toBe(
      "InvalidBatchEntryId",
    );
  });

  it("message size: the body's and attributes' bytes against MaximumMessageSize; parameters out of range", async () => {
    const QueueUrl = await createQueue(uniqueName(), { MaximumMessageSize: "1024" });
    // Quotes and backslashes double as JSON, but SQS counts the text: 1024 bytes fit.
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: '"\\'.repeat(512) }));
    const big = await failure(new SendMessageCommand({ QueueUrl, MessageBody: "x".repeat(1020), MessageAttributes: { abc: { DataType: "String", StringValue: "d" } } }));
    expect(big.name).toBe("InvalidParameterValue");
    expect(big.message).toMatch(/shorter than 1024 bytes/);
    expect((await failure(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 11 }))).name).toBe("InvalidParameterValue");
    expect((await failure(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 21 }))).name).toBe("InvalidParameterValue");
    expect((await failure(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ["Bogus"] }))).name).toBe("InvalidAttributeName");
    expect((await failure(new SendMessageCommand({ QueueUrl, MessageBody: "" }))).name).toBe("MissingParameter");
    const reserved = await failure(new SendMessageCommand({ QueueUrl, MessageBody: "x", MessageAttributes: { "AWS.x": { DataType: "String", StringValue: "v" } } }));
    expect(reserved.name).toBe("InvalidParameterValue");
    const { Messages } = await receiveAll(QueueUrl);
    expect(Messages.map((m) => m.Body)).toEqual(['"\\'.repeat(512)]);
  });

  it("DelaySeconds of a message and of the queue", async () => {
    const QueueUrl = await createQueue();
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "later", DelaySeconds: 2 }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "now" }));
    expect((await receiveAll(QueueUrl)).Messages.map((m) => m.Body)).toEqual(["now"]);
    expect((await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessagesDelayed"] }))).Attributes).toEqual({
      ApproximateNumberOfMessagesDelayed: "1",
    });
    const delayedQueue = await createQueue(uniqueName(), { DelaySeconds: "2" });
    await sqs.send(new SendMessageCommand({ QueueUrl: delayedQueue, MessageBody: "queue delay" }));
    expect((await receiveAll(delayedQueue)).Messages).toBeUndefined();
    const started = Date.now();
    const waited = await receiveAll(delayedQueue, { WaitTimeSeconds: 10 });
    expect(waited.Messages.map((m) => m.Body)).toEqual(["queue delay"]);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it("long-poll: a waiting ReceiveMessage wakes up for a message sent while it waits", async () => {
    const QueueUrl = await createQueue();
    const started = Date.now();
    const waiting = receiveAll(QueueUrl, { WaitTimeSeconds: 20 });
    await sleep(700);
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "wake up" }));
    const { Messages } = await waiting;
    const waited = Date.now() - started;
    expect(Messages.map((m) => m.Body)).toEqual(["wake up"]);
    expect(waited).toBeGreaterThanOrEqual(600);
    expect(waited).toBeLessThan(10_000);
    // With nothing sent, it answers empty after WaitTimeSeconds.
    const emptyStart = Date.now();
    expect((await receiveAll(QueueUrl, { WaitTimeSeconds: 1 })).Messages).toBeUndefined();
    expect(Date.now() - emptyStart).toBeGreaterThanOrEqual(900);
  });

  it("a consumer that leaves during a long-poll takes no lease: the message goes to the next consumer, its first receive", async () => {
    const QueueUrl = await createQueue();
    const abort = new AbortController();
    const leaving = receiveAll(QueueUrl, { WaitTimeSeconds: 20 }, { abortSignal: abort.signal }).catch((err) => err);
    await sleep(1_000);
    abort.abort();
    expect(String(await leaving)).toMatch(/abort/i);
    await sleep(700); // the next space the wait writes finds the connection gone
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "for whoever is there" }));
    const started = Date.now();
    const { Messages } = await receiveAll(QueueUrl, { WaitTimeSeconds: 10 });
    expect(Messages.map((m) => m.Body)).toEqual(["for whoever is there"]);
    expect(Messages[0].Attributes.ApproximateReceiveCount).toBe("1");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("the queue's ReceiveMessageWaitTimeSeconds makes a receive without WaitTimeSeconds long-poll", async () => {
    const QueueUrl = await createQueue(uniqueName(), { ReceiveMessageWaitTimeSeconds: "2" });
    const started = Date.now();
    expect((await receiveAll(QueueUrl)).Messages).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_800);
  });
});
