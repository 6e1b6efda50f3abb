/**
 * Topics as resources (create, change, read, list, delete, validation) and
 * what a publish does: each subscribed queue whose filter takes a message
 * gets one copy of it, with its attributes, group and delay, in publish
 * order; dedup ids dedup at the topic; changes of subscriptions apply to
 * what is published after them. The clock is fake and far ahead, so the
 * topic's alarm runs only when a test runs it (fanOut).
 */
import { describe, expect, it } from "vitest";
import { TOPIC_LIMITS } from "../client/protocol";
import { useFakeClock } from "./fixture";
import { call, get, post, uniqueQueue } from "./helpers";
import { fanOut, publish, putTopic, queueContents, topicStats } from "./topic-helpers";

const clock = useFakeClock();

const bodies = async (queue: string) => (await queueContents(queue)).map((m) => m.body);

describe("topics as resources", () => {
  it("PUT creates (201) then changes (200); GET shows the topic with its stats; DELETE removes it", async () => {
    const t = uniqueQueue("t");
    const created = await call("PUT", `/v1/topics/${t}`, { subscriptions: [{ queue: "payments" }] });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      name: t,
      config: { subscriptions: [{ queue: "payments" }], dedupWindowMs: 300_000 },
      createdAt: clock.now(),
    });
    const subscriptions = [{ queue: "emails", filter: { kind: ["paid", "refunded"] } }, { queue: "payments" }];
    const changed = await call("PUT", `/v1/topics/${t}`, { subscriptions, dedupWindowMs: 0 });
    expect(changed.status).toBe(200);
    expect(changed.json.config).toEqual({ subscriptions, dedupWindowMs: 0 });
    // Settings not given keep their value.
    expect((await call("PUT", `/v1/topics/${t}`, {})).json.config).toEqual({ subscriptions, dedupWindowMs: 0 });

    const shown = await get(`/v1/topics/${t}`);
    expect(shown.status).toBe(200);
    expect(shown.json).toMatchObject({ name: t, config: { subscriptions } });
    expect(shown.json.stats).toEqual({
      published: 0,
      duplicates: 0,
      filtered: 0,
      pending: 0,
      oldestPendingAgeMs: 0,
      subscriptions: subscriptions.map((s) => ({
        queue: s.queue,
        delivered: 0,
        filtered: 0,
        pending: 0,
        oldestPendingAgeMs: 0,
        failures: 0,
        lastError: null,
        retryAt: null,
      })),
    });

    const deleted = await call("DELETE", `/v1/topics/${t}`);
    expect(deleted.status).toBe(200);
    expect(deleted.json).toEqual({ name: t, deleted: true });
    for (const [method, path] of [
      ["GET", `/v1/topics/${t}`],
      ["GET", `/v1/topics/${t}/stats`],
      ["DELETE", `/v1/topics/${t}`],
    ]) {
      const res = await call(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.json.error.code).toBe("TOPIC_NOT_FOUND");
    }
    const published = await post(`/v1/topics/${t}/messages`, { body: 1 });
    expect(published.status).toBe(404);
    expect(published.json.error.code).toBe("TOPIC_NOT_FOUND");
  });

  it("publishing to a topic that was never created answers 404 TOPIC_NOT_FOUND and creates nothing", async () => {
    const t = uniqueQueue("never");
    const res = await post(`/v1/topics/${t}/messages`, { body: 1 });
    expect(res.status).toBe(404);
    expect(res.json.error).toEqual({ code: "TOPIC_NOT_FOUND", message: `topic ${t} does not exist` });
    expect((await get(`/v1/topics/${t}`)).status).toBe(404);
  });

  it("GET /v1/topics lists topics in name order, a page at a time, with or without stats", async () => {
    const prefix = uniqueQueue("list");
    const names = [`${prefix}-c`, `${prefix}-a`, `${prefix}-b`];
    for (const name of names) await putTopic(name, { subscriptions: [{ queue: `${name}-q` }] });
    const all: any[] = [];
    let cursor = `${prefix}-`;
    for (let page = 0; page < 10; page++) {
      const res = await get(`/v1/topics?limit=2&cursor=${cursor}`);
      expect(res.status).toBe(200);
      all.push(...res.json.topics);
      if (res.json.cursor === null) break;
      cursor = res.json.cursor;
    }
    const mine = all.filter((x) => x.name.startsWith(prefix));
    expect(mine.map((x) => x.name)).toEqual([...names].sort());
    expect(mine[0].stats).toMatchObject({ published: 0, pending: 0 });
    expect(mine[0].config.subscriptions).toEqual([{ queue: `${prefix}-a-q` }]);
    const bare = await get(`/v1/topics?limit=1&cursor=${prefix}-&stats=false`);
    expect(bare.json.topics).toHaveLength(1);
    expect(bare.json.topics[0].stats).toBeUndefined();
    // A deleted topic is no longer listed.
    await call("DELETE", `/v1/topics/${prefix}-a`);
    const after = await get(`/v1/topics?limit=10&cursor=${prefix}-&stats=false`);
    expect(after.json.topics.map((x: any) => x.name).filter((n: string) => n.startsWith(prefix))).toEqual([`${prefix}-b`, `${prefix}-c`]);
  });

  it("refuses bad settings with a clear 4xx and changes nothing", async () => {
    const t = uniqueQueue("bad");
    await putTopic(t, { subscriptions: [{ queue: "keep" }] });
    const tooMany = Array.from({ length: TOPIC_LIMITS.maxSubscriptions + 1 }, (_, i) => ({ queue: `q${i}` }));
    const names = Object.fromEntries(Array.from({ length: TOPIC_LIMITS.maxFilterNames + 1 }, (_, i) => [`a${i}`, ["v"]]));
    for (const [body, status, field] of [
      [{ subscriptions: [{ queue: "a" }, { queue: "a" }] }, 422, "subscriptions"],
      [{ subscriptions: tooMany }, 422, "subscriptions"],
      [{ subscriptions: [{ queue: "a b" }] }, 422, "subscriptions[0].queue"],
      [{ subscriptions: [{ queue: "a", filter: { kind: [] } }] }, 422, "subscriptions[0].filter.kind"],
      [{ subscriptions: [{ queue: "a", filter: { kind: "paid" } }] }, 400, "subscriptions[0].filter.kind"],
      [{ subscriptions: [{ queue: "a", filter: names }] }, 422, "subscriptions[0].filter"],
      [{ subscriptions: [{ queue: "a", other: 1 }] }, 400, "subscriptions[0]"],
      [{ subscriptions: { queue: "a" } }, 400, "subscriptions"],
      [{ dedupWindowMs: -1 }, 422, "dedupWindowMs"],
      [{ dedupWindowMs: 25 * 3600_000 }, 422, "dedupWindowMs"],
      [{ name: t }, 400, "name"],
    ] as const) {
      const res = await call("PUT", `/v1/topics/${t}`, body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.json.error.message, JSON.stringify(body)).toContain(field);
    }
    for (const name of ["a.b", "a%20b", "x".repeat(65)]) {
      const res = await call("PUT", `/v1/topics/${name}`, {});
      expect(res.status, name).toBe(400);
      expect(res.json.error).toMatchObject({ code: "INVALID_REQUEST", message: expect.stringContaining("topic") });
    }
    expect((await get(`/v1/topics/${t}`)).json.config).toEqual({ subscriptions: [{ queue: "keep" }], dedupWindowMs: 300_000 });
  });

  it("refuses bad publishes whole: nothing of the request is stored", async () => {
    const t = uniqueQueue("badpub");
    await putTopic(t, { subscriptions: [{ queue: uniqueQueue("q") }] });
    for (const [body, status] of [
      [{ messages: [{ body: 1 }, { body: 2, delayMs: -1 }] }, 422],
      [{ messages: [] }, 422],
      [{ body: 1, extra: true }, 400],
      [{ messages: Array.from({ length: 101 }, () => ({ body: 1 })) }, 422],
      [{ messages: [{ body: 1 }, { body: "x".repeat(TOPIC_LIMITS.maxMessageBytes) }] }, 413],
    ] as const) {
      const res = await post(`/v1/topics/${t}/messages`, body);
      expect(res.status, JSON.stringify(body).slice(0, 100)).toBe(status);
    }
    expect(await topicStats(t)).toMatchObject({ published: 0, pending: 0 });
  });
});

describe("publishing: each subscribed queue gets one copy", () => {
  it("a message goes to every subscribed queue with its body, attributes, group and delay", async () => {
    const [t, a, b] = [uniqueQueue("t"), uniqueQueue("a"), uniqueQueue("b")];
    await putTopic(t, { subscriptions: [{ queue: a }, { queue: b }] });
    const publishedAt = clock.now();
    const sent = await publish(t, { body: { order: 1 }, attributes: { kind: "paid" }, groupId: "customer-7", delayMs: 60_000 });
    expect(sent.messages).toEqual([{ id: expect.any(String) }]);
    expect(await topicStats(t)).toMatchObject({ published: 1, pending: 1, oldestPendingAgeMs: 0 });

    // The fan-out runs late: the delay still counts from the publish.
    clock.advance(20_000);
    expect(await topicStats(t)).toMatchObject({ pending: 1, oldestPendingAgeMs: 20_000 });
    await fanOut(t);
    for (const q of [a, b]) {
      const copies = await queueContents(q);
      expect(copies).toHaveLength(1);
      expect(copies[0]).toMatchObject({
        body: { order: 1 },
        attributes: { kind: "paid" },
        groupId: "customer-7",
        state: "delayed",
        visibleAt: publishedAt + 60_000,
      });
    }
    const stats = await topicStats(t);
    expect(stats).toMatchObject({ published: 1, pending: 0, oldestPendingAgeMs: 0, filtered: 0 });
    expect(stats.subscriptions.map((s) => [s.queue, s.delivered, s.pending])).toEqual([
      [a, 1, 0],
      [b, 1, 0],
    ]);
  });

  it("filters: every name must match, any one value per name; a message no filter takes is `filtered`", async () => {
    const [t, all, money, euPaid] = [uniqueQueue("t"), uniqueQueue("all"), uniqueQueue("money"), uniqueQueue("eu")];
    await putTopic(t, {
      subscriptions: [
        { queue: all },
        { queue: money, filter: { kind: ["paid", "refunded"] } },
        { queue: euPaid, filter: { kind: ["paid"], region: ["eu", "uk"] } },
      ],
    });
    const messages = [
      { body: "none" },
      { body: "paid-us", attributes: { kind: "paid", region: "us" } },
      { body: "paid-eu", attributes: { kind: "paid", region: "eu" } },
      { body: "refunded-uk", attributes: { kind: "refunded", region: "uk" } },
      { body: "shipped", attributes: { kind: "shipped" } },
      { body: "paid-uk", attributes: { region: "uk", kind: "paid", extra: "x" } },
      { body: "case", attributes: { kind: "Paid", region: "eu" } },
    ];
    await publish(t, { messages });
    await fanOut(t);
    expect(await bodies(all)).toEqual(messages.map((m) => m.body));
    expect(await bodies(money)).toEqual(["paid-us", "paid-eu", "refunded-uk", "paid-uk"]);
    expect(await bodies(euPaid)).toEqual(["paid-eu", "paid-uk"]);
    const stats = await topicStats(t);
    expect(stats.filtered).toBe(0); // `all` takes everything
    expect(stats.subscriptions.map((s) => [s.delivered, s.filtered])).toEqual([
      [7, 0],
      [4, 3],
      [2, 5],
    ]);

    // Without the catch-all, a message no filter takes is counted, not stored, and not an error.
    const narrow = uniqueQueue("t");
    await putTopic(narrow, { subscriptions: [{ queue: money, filter: { kind: ["paid", "refunded"] } }] });
    const res = await publish(narrow, { messages: [{ body: "shipped", attributes: { kind: "shipped" } }, { body: "no attributes" }] });
    expect(res.messages).toHaveLength(2);
    expect(await topicStats(narrow)).toMatchObject({ published: 2, filtered: 2, pending: 0 });
    expect(await fanOut(narrow)).toBeUndefined();
    expect(await bodies(money)).toHaveLength(4);
  });

  it("batches and groups across two subscriptions: each copy once, per-group order in each queue", async () => {
    const [t, a, b] = [uniqueQueue("t"), uniqueQueue("a"), uniqueQueue("b")];
    // One queue on four partitions: a group's copies all go to one partition, in order.
    expect((await call("PUT", `/v1/queues/${b}`, { partitions: 4 })).status).toBe(201);
    await putTopic(t, { subscriptions: [{ queue: a }, { queue: b, filter: { even: ["yes"] } }] });
    let n = 0;
    for (let batch = 0; batch < 3; batch++) {
      const messages = Array.from({ length: 100 }, () => {
        const i = n++;
        return { body: { i }, groupId: `g${i % 7}`, attributes: { even: i % 2 === 0 ? "yes" : "no" } };
      });
      expect((await publish(t, { messages })).messages).toHaveLength(100);
      // Half the batches fan out before the next publish, half after: the outbox keeps the order either way.
      if (batch === 0) await fanOut(t);
    }
    // One more alone, and a single without a group.
    await publish(t, { body: { i: n++ }, groupId: "g0", attributes: { even: "yes" } });
    await publish(t, { body: { i: n++ }, attributes: { even: "no" } });
    await fanOut(t);

    const check = async (queue: string, expected: number[]) => {
      const copies = await queueContents(queue);
      const seen = copies.map((m) => m.body.i);
      expect([...seen].sort((x, y) => x - y)).toEqual(expected);
      // Per group, the order of the copies (peek pages a partition in delivery order) is the publish order.
      const byGroup = new Map<string, number[]>();
      for (const m of copies) if (m.groupId) byGroup.set(m.groupId, [...(byGroup.get(m.groupId) ?? []), m.body.i]);
      for (const [group, list] of byGroup) expect(list, group).toEqual([...list].sort((x, y) => x - y));
    };
    const everything = Array.from({ length: n }, (_, i) => i);
    await check(a, everything);
    await check(b, everything.filter((i) => i % 2 === 0));
    const stats = await topicStats(t);
    expect(stats).toMatchObject({ published: n, pending: 0 });
    expect(stats.subscriptions.map((s) => [s.delivered, s.filtered])).toEqual([
      [n, 0],
      [151, 151],
    ]);
  });

  it("a dedupId dedups at the topic within its window: the copy is stored once", async () => {
    const [t, a] = [uniqueQueue("t"), uniqueQueue("a")];
    await putTopic(t, { subscriptions: [{ queue: a }], dedupWindowMs: 60_000 });
    const first = await publish(t, { body: "order-1", dedupId: "order-1" });
    const again = await publish(t, { messages: [{ body: "order-1 again", dedupId: "order-1" }, { body: "order-2", dedupId: "order-2" }, { body: "order-2 twice", dedupId: "order-2" }] });
    expect(again.messages[0]).toEqual({ id: first.messages[0].id, duplicate: true });
    expect(again.messages[1].duplicate).toBeUndefined();
    expect(again.messages[2]).toEqual({ id: again.messages[1].id, duplicate: true });
    await fanOut(t);
    expect(await bodies(a)).toEqual(["order-1", "order-2"]);
    expect(await topicStats(t)).toMatchObject({ published: 2, duplicates: 2 });
    // After the window the same id is a new message.
    clock.advance(60_001);
    expect((await publish(t, { body: "order-1 later", dedupId: "order-1" })).messages[0].duplicate).toBeUndefined();
    await fanOut(t);
    expect(await bodies(a)).toEqual(["order-1", "order-2", "order-1 later"]);
  });

  it("a new subscription gets what is published after it; a removed one stops, and its queue keeps what it has", async () => {
    const [t, a, b] = [uniqueQueue("t"), uniqueQueue("a"), uniqueQueue("b")];
    await putTopic(t, { subscriptions: [{ queue: a }] });
    await publish(t, { body: "m1" });
    await fanOut(t);
    await publish(t, { body: "m2 (pending when b is added)" });
    await putTopic(t, { subscriptions: [{ queue: a }, { queue: b }] });
    await publish(t, { body: "m3" });
    await fanOut(t);
    expect(await bodies(a)).toEqual(["m1", "m2 (pending when b is added)", "m3"]);
    expect(await bodies(b)).toEqual(["m3"]);

    // m4 waits in the outbox for both when a is removed: a never gets it.
    await publish(t, { body: "m4" });
    await putTopic(t, { subscriptions: [{ queue: b }] });
    await fanOut(t);
    expect(await bodies(a)).toEqual(["m1", "m2 (pending when b is added)", "m3"]);
    expect(await bodies(b)).toEqual(["m3", "m4"]);
    expect((await topicStats(t)).subscriptions.map((s) => s.queue)).toEqual([b]);

    // A filter change applies to what is published after it.
    await publish(t, { body: "m5", attributes: { kind: "x" } });
    await putTopic(t, { subscriptions: [{ queue: b, filter: { kind: ["y"] } }] });
    await publish(t, { body: "m6", attributes: { kind: "x" } });
    await publish(t, { body: "m7", attributes: { kind: "y" } });
    await fanOut(t);
    expect(await bodies(b)).toEqual(["m3", "m4", "m5", "m7"]);

    // Added again, a queue starts afresh from then on.
    await publish(t, { body: "m8", attributes: { kind: "y" } });
    await putTopic(t, { subscriptions: [{ queue: b, filter: { kind: ["y"] } }, { queue: a }] });
    await publish(t, { body: "m9", attributes: { kind: "y" } });
    await fanOut(t);
    expect(await bodies(a)).toEqual(["m1", "m2 (pending when b is added)", "m3", "m9"]);
    expect(await bodies(b)).toEqual(["m3", "m4", "m5", "m7", "m8", "m9"]);
  });

  it("a topic deleted with messages in its outbox drops them; the queues keep what they have, and the name starts afresh", async () => {
    const [t, a] = [uniqueQueue("t"), uniqueQueue("a")];
    await putTopic(t, { subscriptions: [{ queue: a }] });
    await publish(t, { body: "delivered" });
    await fanOut(t);
    await publish(t, { body: "pending" });
    expect((await call("DELETE", `/v1/topics/${t}`)).status).toBe(200);
    await fanOut(t);
    expect(await bodies(a)).toEqual(["delivered"]);

    const again = await call("PUT", `/v1/topics/${t}`, { subscriptions: [{ queue: a }] });
    expect(again.status).toBe(201);
    expect(await topicStats(t)).toMatchObject({ published: 0, pending: 0 });
    await publish(t, { body: "new life" });
    await fanOut(t);
    expect(await bodies(a)).toEqual(["delivered", "new life"]);
  });

  it("a subscribed queue that does not exist is created with the defaults (auto-create on)", async () => {
    const [t, a] = [uniqueQueue("t"), uniqueQueue("new")];
    await putTopic(t, { subscriptions: [{ queue: a }] });
    expect((await get(`/v1/queues/${a}`)).status).toBe(404);
    await publish(t, { body: 1 });
    await fanOut(t);
    const queue = await get(`/v1/queues/${a}`);
    expect(queue.status).toBe(200);
    expect(queue.json.config.partitions).toBe(1);
    expect(await bodies(a)).toEqual([1]);
  });
});
