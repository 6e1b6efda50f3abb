import { describe, expect, it } from "vitest";
import { useFakeClock } from "./fixture";
import { uniqueQueue } from "./helpers";
import { fanOut, publish, putTopic, queueContents, topicStats } from "./topic-helpers";

useFakeClock();

describe("topics: fan-out", () => {
  it("smoke", async () => {
    const t = uniqueQueue("t");
    const a = uniqueQueue("a");
    const b = uniqueQueue("b");
    await putTopic(t, { subscriptions: [{ queue: a }, { queue: b, filter: { kind: ["paid"] } }] });
    await publish(t, { messages: [{ body: 1, attributes: { kind: "paid" } }, { body: 2 }] });
    console.log(await topicStats(t));
    await fanOut(t);
    console.log(await topicStats(t));
    console.log((await queueContents(a)).map((m) => m.body), (await queueContents(b)).map((m) => m.body));
  });
});
