// The OpenAPI document and the reference page over HTTP, against edgeq in
// plain workerd (Miniflare, with the Static Assets of wrangler.toml): the
// document passes a real OpenAPI 3.1 validator (@readme/openapi-parser,
// which compiles its schemas at run time and so cannot run inside workerd),
// and /docs and its files answer without a token. test/openapi.test.ts
// checks what the document says, inside workerd.
import { compileErrors, validate } from "@readme/openapi-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalWorker } from "../../scripts/local-edgeq.mjs";

let worker;

beforeAll(async () => {
  worker = await startLocalWorker({ bindings: { EDGEQ_ADMIN_TOKEN: "direct-test-admin-token" } });
});

afterAll(async () => {
  await worker?.stop();
});

async function documentJson() {
  const res = await fetch(`${worker.url}/openapi.json`);
  expect(res.status).toBe(200);
  return res.json();
}

describe("openapi over HTTP", () => {
  it("GET /openapi.json is a valid OpenAPI 3.1 document", async () => {
    const doc = await documentJson();
    expect(doc.openapi).toBe("3.1.0");
    const result = await validate(structuredClone(doc));
    expect(result.valid ? "" : compileErrors(result)).toBe("");
    expect(result.valid).toBe(true);
    expect(Object.keys(doc.paths)).toContain("/v1/queues/{queue}/messages");
  });

  it("the validator refuses a broken document (the check is not vacuous)", async () => {
    const doc = await documentJson();
    const broken = structuredClone(doc);
    broken.paths["/v1/queues/{queue}/messages"].post.responses["201"].content["application/json"].schema = {
      $ref: "#/components/schemas/NoSuchSchema",
    };
    expect((await validate(broken).catch(() => ({ valid: false }))).valid).toBe(false);
    const noInfo = structuredClone(doc);
    delete noInfo.info;
    expect((await validate(noInfo)).valid).toBe(false);
  });

  it("GET /docs and every file it loads answer 200 without a token", async () => {
    const page = await fetch(`${worker.url}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs).toEqual(expect.arrayContaining(["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/start.js"]));
    for (const ref of refs) {
      const res = await fetch(new URL(ref, `${worker.url}/docs`));
      expect(new URL(res.url).origin, ref).toBe(new URL(worker.url).origin);
      expect(res.status, ref).toBe(200);
      expect((await res.arrayBuffer()).byteLength, ref).toBeGreaterThan(100);
    }
    // A browser's cached copy is revalidated, not downloaded again.
    const first = await fetch(`${worker.url}/docs/swagger-ui.css`);
    await first.arrayBuffer();
    const etag = first.headers.get("etag");
    expect(etag).toBeTruthy();
    const again = await fetch(`${worker.url}/docs/swagger-ui.css`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
  });
});
