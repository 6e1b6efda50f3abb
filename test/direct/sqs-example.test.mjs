// examples/sqs/orders.mjs, a program written for SQS, runs against edgeq with
// only its endpoint and credentials changed (given here as the environment
// it reads).
import { spawn } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KEY, startSqsWorker } from "./sqs-helpers.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
let worker;

beforeAll(async () => {
  worker = await startSqsWorker();
});

afterAll(async () => {
  await worker?.stop();
});

function runExample(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["examples/sqs/orders.mjs"], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

it("the SQS program runs against edgeq: send, long-poll, delete, FIFO order, a dead-letter queue and its redrive", async () => {
  const { code, output } = await runExample({ SQS_ENDPOINT: worker.url, AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey });
  expect(output).toContain("ok - payments.fifo: each account's events in order");
  expect(output).toContain("ok - redrive: the message is back in its queue");
  expect(output).toContain("done: edgeq behaved as SQS");
  expect(code, output).toBe(0);
});

it("the same program fails, and says so, with credentials edgeq does not know", async () => {
  const { code, output } = await runExample({ SQS_ENDPOINT: worker.url, AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: "wrong" });
  expect(code).toBe(1);
  expect(output).toMatch(/failed: The request signature we calculated does not match/);
});
