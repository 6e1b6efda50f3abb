// The flash sale example (examples/flash-sale), run as a process at high
// speed: its summary must hold the seed's arithmetic (5,000 in, 1,000 a
// minute out, drained in about five minutes of sale time), with every order
// paid or dead-lettered with its error, every order emailed, and none lost.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const RUN = fileURLToPath(new URL("../../examples/flash-sale/run.mjs", import.meta.url));

it("drains 5,000 orders in about five minutes of sale time, loses none, and draws its chart", async () => {
  const dir = await mkdtemp(join(tmpdir(), "edgeq-flash-"));
  try {
    const chart = join(dir, "chart.svg");
    const child = spawn(process.execPath, [RUN, "--speed", "30", "--json", "--chart", chart], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout.trim().split("\n").pop());
    expect(summary).toMatchObject({ orders: 5000, enqueued: 5000, paid: 4990, deadLettered: 10, emailed: 5000, lost: 0, forgedDeliveries: 0 });
    expect(summary.deadLetterErrors.some((e) => e.startsWith("card declined"))).toBe(true);
    // Payment is at least once: the endpoint that answers 500 after charging gets those orders again.
    expect(summary.duplicatesSkipped).toBeGreaterThan(0);
    // 5,000 at 1,000 a minute: five minutes. Sampled once a wall second (30 s of sale time at --speed 30).
    expect(summary.drainSeconds).toBeGreaterThanOrEqual(270);
    expect(summary.drainSeconds).toBeLessThanOrEqual(420);
    const svg = await readFile(chart, "utf8");
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain("queue depth");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 180_000);
