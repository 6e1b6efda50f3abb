// A program written for Amazon SQS, with the AWS SDK for JavaScript v3. Only
// the client's endpoint and credentials point it at edgeq (see ENDPOINT and
// CREDENTIALS below); everything else is plain SQS:
//
//   1. orders: send, long-poll receive, delete;
//   2. payments.fifo: FIFO order within each message group;
//   3. a poison message: after maxReceiveCount receives its RedrivePolicy
//      moves it to the dead-letter queue; a message move task redrives it.
//
// Run it against `npm start` (which serves edgeq on http://localhost:8787 with
// the development key of .dev.vars.example):
//
//   node examples/sqs/orders.mjs
//
// SQS_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY override the
// defaults. It exits 0 when everything happened as SQS promises, 1 otherwise.
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";

// The only lines that differ from a program for AWS.
const ENDPOINT = process.env.SQS_ENDPOINT ?? "http://localhost:8787";
const CREDENTIALS = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "AKIDEDGEQLOCAL",
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "edgeq-local-secret-change-me",
};

const sqs = new SQSClient({ endpoint: ENDPOINT, region: "us-east-1", credentials: CREDENTIALS });

/** Queue names of this run, so that runs against one server do not meet. */
const run = process.env.RUN_ID ?? Date.now().toString(36);

function check(condition, what) {
  if (!condition) throw new Error(`not as expected: ${what}`);
  console.log(`ok - ${what}`);
}

const createQueue = async (QueueName, Attributes) => (await sqs.send(new CreateQueueCommand({ QueueName, Attributes }))).QueueUrl;
const arnOf = async (QueueUrl) => (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes.QueueArn;
const receive = async (QueueUrl, extra = {}) =>
  (await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 20, MessageSystemAttributeNames: ["All"], ...extra }))).Messages ?? [];
const remove = (QueueUrl, message) => sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }));

async function orders() {
  const queue = await createQueue(`orders-${run}`);
  await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queue,
      Entries: ["book", "lamp", "chair"].map((item, i) => ({
        Id: `order-${i}`,
        MessageBody: JSON.stringify({ item }),
        MessageAttributes: { priority: { DataType: "Number", StringValue: String(i) } },
      })),
    }),
  );
  const seen = [];
  while (seen.length < 3) {
    for (const m of await receive(queue, { MessageAttributeNames: ["All"] })) {
      seen.push(JSON.parse(m.Body).item);
      await remove(queue, m);
    }
  }
  check(seen.sort().join() === "book,chair,lamp", "orders: three sent, three received and deleted");
  // A long poll waits for the next message instead of answering empty at once.
  const started = Date.now();
  const waiting = receive(queue);
  await new Promise((r) => setTimeout(r, 500));
  await sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: JSON.stringify({ item: "late" }) }));
  const [late] = await waiting;
  check(JSON.parse(late.Body).item === "late" && Date.now() - started < 15_000, "orders: a long-poll receive woke up for a message sent while it waited");
  await remove(queue, late);
}

async function payments() {
  const queue = await createQueue(`payments-${run}.fifo`, { FifoQueue: "true", ContentBasedDeduplication: "true" });
  const events = ["alice:open", "bob:open", "alice:pay", "bob:pay", "alice:close", "bob:close"];
  for (const event of events) {
    await sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: event, MessageGroupId: event.split(":")[0] }));
  }
  // A retry of a send within five minutes is deduplicated (here by content).
  await sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: "alice:open", MessageGroupId: "alice" }));
  const byAccount = { alice: [], bob: [] };
  let received = 0;
  while (received < events.length) {
    for (const m of await receive(queue, { WaitTimeSeconds: 5 })) {
      byAccount[m.Attributes.MessageGroupId].push(m.Body.split(":")[1]);
      received++;
      await remove(queue, m);
    }
  }
  check(byAccount.alice.join() === "open,pay,close" && byAccount.bob.join() === "open,pay,close", "payments.fifo: each account's events in order");
  check((await receive(queue, { WaitTimeSeconds: 1 })).length === 0, "payments.fifo: the repeated send was deduplicated");
}

async function poisonAndRedrive() {
  const dlq = await createQueue(`orders-dlq-${run}`);
  const dlqArn = await arnOf(dlq);
  const queue = await createQueue(`jobs-${run}`, { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }) });
  await sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: "poison" }));
  for (let attempt = 1; attempt <= 2; attempt++) {
    const [m] = await receive(queue);
    check(m?.Attributes.ApproximateReceiveCount === String(attempt), `jobs: the poison message, receive ${attempt}`);
    // The consumer fails: the message becomes visible again at once.
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queue, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
  }
  const [dead] = await receive(dlq, { VisibilityTimeout: 1 });
  check(dead?.Body === "poison" && dead.Attributes.DeadLetterQueueSourceArn === (await arnOf(queue)), "jobs: after maxReceiveCount it is in the dead-letter queue");
  await new Promise((r) => setTimeout(r, 1_100)); // its visibility timeout in the dead-letter queue ends

  // Fixed: move it back to the queue it came from.
  await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }));
  let status;
  for (let i = 0; i < 100 && status !== "COMPLETED"; i++) {
    [{ Status: status }] = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn }))).Results;
    if (status !== "COMPLETED") await new Promise((r) => setTimeout(r, 100));
  }
  check(status === "COMPLETED", "redrive: the message move task completed");
  const [back] = await receive(queue);
  check(back?.Body === "poison", "redrive: the message is back in its queue");
  await remove(queue, back);
}

try {
  await orders();
  await payments();
  await poisonAndRedrive();
  console.log("done: edgeq behaved as SQS");
} catch (err) {
  console.error(`failed: ${err.message}`);
  process.exitCode = 1;
}
