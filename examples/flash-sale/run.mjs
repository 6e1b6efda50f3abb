// The flash sale from the seed, run for real: 5,000 orders in one minute,
// a payment service that takes 1,000 a minute, an email service that keeps
// up. Checkout publishes each order once to the topic `orders`; edgeq fans
// it out to the queues `payments` and `emails`. Payment is pushed to, held
// to 1,000 a minute by its queue's delivery rate; email streams its queue.
// The backlog drains in about five minutes and no order is lost.
//
//   npm run example:flash-sale [-- --speed N] [--orders N] [--chart FILE] [--json]
//                               [--url URL --token TOKEN]   (an edgeq already running)
//
// --speed N compresses time: the minute of checkout and the payment rate
// scale together, so the sale's arithmetic (and its five minutes) hold in
// sale time; --speed 10 takes about 30 s. Without --url, edgeq runs here in
// workerd (scripts/local-edgeq.mjs).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";
import { chartSvg } from "./chart.mjs";
import { startEmail, startPayment } from "./services.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const { values: args } = parseArgs({
  options: {
    speed: { type: "string", default: "1" },
    orders: { type: "string", default: "5000" },
    chart: { type: "string", default: join(ROOT, "examples/flash-sale/out/flash-sale.svg") },
    json: { type: "boolean", default: false },
    url: { type: "string" },
    token: { type: "string" },
  },
});
const SPEED = Number(args.speed);
const ORDERS = Number(args.orders);
if (!(SPEED > 0) || !Number.isInteger(ORDERS) || ORDERS < 1 || ORDERS > 100_000) {
  console.error("usage: npm run example:flash-sale -- [--speed N (> 0)] [--orders N (1..100000)] [--chart FILE] [--json]");
  process.exit(2);
}

// The seed's arithmetic, in sale time.
const CHECKOUT_MS = 60_000; // orders arrive over one minute
const PAY_PER_MIN = 1_000; // what payment can take
const PREDICTED_S = Math.max(CHECKOUT_MS, (ORDERS / PAY_PER_MIN) * 60_000) / 1000;
/** Every 500th order's card is declined: a poison message. */
const isPoison = (n) => n % 500 === 250;
const log = args.json ? () => {} : (line) => console.log(line);

/** The client and its verify, bundled from client/ (TypeScript) for Node. */
async function loadClient() {
  const dir = await mkdtemp(join(tmpdir(), "edgeq-client-"));
  await build({
    entryPoints: [join(ROOT, "client/index.ts"), join(ROOT, "client/verify.ts")],
    outdir: dir,
    bundle: true,
    format: "esm",
    platform: "neutral",
    logLevel: "error",
  });
  const client = await import(pathToFileURL(join(dir, "index.js")).href);
  const { verify } = await import(pathToFileURL(join(dir, "verify.js")).href);
  return { ...client, verify, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const { createClient, verify, cleanup } = await loadClient();
const TOKEN = args.token ?? "flash-sale-admin-token";
const edgeq = args.url
  ? { url: args.url.replace(/\/$/, ""), stop: async () => {} }
  : await startLocalWorker({ bindings: { EDGEQ_ADMIN_TOKEN: TOKEN, EDGEQ_TOKEN_SECRET: "flash-sale-token-secret" }, quiet: true });
const client = createClient({ url: edgeq.url, token: TOKEN });

async function api(method, path, body) {
  const res = await fetch(`${edgeq.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const run = Date.now().toString(36);
const PAYMENTS = `payments-${run}`;
const EMAILS = `emails-${run}`;
const TOPIC = `orders-${run}`;

let signingSecret = "";
const payment = await startPayment({ verify, secret: () => signingSecret, crashEvery: 50 });
try {
  // Payment: pushed to, at 1,000 a minute (sale time); a declined card is retried with backoff, then dead.
  const created = await api("PUT", `/v1/queues/${PAYMENTS}`, {
    deliveryRatePerSec: (PAY_PER_MIN / 60) * SPEED,
    maxAttempts: 3,
    backoffBaseMs: Math.round(5_000 / SPEED),
    backoffMaxMs: Math.round(30_000 / SPEED),
    push: { url: payment.url, batchSize: 10, timeoutMs: 5_000 },
  });
  signingSecret = created.push.signingSecret;
  await api("PUT", `/v1/queues/${EMAILS}`, {});
  await api("PUT", `/v1/topics/${TOPIC}`, { subscriptions: [{ queue: PAYMENTS }, { queue: EMAILS, filter: { kind: ["order"] } }] });
  const email = startEmail({ queue: client.queue(EMAILS) });

  log(`flash sale: ${ORDERS.toLocaleString("en")} orders over 1:00, payment at ${PAY_PER_MIN.toLocaleString("en")} a minute` +
    (SPEED === 1 ? "" : ` (--speed ${SPEED}: times below are sale time)`));
  log(`the seed predicts: drained at ${(PREDICTED_S / 60).toFixed(1)} minutes, nothing lost\n`);

  // Checkout: publishes on schedule, each order once (its dedup id makes a retried publish safe).
  const started = Date.now();
  const saleSeconds = () => ((Date.now() - started) * SPEED) / 1000;
  const topic = client.topic(TOPIC);
  let published = 0;
  const checkout = (async () => {
    while (published < ORDERS) {
      const due = Math.min(ORDERS, Math.ceil((ORDERS * (Date.now() - started) * SPEED) / CHECKOUT_MS));
      while (published < due) {
        const batch = [];
        for (let n = published + 1; n <= Math.min(due, published + 100); n++) {
          batch.push({ body: { id: n, amount: 20 + (n % 80), card: isPoison(n) ? "declined" : "ok" }, attributes: { kind: "order" }, dedupId: `order-${n}` });
        }
        await topic.publishBatch(batch);
        published += batch.length;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  // Watching: once a second, each queue's depth and the payment queue's in and out.
  const samples = [];
  let last = null;
  let drainedAt = null;
  const stats = (q) => api("GET", `/v1/queues/${q}/stats`);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const [pay, mail] = await Promise.all([stats(PAYMENTS), stats(EMAILS)]);
    const t = saleSeconds();
    const out = pay.totals.acked + pay.totals.deadLettered;
    const sample = {
      t,
      payDepth: pay.depth,
      mailDepth: mail.depth,
      inPerMin: last ? ((pay.totals.enqueued - last.in) / (t - last.t)) * 60 : 0,
      outPerMin: last ? ((out - last.out) / (t - last.t)) * 60 : 0,
    };
    samples.push(sample);
    last = { t, in: pay.totals.enqueued, out };
    log(
      `${fmtTime(t)}  published ${String(published).padStart(5)}  payments: depth ${String(pay.depth).padStart(5)}, ` +
        `in ${fmtRate(sample.inPerMin)}, out ${fmtRate(sample.outPerMin)}  emails: depth ${String(mail.depth).padStart(5)}  ` +
        `paid ${payment.state.paid.size}, dead ${pay.deadLetters}`,
    );
    // Drained: every order is out of the payment queue (paid or dead). The email queue keeps up on its own.
    if (drainedAt === null && published === ORDERS && pay.depth === 0 && out >= ORDERS) drainedAt = t;
    if (drainedAt !== null && mail.depth === 0) break;
    if (t > PREDICTED_S * 3 + 120) break; // far past the prediction: report what is there
  }
  await checkout;
  await email.stop();

  // Accounting: every order is paid or a dead letter, and emailed; nothing else counts as delivered.
  const dead = [];
  for (let cursor; ; ) {
    const page = await api("GET", `/v1/queues/${PAYMENTS}/dead-letters?limit=100${cursor ? `&cursor=${cursor}` : ""}`);
    dead.push(...page.deadLetters);
    if (!(cursor = page.cursor)) break;
  }
  const deadIds = new Set(dead.map((d) => d.body.id));
  let lost = 0;
  for (let n = 1; n <= ORDERS; n++) {
    if (!payment.state.paid.has(n) && !deadIds.has(n)) lost += 1;
    if (!email.state.emailed.has(n)) lost += 1;
  }
  const summary = {
    orders: ORDERS,
    speed: SPEED,
    enqueued: published,
    paid: payment.state.paid.size,
    emailed: email.state.emailed.size,
    deadLettered: dead.length,
    deadLetterErrors: [...new Set(dead.map((d) => d.lastError.replace(/\(order \d+\)/, "(order …)")))],
    duplicatesSkipped: payment.state.duplicatesSkipped + email.state.duplicatesSkipped,
    forgedDeliveries: payment.state.forged,
    drainSeconds: drainedAt,
    predictedSeconds: PREDICTED_S,
    wallSeconds: (Date.now() - started) / 1000,
    lost,
  };

  await mkdir(dirname(args.chart), { recursive: true });
  await writeFile(
    args.chart,
    chartSvg({ samples, predicted: PREDICTED_S, drainedAt, title: `edgeq flash sale: ${ORDERS.toLocaleString("en")} orders in a minute, payment at 1,000 a minute` }),
  );

  if (args.json) console.log(JSON.stringify(summary));
  else {
    log("");
    log(`enqueued        ${summary.enqueued} (published once each; fanned out to payments and emails)`);
    log(`paid            ${summary.paid}`);
    log(`emailed         ${summary.emailed}`);
    log(`dead-lettered   ${summary.deadLettered}${summary.deadLetterErrors.length ? ` (${summary.deadLetterErrors.join("; ")})` : ""}`);
    log(`duplicates      ${summary.duplicatesSkipped} skipped by order id (delivery is at least once)`);
    log(`time to drain   ${drainedAt === null ? "not drained" : fmtTime(drainedAt)} for payments (the seed: ${fmtTime(PREDICTED_S)})` +
      (SPEED === 1 ? "" : `; ${summary.wallSeconds.toFixed(1)} s of wall time at --speed ${SPEED}`));
    log(`lost            ${summary.lost}`);
    log(`chart           ${args.chart}`);
  }
  process.exitCode = summary.lost === 0 && drainedAt !== null ? 0 : 1;
} finally {
  await payment.stop();
  await edgeq.stop();
  await cleanup();
}

function fmtTime(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function fmtRate(perMin) {
  return `${String(Math.round(perMin)).padStart(5)}/min`;
}
