// SQS's Query protocol (form in, XML out), as older clients speak it (Debian's
// awscli 2.9, boto3 before 1.28.82): every action by raw requests signed
// with @smithy/signature-v4, answers read for the element names SQS's API
// model gives them, errors as ErrorResponse with SQS's codes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attributesMd5, md5, queryRequest, sleep, startSqsWorker, uniqueName, xmlText, xmlTexts } from "./sqs-helpers.mjs";

let worker;

beforeAll(async () => {
  worker = await startSqsWorker();
});

afterAll(async () => {
  await worker?.stop();
});

/** A Query request that must succeed: its XML. */
async function ok(params, options) {
  const res = await queryRequest(worker.url, params, options);
  expect(res.status, res.text).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/xml/);
  // A long-poll that streamed sends spaces first, and then no XML declaration (XML allows spaces only without one).
  const declaration = params.Action === "ReceiveMessage" ? '(\\s*|<\\?xml version="1.0"\\?>)' : '<\\?xml version="1.0"\\?>';
  expect(res.text).toMatch(new RegExp(`^${declaration}<${params.Action}Response xmlns="http://queue.amazonaws.com/doc/2012-11-05/">`));
  expect(xmlText(res.text, "RequestId")).toMatch(/^[0-9a-f-]{36}$/);
  return res.text;
}

/** A Query request that must fail: its status and its error's code and message. */
async function error(params, options) {
  const res = await queryRequest(worker.url, params, options);
  expect(res.text).toMatch(/^<\?xml version="1.0"\?><ErrorResponse xmlns="http:\/\/queue.amazonaws.com\/doc\/2012-11-05\/"><Error><Type>(Sender|Receiver)<\/Type>/);
  return { status: res.status, code: xmlText(res.text, "Code"), message: xmlText(res.text, "Message") };
}

const createQueue = async (name, attributes = {}) => {
  const params = { Action: "CreateQueue", QueueName: name };
  Object.entries(attributes).forEach(([k, v], i) => Object.assign(params, { [`Attribute.${i + 1}.Name`]: k, [`Attribute.${i + 1}.Value`]: v }));
  return xmlText(await ok(params), "QueueUrl");
};

describe("the Query protocol", () => {
  it("queues: create, find, list, attributes, purge, delete", async () => {
    const name = uniqueName("q");
    const url = await createQueue(name, { VisibilityTimeout: "40", DelaySeconds: "0" });
    expect(url).toBe(`${worker.url}/000000000000/${name}`);
    expect(xmlText(await ok({ Action: "GetQueueUrl", QueueName: name }), "QueueUrl")).toBe(url);
    expect(xmlTexts(await ok({ Action: "ListQueues", QueueNamePrefix: name }), "QueueUrl")).toEqual([url]);
    expect(await ok({ Action: "ListQueues", QueueNamePrefix: `${name}-none` })).toContain("<ListQueuesResult></ListQueuesResult>");

    await ok({ Action: "SetQueueAttributes", QueueUrl: url, "Attribute.1.Name": "MaximumMessageSize", "Attribute.1.Value": "4096" });
    const attrs = await ok({ Action: "GetQueueAttributes", QueueUrl: url, "AttributeName.1": "VisibilityTimeout", "AttributeName.2": "MaximumMessageSize" });
    expect(xmlTexts(attrs, "Name")).toEqual(["VisibilityTimeout", "MaximumMessageSize"]);
    expect(xmlTexts(attrs, "Value")).toEqual(["40", "4096"]);
    // An action answering nothing has no Result element.
    expect(await ok({ Action: "PurgeQueue", QueueUrl: url })).not.toContain("PurgeQueueResult");
    await ok({ Action: "DeleteQueue", QueueUrl: url });
    expect(await error({ Action: "GetQueueUrl", QueueName: name })).toEqual({
      status: 400,
      code: "AWS.SimpleQueueService.NonExistentQueue",
      message: "The specified queue does not exist.",
    });
  });

  it("messages: send with attributes, receive with their checksums, change visibility, delete", async () => {
    const url = await createQueue(uniqueName("m"));
    const body = 'a < b && c > d, "quoted" \'single\'\r\nnext line ✓';
    const sent = await ok({
      Action: "SendMessage",
      QueueUrl: url,
      MessageBody: body,
      "MessageAttribute.1.Name": "count",
      "MessageAttribute.1.Value.DataType": "Number",
      "MessageAttribute.1.Value.StringValue": "1493147359900",
      "MessageAttribute.2.Name": "raw",
      "MessageAttribute.2.Value.DataType": "Binary",
      "MessageAttribute.2.Value.BinaryValue": Buffer.from([1, 2, 3]).toString("base64"),
    });
    const attributes = {
      count: { DataType: "Number", StringValue: "1493147359900" },
      raw: { DataType: "Binary", BinaryValue: Uint8Array.of(1, 2, 3) },
    };
    expect(xmlText(sent, "MD5OfMessageBody")).toBe(md5(body));
    expect(xmlText(sent, "MD5OfMessageAttributes")).toBe(attributesMd5(attributes));
    const id = xmlText(sent, "MessageId");

    const got = await ok({ Action: "ReceiveMessage", QueueUrl: url, "AttributeName.1": "All", "MessageAttributeName.1": "All", VisibilityTimeout: "30" });
    expect(xmlText(got, "MessageId")).toBe(id);
    // The body comes back exactly, a carriage return included (written as &#xD;, which XML keeps).
    expect(xmlText(got, "Body")).toBe(body);
    expect(got).toContain("&#xD;");
    expect(xmlText(got, "MD5OfBody")).toBe(md5(body));
    expect(xmlText(got, "MD5OfMessageAttributes")).toBe(attributesMd5(attributes));
    expect(got).toContain("<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>");
    expect(got).toContain("<MessageAttribute><Name>count</Name><Value><DataType>Number</DataType><StringValue>1493147359900</StringValue></Value></MessageAttribute>");
    expect(got).toContain("<MessageAttribute><Name>raw</Name><Value><DataType>Binary</DataType><BinaryValue>AQID</BinaryValue></Value></MessageAttribute>");
    const receipt = xmlText(got, "ReceiptHandle");

    await ok({ Action: "ChangeMessageVisibility", QueueUrl: url, ReceiptHandle: receipt, VisibilityTimeout: "0" });
    const again = await ok({ Action: "ReceiveMessage", QueueUrl: url, "AttributeName.1": "ApproximateReceiveCount" });
    expect(again).toContain("<Attribute><Name>ApproximateReceiveCount</Name><Value>2</Value></Attribute>");
    await ok({ Action: "DeleteMessage", QueueUrl: url, ReceiptHandle: xmlText(again, "ReceiptHandle") });
    expect(await ok({ Action: "ReceiveMessage", QueueUrl: url })).toContain("<ReceiveMessageResult></ReceiveMessageResult>");
  });

  it("batches: entries answered one by one, with SQS's element names", async () => {
    const url = await createQueue(uniqueName("b"));
    const sent = await ok({
      Action: "SendMessageBatch",
      QueueUrl: url,
      "SendMessageBatchRequestEntry.1.Id": "one",
      "SendMessageBatchRequestEntry.1.MessageBody": "first",
      "SendMessageBatchRequestEntry.2.Id": "two",
      "SendMessageBatchRequestEntry.2.MessageBody": "second",
      "SendMessageBatchRequestEntry.2.MessageAttribute.1.Name": "k",
      "SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.DataType": "String",
      "SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue": "v",
      "SendMessageBatchRequestEntry.3.Id": "three",
      "SendMessageBatchRequestEntry.3.MessageBody": "late",
      "SendMessageBatchRequestEntry.3.DelaySeconds": "1000",
    });
    expect(xmlTexts(sent, "SendMessageBatchResultEntry").map((e) => xmlText(`<x>${e}</x>`, "Id"))).toEqual(["one", "two"]);
    expect(xmlTexts(sent, "MD5OfMessageAttributes")).toEqual([attributesMd5({ k: { DataType: "String", StringValue: "v" } })]);
    const failed = xmlText(sent, "BatchResultErrorEntry");
    expect(failed).toContain("<Id>three</Id><SenderFault>true</SenderFault><Code>InvalidParameterValue</Code>");

    const got = await ok({ Action: "ReceiveMessage", QueueUrl: url, MaxNumberOfMessages: "10", "MessageAttributeName.1": "k" });
    const receipts = xmlTexts(got, "ReceiptHandle");
    expect(xmlTexts(got, "Body")).toEqual(["first", "second"]);
    const changed = await ok({
      Action: "ChangeMessageVisibilityBatch",
      QueueUrl: url,
      "ChangeMessageVisibilityBatchRequestEntry.1.Id": "a",
      "ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle": receipts[0],
      "ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout": "60",
    });
    expect(changed).toContain("<ChangeMessageVisibilityBatchResultEntry><Id>a</Id></ChangeMessageVisibilityBatchResultEntry>");
    const deleted = await ok({
      Action: "DeleteMessageBatch",
      QueueUrl: url,
      "DeleteMessageBatchRequestEntry.1.Id": "a",
      "DeleteMessageBatchRequestEntry.1.ReceiptHandle": receipts[0],
      "DeleteMessageBatchRequestEntry.2.Id": "b",
      "DeleteMessageBatchRequestEntry.2.ReceiptHandle": receipts[1],
      "DeleteMessageBatchRequestEntry.3.Id": "c",
      "DeleteMessageBatchRequestEntry.3.ReceiptHandle": "nonsense",
    });
    expect(xmlTexts(deleted, "DeleteMessageBatchResultEntry")).toEqual(["<Id>a</Id>", "<Id>b</Id>"]);
    expect(xmlText(deleted, "BatchResultErrorEntry")).toContain("<Code>ReceiptHandleIsInvalid</Code>");
    expect(await error({ Action: "DeleteMessageBatch", QueueUrl: url })).toMatchObject({ status: 400, code: "MissingParameter" });
  });

  it("a request posted to the queue URL names its queue by its path", async () => {
    const name = uniqueName("path");
    const url = await createQueue(name);
    await ok({ Action: "SendMessage", MessageBody: "by path" }, { path: `/000000000000/${name}` });
    expect(xmlText(await ok({ Action: "ReceiveMessage" }, { path: `/000000000000/${name}` }), "Body")).toBe("by path");
    expect(url.endsWith(`/000000000000/${name}`)).toBe(true);
  });

  it("dead letters: RedrivePolicy, ListDeadLetterSourceQueues and move tasks", async () => {
    const dlqName = uniqueName("dlq");
    const dlq = await createQueue(dlqName);
    const arn = (n) => `arn:aws:sqs:us-west-2:000000000000:${n}`;
    const source = await createQueue(uniqueName("src"), { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn(dlqName), maxReceiveCount: "1" }) });
    expect(xmlTexts(await ok({ Action: "ListDeadLetterSourceQueues", QueueUrl: dlq }), "QueueUrl")).toEqual([source]);
    await ok({ Action: "SendMessage", QueueUrl: source, MessageBody: "dies" });
    const got = await ok({ Action: "ReceiveMessage", QueueUrl: source });
    await ok({ Action: "ChangeMessageVisibility", QueueUrl: source, ReceiptHandle: xmlText(got, "ReceiptHandle"), VisibilityTimeout: "0" });
    const dead = await ok({ Action: "ReceiveMessage", QueueUrl: dlq, WaitTimeSeconds: "15", VisibilityTimeout: "1", "AttributeName.1": "DeadLetterQueueSourceArn" });
    expect(xmlText(dead, "Body")).toBe("dies");
    await sleep(1_100); // its lease in the dead-letter queue ends

    const started = await ok({ Action: "StartMessageMoveTask", SourceArn: arn(dlqName), MaxNumberOfMessagesPerSecond: "10" });
    const handle = xmlText(started, "TaskHandle");
    expect(handle).toEqual(expect.any(String));
    let listed;
    for (let i = 0; i < 50; i++) {
      listed = await ok({ Action: "ListMessageMoveTasks", SourceArn: arn(dlqName) });
      if (xmlText(listed, "Status") === "COMPLETED") break;
      await sleep(200);
    }
    expect(xmlText(listed, "ListMessageMoveTasksResultEntry")).toContain("<Status>COMPLETED</Status>");
    expect(xmlText(listed, "ApproximateNumberOfMessagesMoved")).toBe("1");
    expect(xmlText(await ok({ Action: "ReceiveMessage", QueueUrl: source }), "Body")).toBe("dies");
    expect(await error({ Action: "CancelMessageMoveTask", TaskHandle: handle })).toMatchObject({ status: 400, code: "AWS.SimpleQueueService.UnsupportedOperation" });
  });

  it("errors: in XML, with SQS's codes and statuses", async () => {
    expect(await error({ Action: "NoSuchAction" })).toMatchObject({ status: 400, code: "InvalidAction" });
    expect(await error({ Action: "TagQueue", QueueUrl: `${worker.url}/000000000000/x` })).toMatchObject({ status: 400, code: "InvalidAction" });
    expect(await error({})).toMatchObject({ status: 400, code: "MissingParameter" });
    expect(await error({ Action: "SendMessage", "a..b": "x" })).toMatchObject({ status: 400, code: "MalformedQueryString" });
    expect(await error({ Action: "SendMessage", QueueUrl: "not a url", MessageBody: "x" })).toMatchObject({ status: 404, code: "InvalidAddress" });
    expect(await error({ Action: "ReceiveMessage", QueueUrl: `${worker.url}/000000000000/absent-queue` })).toMatchObject({
      status: 400,
      code: "AWS.SimpleQueueService.NonExistentQueue",
    });
    const url = await createQueue(uniqueName("e"));
    expect(await error({ Action: "DeleteMessage", QueueUrl: url, ReceiptHandle: "x" })).toMatchObject({ status: 404, code: "ReceiptHandleIsInvalid" });
    expect(await error({ Action: "SendMessage", QueueUrl: url })).toMatchObject({ code: "MissingParameter", message: "The request must contain the parameter MessageBody." });
    const tooMany = { Action: "SendMessageBatch", QueueUrl: url };
    for (let i = 1; i <= 11; i++) Object.assign(tooMany, { [`SendMessageBatchRequestEntry.${i}.Id`]: `e${i}`, [`SendMessageBatchRequestEntry.${i}.MessageBody`]: "x" });
    expect(await error(tooMany)).toMatchObject({ status: 400, code: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest" });
  });
});
