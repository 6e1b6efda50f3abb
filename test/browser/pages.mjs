// What the browser tests share: the loopback servers whose pages play the
// consumers' and producers' origins, and calls to the API from Node.
import { once } from "node:events";
import { createServer } from "node:http";

/** A loopback server with one empty page: an origin of its own (its own port) for a page to come from. */
export async function pageServer(title = "page") {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><title>${title}</title>`);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

/**
 * Calls to the API of `worker()` (a function: the worker starts in beforeAll)
 * from Node, with `token`; no Origin, so CORS does not apply. A non-2xx
 * answer throws.
 */
export const apiOf = (worker, token) =>
  async function api(method, path, body) {
    const res = await fetch(`${worker().url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
