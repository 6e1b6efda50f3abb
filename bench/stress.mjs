// npm run bench:stress : mixed enqueue load, checked for failures.
// Batches of 100 at concurrency 8 and single messages at concurrency 32, on
// queues of 1, 4 and 16 partitions, 4 s each, ROUNDS times (default 3,
// about 75 s). Counts every answer that is not 201 by case, prints one
// line, and exits 1 if there was any: a full bench run stops at the first
// failure, this counts them, so a rare hang or refusal shows.
// EDGEQ_BUNDLE=path runs a bundle built before.
import { rmSync } from "node:fs";
import { buildWorker, startServer, stopServer, tempDir, api } from "./harness.mjs";
import { closedLoop } from "./http.mjs";
import { body } from "./workloads.mjs";

const rounds = Number(process.env.ROUNDS ?? 3);
const bundle = process.env.EDGEQ_BUNDLE ?? buildWorker();
const persist = tempDir("edgeq-stress-");
const server = await startServer({ bundle, persist });
const q = api(server);
const failed = {};
let requests = 0;
const started = Date.now();
try {
  for (let round = 0; round < rounds; round++) {
    for (const partitions of [1, 4, 16]) {
      const queue = `stress-${round}-p${partitions}`;
      const res = await q.configure(queue, { partitions });
      if (res.status !== 200 && res.status !== 201) throw new Error(`configure answered ${res.status}: ${res.text}`);
      for (const [concurrency, size] of [
        [8, 100],
        [32, 1],
      ]) {
        let n = 0;
        await closedLoop({
          concurrency,
          durationMs: 4000,
          maxSteps: 200_000,
          step: async () => {
            const payload =
              size === 1 ? { body: body(n++) } : { messages: Array.from({ length: size }, () => ({ body: body(n++) })) };
            const answer = await q.send(queue, payload);
            requests++;
            if (answer.status !== 201) {
              const key = `${partitions} partitions, c${concurrency}: ${answer.status} ${answer.text.slice(0, 60)}`;
              failed[key] = (failed[key] ?? 0) + 1;
            }
            return size;
          },
        });
      }
    }
  }
} finally {
  await stopServer(server);
  rmSync(persist, { recursive: true, force: true });
}
const total = Object.values(failed).reduce((a, b) => a + b, 0);
console.log(`requests: ${requests}, failed: ${total}, seconds: ${Math.round((Date.now() - started) / 1000)}`);
for (const [k, v] of Object.entries(failed)) console.log(`  ${v} × ${k}`);
process.exit(total > 0 ? 1 : 0);
