// A second Worker that produces to edgeq through a service binding (EDGEQ ->
// edgeq's EdgeqService entrypoint), as a user's Worker would. Plain JS: the
// test setup runs auxiliary Workers as they are, without a build.
//
//   POST /signup {email}     the example of the README: enqueue one message
//   POST /rpc {op, args}     calls any EdgeqService method, for the tests
//   POST /produce {queue, op, args}   producer code written for a Cloudflare Queues
//                            binding (env.QUEUE.send / sendBatch), run against edgeq's producer

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/signup") {
      const { email } = await request.json();
      const result = await env.EDGEQ.send("signups", { body: { email }, dedupId: email });
      if ("error" in result) return Response.json(result, { status: 502 });
      return Response.json({ queued: result.messages[0].id }, { status: 202 });
    }
    if (url.pathname === "/rpc") {
      const { op, args } = await request.json();
      try {
        return Response.json({ result: await env.EDGEQ[op](...args) });
      } catch (err) {
        // Only a thrown error lands here (the binding itself failed): say what it was.
        return Response.json({ thrown: { name: err.name, message: err.message } }, { status: 500 });
      }
    }
    if (url.pathname === "/produce") {
      const { queue, op, args } = await request.json();
      // In a Worker bound to Cloudflare Queues this line would be `const QUEUE = env.ORDERS;`.
      const QUEUE = env.EDGEQ.producer(queue);
      try {
        return Response.json({ result: (await QUEUE[op](...args)) ?? null });
      } catch (err) {
        return Response.json({ thrown: err.message }, { status: 500 });
      }
    }
    return new Response("not found", { status: 404 });
  },
};
