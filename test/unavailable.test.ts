import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../worker/app";
import { ADMIN_TOKEN, BASE, uniqueQueue } from "./helpers";

/** A partition namespace whose objects all fail the way the runtime reports it. */
function failingPartitions(props: { retryable?: boolean; overloaded?: boolean }) {
  const fail = () => {
    throw Object.assign(new Error("Durable Object reset because its code was updated."), props);
  };
  const stub = new Proxy({}, { get: () => fail });
  return { ...env.QUEUE_PARTITION, idFromName: () => ({}), get: () => stub } as unknown as DurableObjectNamespace;
}

const enqueueWith = (partitions: DurableObjectNamespace, queue: string) =>
  app.fetch(
    new Request(`${BASE}/v1/queues/${queue}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ body: 1 }),
    }),
    { ...env, QUEUE_PARTITION: partitions } as unknown as Env,
    createExecutionContext(),
  );

describe("a partition that cannot be reached", () => {
  it.each([
    ["retryable", { retryable: true }],
    ["overloaded", { overloaded: true }],
  ])("answers 503 UNAVAILABLE with Retry-After when the failure is %s", async (_name, props) => {
    const res = await enqueueWith(failingPartitions(props), uniqueQueue("unavail"));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UNAVAILABLE");
  });

  it("answers 500 INTERNAL, with no detail, for a failure that is not marked retryable", async () => {
    const res = await enqueueWith(failingPartitions({}), uniqueQueue("unavail"));
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
    expect(text).not.toContain("reset");
  });
});
