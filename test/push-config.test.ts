/**
 * Push delivery's configuration: what PUT takes and refuses, the signing
 * secret answered once and never shown again, rotation, and pulls refused
 * on a queue that pushes.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULT_PUSH } from "../client/protocol";
import { call, get, partition, post, receive, send, uniqueQueue } from "./helpers";
import { configure, hook } from "./push-helpers";

const put = (q: string, body: unknown) => call("PUT", `/v1/queues/${q}`, body);

/** Every string in a JSON value, to look for a secret anywhere in it. */
const text = (value: unknown) => JSON.stringify(value);

describe("push: configuration", () => {
  it("PUT points push at an endpoint: the configuration shows the target and header names, defaults filled in", async () => {
    const q = uniqueQueue("pcfg");
    const res = await put(q, { push: { url: hook("ok"), headers: { Authorization: "Bearer s3cret-token", "X-Team": "pay" } } });
    expect(res.status).toBe(201);
    expect(res.json.config.push).toEqual({
      url: hook("ok"),
      headerNames: ["authorization", "x-team"],
      ...DEFAULT_PUSH,
    });
    const got = await get(`/v1/queues/${q}`);
    expect(got.json.config.push).toEqual(res.json.config.push);
    const worker = await put(q, { push: { service: "CONSUMER", batchSize: 3, batchWaitMs: 500, timeoutMs: 2000 } });
    expect(worker.json.config.push).toEqual({ service: "CONSUMER", batchSize: 3, batchWaitMs: 500, timeoutMs: 2000 });
    const off = await put(q, { push: null });
    expect(off.json.config.push).toBeNull();
  });

  it("answers the signing secret once, on the PUT that first points push at an endpoint; GET, list and stats never show it", async () => {
    const q = uniqueQueue("pcfg");
    const first = await put(q, { push: { url: hook("ok"), headers: { authorization: "Bearer header-value-1" } } });
    const secret: string = first.json.push.signingSecret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(first.json.push.previousExpiresAt).toBeNull();
    // A change of endpoint or settings keeps the secret, and does not show it again.
    const again = await put(q, { push: { url: hook("results"), batchSize: 5 } });
    expect(again.json.push).toBeUndefined();
    const readers = [
      await get(`/v1/queues/${q}`),
      await get("/v1/queues?limit=1000"),
      await get(`/v1/queues/${q}/stats`),
      await get("/metrics"),
      await get("/dashboard/view"),
    ];
    for (const r of readers) {
      expect(r.status).toBe(200);
      expect(r.text).not.toContain(secret.slice(6));
      expect(r.text).not.toContain("header-value-1");
    }
    // The partition got it, to sign with.
    const stored = await runInDurableObject(partition(q), (_, state) =>
      state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'pushSecrets'").one().value,
    );
    expect(JSON.parse(stored).signingSecrets[0].secret).toBe(secret);
    // Push removed, then set again: a new secret, answered again.
    await put(q, { push: null });
    const back = await put(q, { push: { url: hook("ok") } });
    expect(back.json.push.signingSecret).toMatch(/^whsec_/);
    expect(back.json.push.signingSecret).not.toBe(secret);
  });

  it("rotates the secret: answered once, the previous one kept for 24 hours; 409 without an endpoint", async () => {
    const q = uniqueQueue("pcfg");
    const first = (await put(q, { push: { url: hook("ok") } })).json.push.signingSecret;
    const before = Date.now();
    const rotated = await post(`/v1/queues/${q}/push/rotate-secret`);
    expect(rotated.status).toBe(200);
    const second = rotated.json.push.signingSecret;
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    expect(rotated.json.push.previousExpiresAt).toBeGreaterThanOrEqual(before + 24 * 3600_000);
    expect(rotated.json.push.previousExpiresAt).toBeLessThanOrEqual(Date.now() + 24 * 3600_000);
    expect((await get(`/v1/queues/${q}`)).text).not.toContain(second.slice(6));
    const secrets = await runInDurableObject(partition(q), (_, state) =>
      JSON.parse(state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'pushSecrets'").one().value),
    );
    expect(secrets.signingSecrets.map((s: { secret: string }) => s.secret)).toEqual([second, first]);

    const worker = uniqueQueue("pcfg");
    await configure(worker, { push: { service: "CONSUMER" } });
    const refused = await post(`/v1/queues/${worker}/push/rotate-secret`);
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe("CONFLICT");
    const plain = uniqueQueue("pcfg");
    await configure(plain, {});
    expect((await post(`/v1/queues/${plain}/push/rotate-secret`)).json.error.code).toBe("CONFLICT");
    expect((await post(`/v1/queues/${uniqueQueue("none")}/push/rotate-secret`)).json.error.code).toBe("QUEUE_NOT_FOUND");
  });

  it("refuses a bad push with a 4xx that names the field, and changes nothing", async () => {
    const q = uniqueQueue("pcfg");
    await configure(q, { push: { url: hook("ok"), batchSize: 7 } });
    const cases: [unknown, number, string][] = [
      [{}, 400, "push.url"],
      [{ url: hook(), service: "CONSUMER" }, 400, "push.url"],
      [{ service: "CONSUMER", headers: { a: "b" } }, 400, "push.headers"],
      [{ url: hook(), bogus: 1 }, 400, "bogus"],
      [{ url: hook(), batchSize: "5" }, 400, "push.batchSize"],
      ["https://hooks.test", 400, "push"],
      [{ url: "ftp://hooks.test/x" }, 422, "push.url"],
      [{ url: "nope" }, 422, "push.url"],
      [{ url: "https://me:pw@hooks.test/x" }, 422, "push.url"],
      [{ url: hook(), batchSize: 0 }, 422, "push.batchSize"],
      [{ url: hook(), batchSize: 101 }, 422, "push.batchSize"],
      [{ url: hook(), batchSize: 2.5 }, 422, "push.batchSize"],
      [{ url: hook(), batchWaitMs: 60_001 }, 422, "push.batchWaitMs"],
      [{ url: hook(), timeoutMs: 999 }, 422, "push.timeoutMs"],
      [{ url: hook(), timeoutMs: 60_001 }, 422, "push.timeoutMs"],
      [{ url: hook(), headers: { "Webhook-Signature": "v1,forged" } }, 422, "webhook-signature"],
      [{ url: hook(), headers: { "content-type": "text/plain" } }, 422, "content-type"],
      [{ url: hook(), headers: { "bad name": "x" } }, 422, "push.headers"],
      [{ url: hook(), headers: { a: "line\nbreak" } }, 422, "push.headers.a"],
      [{ service: "NO_SUCH_BINDING" }, 422, "push.service"],
      [{ service: "QUEUE_REGISTRY" }, 422, "push.service"],
      [{ service: "ASSETS" }, 422, "push.service"],
      [{ service: "lower-case-dash" }, 422, "push.service"],
    ];
    for (const [push, status, field] of cases) {
      const res = await put(q, { push });
      expect(res.status, JSON.stringify(push)).toBe(status);
      expect(res.json.error.message, JSON.stringify(push)).toContain(field);
    }
    expect((await get(`/v1/queues/${q}`)).json.config.push).toMatchObject({ url: hook("ok"), batchSize: 7 });
  });

  it("a queue that pushes refuses receives, long-polls and acks-with-receive with 409 CONFLICT", async () => {
    const q = uniqueQueue("pcfg");
    await send(q, { body: "pulled before push" });
    const [pulled] = await receive(q, { visibilityTimeoutMs: 60_000 });
    await configure(q, { push: { url: hook("ok") }, paused: true });
    for (const body of [{}, { waitMs: 1000 }, { ack: [pulled.receipt] }]) {
      const res = await post(`/v1/queues/${q}/messages/receive`, body);
      expect(res.status, JSON.stringify(body)).toBe(409);
      expect(res.json.error.code).toBe("CONFLICT");
      expect(res.json.error.message).toContain("push");
    }
    // A lease taken before push was set can still be settled.
    const acked = await post(`/v1/queues/${q}/messages/ack`, { receipts: [pulled.receipt] });
    expect(acked.json.results[0].ok).toBe(true);
    // Through the service binding, the same answer.
    const producer = (env as unknown as { PRODUCER: Fetcher }).PRODUCER;
    const rpc = await producer.fetch("https://producer/rpc", { method: "POST", body: JSON.stringify({ op: "receive", args: [q, {}] }) });
    expect(((await rpc.json()) as { result: { error: { code: string } } }).result.error.code).toBe("CONFLICT");
    // Push off: receives work again.
    await configure(q, { push: null, paused: false });
    expect((await post(`/v1/queues/${q}/messages/receive`, {})).status).toBe(200);
  });

  it("the service binding sets push and rotates, answering the secret as the HTTP API does", async () => {
    const q = uniqueQueue("pcfg");
    const producer = (env as unknown as { PRODUCER: Fetcher }).PRODUCER;
    const rpc = async (op: string, args: unknown[]) =>
      ((await (await producer.fetch("https://producer/rpc", { method: "POST", body: JSON.stringify({ op, args }) })).json()) as { result: any })
        .result;
    const set = await rpc("configureQueue", [q, { push: { url: hook("ok") } }]);
    expect(set.push.signingSecret).toMatch(/^whsec_/);
    const rotated = await rpc("rotatePushSecret", [q]);
    expect(rotated.push.signingSecret).not.toBe(set.push.signingSecret);
    const bad = await rpc("configureQueue", [q, { push: { url: "ftp://x" } }]);
    expect(bad.error.code).toBe("INVALID_VALUE");
  });
});
