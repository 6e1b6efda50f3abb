import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { LIMITS } from "../client/protocol";
import { logEventThrottled } from "../durable-objects/contract";
import { authenticate, corsFromConfig } from "./auth/middleware";
import { ApiError, errorOf, errorResponse } from "./errors";
import { documented } from "./openapi/describe";
import { consume } from "./routes/consume";
import { dashboard } from "./routes/dashboard";
import { deadLetters } from "./routes/dead-letters";
import { messages } from "./routes/messages";
import { metrics } from "./routes/metrics";
import { queues } from "./routes/queues";
import { reference } from "./routes/reference";
import { sqsEndpoint } from "./sqs/endpoint";
import { stats } from "./routes/stats";
import { tokens } from "./routes/tokens";
import { topics } from "./routes/topics";
import type { AppEnv } from "./types";
import { queueParam, topicParam } from "./validate";

export const app = new Hono<AppEnv>();

// CORS first (preflights carry no token), then authentication for every route.
app.use("*", corsFromConfig());
app.use("*", authenticate());
// The SQS endpoint (POST / and POST /<account id>/<queue>) answers its own requests, in SQS's protocols.
app.use("*", sqsEndpoint());
// A path that exists with other methods answers 405 with Allow, not 404.
app.use(
  "*",
  methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      errorResponse("METHOD_NOT_ALLOWED", `${c.req.method} is not allowed here; use ${methods.join(", ")}`, { allow: methods.join(", ") }),
  }),
);

app.use(
  "/v1/*",
  bodyLimit({
    maxSize: LIMITS.maxRequestBytes,
    onError: () => errorResponse("PAYLOAD_TOO_LARGE", `request body is larger than ${LIMITS.maxRequestBytes} bytes`),
  }),
);

// Every route on a queue checks its name once, here.
app.use("/v1/queues/:queue", queueParam());
app.use("/v1/queues/:queue/*", queueParam());
app.use("/v1/topics/:topic", topicParam());
app.use("/v1/topics/:topic/*", topicParam());

app.route("/v1/queues/:queue/messages", messages);
app.route("/v1/queues/:queue/consume", consume);
app.route("/v1/queues/:queue/dead-letters", deadLetters);
app.route("/v1/queues/:queue/stats", stats);
app.route("/v1/tokens", tokens);
app.route("/metrics", metrics);
app.route("/v1/queues", queues);
app.route("/v1/topics", topics);
app.route("/dashboard", dashboard);
app.route("/", reference(app));

app.get("/", documented({ operationId: "getIndex", summary: "What this server is", tag: "Reference", answers: { 200: "apiIndex" } }));
app.get("/", (c) => c.json({ name: "edgeq", api: "/v1" }));

app.notFound((c) => errorResponse("NOT_FOUND", `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`));

app.onError((err, c) => {
  if (err instanceof ApiError) {
    if (err.code === "QUEUE_FULL") {
      const queue = c.req.param("queue") ?? c.req.path.split("/")[3] ?? "";
      logEventThrottled(`queue_full:${queue}`, "queue_full", { queue, message: err.message });
    }
    return errorResponse(err.code, err.message, err.headers);
  }
  if (err instanceof HTTPException && err.status === 400) {
    return errorResponse("INVALID_JSON", "request body is not valid JSON");
  }
  if (err instanceof HTTPException && err.status === 413) {
    return errorResponse("PAYLOAD_TOO_LARGE", `request body is larger than ${LIMITS.maxRequestBytes} bytes`);
  }
  const answer = errorOf(err);
  return errorResponse(answer.code, answer.message, answer.headers);
});
