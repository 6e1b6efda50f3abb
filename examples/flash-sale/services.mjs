// The flash sale's two downstream services. Payment is an HTTP endpoint that
// edgeq pushes to (the queue holds it to its rate); email is a consumer that
// streams its queue with the client's consume(). Both keep what they did so
// that the run can account for every order.
import { createServer } from "node:http";

/**
 * Payment: verifies each push with edgeq's `verify` (Standard Webhooks
 * signature), charges each order once, and skips an order it has charged
 * before (delivery is at least once, so duplicates come). A poison order's
 * card is declined: the message is retried with that error, and after its
 * last attempt it is a dead letter that keeps it. Every `crashEvery`th
 * delivery it charges and then answers 500, as a service that dies before
 * answering: edgeq delivers the batch again, and the duplicates are skipped.
 */
export async function startPayment({ verify, secret, crashEvery }) {
  const state = { paid: new Set(), declined: new Set(), duplicatesSkipped: 0, deliveries: 0, forged: 0, paidAt: [] };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    let delivery;
    try {
      delivery = await verify(secret(), req.headers, Buffer.concat(chunks).toString("utf8"));
    } catch {
      state.forged += 1;
      res.writeHead(401).end();
      return;
    }
    state.deliveries += 1;
    const results = [];
    for (const message of delivery.messages) {
      const order = message.body;
      if (order.card === "declined") {
        state.declined.add(order.id);
        results.push({ id: message.id, outcome: "retry", error: `card declined (order ${order.id})` });
      } else if (state.paid.has(order.id)) {
        state.duplicatesSkipped += 1;
      } else {
        state.paid.add(order.id);
        state.paidAt.push(Date.now());
      }
    }
    if (state.deliveries % crashEvery === 0) {
      res.writeHead(500).end("crashed after charging");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ results }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/pay`,
    state,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Email: consumes its queue with the client's consume(); sends each order's confirmation once. */
export function startEmail({ queue }) {
  const state = { emailed: new Set(), duplicatesSkipped: 0 };
  const stop = new AbortController();
  const done = queue.consume(
    async (message) => {
      const order = message.body;
      if (state.emailed.has(order.id)) state.duplicatesSkipped += 1;
      else state.emailed.add(order.id);
    },
    { concurrency: 100, signal: stop.signal, onError: (err) => console.warn(`email: ${err.message ?? err}`) },
  );
  return {
    state,
    stop: async () => {
      stop.abort();
      await done;
    },
  };
}
