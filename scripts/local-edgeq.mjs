// Runs edgeq locally from Node, for the Node-side tests (test/direct, test/browser)
// and the examples: bundles worker/index.ts with esbuild, as wrangler would, and
// runs it in one workerd through Miniflare's Node API, with in-memory storage.
// Plain JS: the project's tsconfig types the Worker side only.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";

const ROOT = new URL("../", import.meta.url).pathname;

/** Bundles worker/index.ts as wrangler would, into `dir`; answers the script's path. */
export async function bundleWorker(dir) {
  const script = join(dir, "index.js");
  await build({
    entryPoints: [join(ROOT, "worker/index.ts")],
    outfile: script,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*", "node:*"],
    tsconfig: join(ROOT, "tsconfig.json"),
    logLevel: "error",
  });
  return script;
}

/**
 * Starts edgeq on a free local port. Answers its URL, a way to evict a
 * partition, and a stop function. `quiet` drops the Worker's own log lines
 * (default: they go to stderr).
 */
export async function startLocalWorker({ bindings, quiet = false }) {
  const dir = await mkdtemp(join(tmpdir(), "edgeq-worker-"));
  const script = await bundleWorker(dir);
  const toml = await readFile(join(ROOT, "wrangler.toml"), "utf8");
  const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)[1];
  // The flags the Worker is deployed with (enable_request_signal: a long-poll sees its consumer leave).
  const compatibilityFlags = JSON.parse(/^compatibility_flags\s*=\s*(\[[^\]]*\])/m.exec(toml)[1]);
  // The reference page's files (GET /docs), as wrangler.toml's [assets] names them; the Worker runs first.
  const assetsDirectory = /^\[assets\][^[]*?^directory\s*=\s*"([^"]+)"/m.exec(toml)[1];
  // Miniflare 5 takes a new shape of options; it converts the familiar (v4) one.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      name: "edgeq",
      modules: true,
      scriptPath: script,
      modulesRoot: dir,
      compatibilityDate,
      compatibilityFlags,
      durableObjects: {
        QUEUE_PARTITION: { className: "QueuePartition", useSQLite: true },
        QUEUE_REGISTRY: { className: "QueueRegistry", useSQLite: true },
        TOPIC: { className: "Topic", useSQLite: true },
      },
      bindings: { EDGEQ_AUTO_CREATE_QUEUES: "true", EDGEQ_CORS_ORIGINS: "", ...bindings },
      ...(quiet ? { handleStructuredLogs: () => {} } : {}),
      assets: {
        directory: join(ROOT, assetsDirectory),
        binding: "ASSETS",
        routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true },
      },
    }),
  );
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    /** Evicts a queue's partition object; its WebSockets hibernate (as when it sleeps) unless told `"close"`. */
    evictPartition: (queue, partition = 0, webSockets = "hibernate") =>
      mf.unsafeEvictDurableObject("edgeq", "QueuePartition", { name: `${queue}/${partition}`, webSockets }),
    async stop() {
      await mf.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
