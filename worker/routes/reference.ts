import { Hono } from "hono";
import { ApiError } from "../errors";
import { documented } from "../openapi/describe";
import { openApiJson } from "../openapi/document";
import type { AppEnv } from "../types";

/*
 * Why Swagger UI from the `swagger-ui-dist` package, served as Workers Static
 * Assets: the page must work with no CDN, and its script (1.7 MB) imported
 * as text would more than triple the Worker's bundle; as an asset it costs
 * the bundle nothing, needs no copy or build step (wrangler.toml points the
 * assets at the installed package), and works the same under wrangler, the
 * vitest pool and Miniflare. It also has "Try it out" with a bearer token,
 * which a page rendered here from the document would not.
 */

/** Starts Swagger UI on the document: a file of its own, so the page's policy allows no inline script. */
const START = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  deepLinking: true,
  validatorUrl: null,
});
`;

/** The page's files: null for a file of swagger-ui-dist (the ASSETS binding), else the file itself. */
const FILES: Record<string, string | null> = {
  "swagger-ui-bundle.js": null,
  "swagger-ui.css": null,
  "favicon-32x32.png": null,
  "start.js": START,
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeq API reference</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
`;

/** Same origin only: scripts and styles from /docs, the document and "Try it out" to this origin. Swagger UI sets inline styles. */
const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/**
 * The API reference, public: `GET /openapi.json`, the OpenAPI document of
 * `api` (worker/openapi/document.ts), and `GET /docs`, Swagger UI over it.
 */
export const reference = (api: Hono<AppEnv>) => {
  const routes = new Hono<AppEnv>();

  routes.get(
    "/openapi.json",
    documented({
      operationId: "getOpenApiDocument",
      summary: "This document",
      tag: "Reference",
      answers: { 200: { mediaType: "application/json", description: "The OpenAPI 3.1 document of this API" } },
    }),
    async (c) => c.body(await openApiJson(api), 200, { "content-type": "application/json; charset=utf-8" }),
  );

  routes.get(
    "/docs",
    documented({
      operationId: "getApiReference",
      summary: "The API reference page",
      description: "Swagger UI over `/openapi.json`; its files come from this server (`/docs/{file}`).",
      tag: "Reference",
      answers: { 200: { mediaType: "text/html", description: "The page" } },
    }),
    (c) => {
      for (const [k, v] of Object.entries(PAGE_HEADERS)) c.header(k, v);
      return c.html(PAGE);
    },
  );

  routes.get(
    "/docs/:file",
    documented({
      operationId: "getApiReferenceFile",
      summary: "A script, style or icon of the reference page",
      tag: "Reference",
      answers: { 200: { mediaType: "*/*", description: `One of: ${Object.keys(FILES).join(", ")}` } },
      errors: ["NOT_FOUND"],
    }),
    async (c) => {
      const name = c.req.param("file");
      const file = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
      if (file === undefined) throw new ApiError("NOT_FOUND", `the reference page has no file ${name.slice(0, 100)}`);
      if (file !== null) return c.body(file, 200, { "content-type": "text/javascript; charset=utf-8" });
      // Conditional headers go along, so a browser's cached copy is answered 304.
      const res = await c.env.ASSETS.fetch(new Request(new URL(`/${name}`, c.req.url), { headers: c.req.raw.headers }));
      const answer = new Response(res.body, res);
      answer.headers.set("x-content-type-options", "nosniff");
      return answer;
    },
  );

  return routes;
};
