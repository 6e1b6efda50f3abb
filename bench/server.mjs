// Runs edgeq (the bundle built by `wrangler deploy --dry-run`) and the limits
// worker in one workerd through Miniflare's Node API, with persistent state
// on disk and no local tracing. Forked by run.mjs and crash.mjs: it tells its
// parent the URLs over IPC, and stays up until the parent says "stop" or
// disconnects (crash.mjs SIGKILLs its whole process group instead).
//
// argv[2]: JSON { bundle, persist, limits?: boolean }
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";

const here = path.dirname(fileURLToPath(import.meta.url));
const opts = JSON.parse(process.argv[2]);

/** The [vars] and Durable Object bindings of wrangler.toml (a flat subset of TOML is enough). */
function wranglerConfig(file) {
  const text = readFileSync(file, "utf8");
  const vars = {};
  const objects = {};
  let section = "";
  let binding = null;
  const top = {};
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) {
      section = header[1];
      binding = section === "durable_objects.bindings" ? {} : null;
      if (binding) objects[`#${Object.keys(objects).length}`] = binding;
      continue;
    }
    const kv = /^([A-Za-z0-9_]+)\s*=\s*(.+)$/.exec(line);
    if (!kv) continue;
    const value = JSON.parse(kv[2]);
    if (section === "vars") vars[kv[1]] = value;
    else if (binding) binding[kv[1]] = value;
    else if (section === "") top[kv[1]] = value;
  }
  const durableObjects = {};
  for (const b of Object.values(objects)) durableObjects[b.name] = { className: b.class_name, useSQLite: true };
  return {
    vars,
    durableObjects,
    compatibilityDate: top.compatibility_date,
    compatibilityFlags: top.compatibility_flags ?? [],
  };
}

const config = wranglerConfig(path.join(here, "..", "wrangler.toml"));

const workers = [
  {
    name: "edgeq",
    modules: true,
    scriptPath: opts.bundle,
    modulesRoot: path.dirname(opts.bundle),
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    durableObjects: config.durableObjects,
    bindings: {
      ...config.vars,
      EDGEQ_AUTO_CREATE_QUEUES: "true",
      EDGEQ_ADMIN_TOKEN: opts.adminToken,
      EDGEQ_TOKEN_SECRET: "bench-token-secret-0123456789abcdef",
      EDGEQ_SQS_KEYS: "AKIDBENCH:bench-sqs-secret",
    },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  },
];
if (opts.limits) {
  workers.push({
    name: "limits",
    modules: true,
    scriptPath: path.join(here, "limits-worker.mjs"),
    modulesRoot: here,
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    durableObjects: { LIMITS: { className: "Limits", useSQLite: true }, ECHO: { className: "Echo", useSQLite: true } },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  });
}

const mf = new Miniflare(
  convertV4MiniflareOptions({
    host: "127.0.0.1",
    port: 0,
    resourcePersistencePath: opts.persist,
    unsafeObservability: false,
    unsafeLocalExplorer: false,
    // bench/profile.mjs: workerd's own inspector (CPU profiles of the worker and its objects).
    ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
    workers,
  }),
);
await mf.ready;
const limitsUrl = opts.limits ? String(await mf.unsafeGetDirectURL("limits")) : null;
// edgeq is reached like the limits worker, on a socket of its own: through
// mf.ready's URL every request would also pass Miniflare's entry worker, a
// hop the limits it is compared with do not pay.
const edgeqUrl = String(await mf.unsafeGetDirectURL("edgeq"));
process.send({ ready: true, url: edgeqUrl, limitsUrl });

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await mf.dispose().catch(() => {});
  process.exit(0);
}
process.on("message", async (m) => {
  if (m === "stop") return stop();
  if (m?.op === "meter") {
    try {
      const ns = await mf.getDurableObjectNamespace("QUEUE_PARTITION", "edgeq");
      const result = await ns.get(ns.idFromName(m.name)).meter();
      process.send({ id: m.id, result });
    } catch (err) {
      process.send({ id: m.id, error: String(err) });
    }
  }
});
process.on("disconnect", stop);
