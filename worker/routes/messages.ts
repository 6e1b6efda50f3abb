import { Hono } from "hono";
import { ackAndReceive, leasedJson, receiveMessages, releaseLeases } from "../consume";
import { answerLongPoll } from "../long-poll-answer";
import { peekMessages } from "../manage";
import { sendMessages } from "../produce";
import { ackRequest, enqueueRequest, extendRequest, nackRequest, peekQuery, receiveRequest } from "../schemas";
import { ackMessages, extendLeases, nackMessages } from "../settle";
import { documented } from "../openapi/describe";
import type { AppEnv } from "../types";
import { jsonBody, queryParams } from "../validate";

export const messages = new Hono<AppEnv>();

const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };

messages.post(
  "/",
  documented({
    operationId: "enqueue",
    summary: "Enqueue one message, or a batch as {messages: [...]}",
    description: "Answers 201 once every message is stored; a batch is stored or refused whole.",
    tag: "Messages",
    answers: { 201: "sendResponse" },
    errors: ["QUEUE_NOT_FOUND", "QUEUE_FULL", "UNAVAILABLE"],
  }),
);
messages.post("/", jsonBody(enqueueRequest), async (c) => {
  const sent = await sendMessages(c.env, c.req.param("queue")!, c.req.valid("json"));
  return c.json({ messages: sent }, 201);
});

messages.get(
  "/",
  documented({
    operationId: "peekMessages",
    summary: "Browse stored messages in delivery order, leasing none",
    tag: "Messages",
    answers: { 200: "peekPage" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
/** Peek: messages in order with their state, nothing leased. Bodies are stored JSON text, spliced in. */
messages.get("/", queryParams(peekQuery), async (c) => {
  const page = await peekMessages(c.env, c.req.param("queue")!, c.req.valid("query"));
  const items = page.messages.map(({ id, body, attributes, groupId, lastError, ...rest }) => {
    const tail = { ...rest, ...(groupId === null ? {} : { groupId }), ...(lastError === null ? {} : { lastError }) };
    return `${JSON.stringify({ id }).slice(0, -1)},"body":${body},"attributes":${attributes ?? "{}"},${JSON.stringify(tail).slice(1)}`;
  });
  return c.body(`{"messages":[${items.join(",")}],"cursor":${JSON.stringify(page.cursor)}}`, 200, JSON_TYPE);
});

messages.post(
  "/receive",
  documented({
    operationId: "receive",
    summary: "Lease up to max messages, waiting up to waitMs for one (long-poll)",
    description:
      "With `ack`, acks those receipts first, in the same request (`ackResults`). A receive that waits longer than 250 ms " +
      "streams its answer: 200 and its headers, a space every 250 ms while it waits, then the JSON answer, or an error body " +
      "(`{error: {code, message}}`) when it fails after the headers went out (docs/long-poll.md). 409 CONFLICT on a queue that delivers by push.",
    tag: "Messages",
    answers: { 200: "receiveResponse" },
    errors: ["QUEUE_NOT_FOUND", "CONFLICT", "UNAVAILABLE"],
  }),
);
/**
 * Receive, with acks carried (`ack`) and a long-poll (`waitMs`). A receive
 * that waits streams its answer (worker/long-poll-answer.ts), so that a
 * consumer that leaves takes no lease with it.
 */
messages.post("/receive", jsonBody(receiveRequest), async (c) => {
  const { ack, ...request } = c.req.valid("json");
  const queue = c.req.param("queue")!;
  const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  return answerLongPoll({
    signal: c.req.raw.signal,
    waitUntil,
    release: (leased) => releaseLeases(c.env, queue, leased),
    receive: async (signal, onWait) => {
      const opts = { ...request, signal, waitUntil, onWait };
      if (ack === undefined) {
        const leased = await receiveMessages(c.env, queue, opts);
        return { leased, json: `{"messages":[${leased.map(leasedJson).join(",")}]}` };
      }
      const { leased, ackResults } = await ackAndReceive(c.env, queue, ack, opts);
      return { leased, json: `{"messages":[${leased.map(leasedJson).join(",")}],"ackResults":${JSON.stringify(ackResults)}}` };
    },
  });
});

messages.post(
  "/ack",
  documented({
    operationId: "ack",
    summary: "Delete leased messages: their work is done",
    tag: "Messages",
    answers: { 200: "receiptResponse" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
messages.post("/ack", jsonBody(ackRequest), async (c) => {
  const results = await ackMessages(c.env, c.req.param("queue")!, c.req.valid("json").receipts);
  return c.json({ results });
});

messages.post(
  "/nack",
  documented({
    operationId: "nack",
    summary: "Give leased messages back: retried after backoff (or delayMs), or dead-lettered after maxAttempts",
    tag: "Messages",
    answers: { 200: "receiptResponse" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
messages.post("/nack", jsonBody(nackRequest), async (c) => {
  const { receipts, ...opts } = c.req.valid("json");
  return c.json({ results: await nackMessages(c.env, c.req.param("queue")!, receipts, opts) });
});

messages.post(
  "/extend",
  documented({
    operationId: "extendLeases",
    summary: "Extend leases to visibilityTimeoutMs from now",
    tag: "Messages",
    answers: { 200: "receiptResponse" },
    errors: ["QUEUE_NOT_FOUND", "UNAVAILABLE"],
  }),
);
messages.post("/extend", jsonBody(extendRequest), async (c) => {
  const { receipts, visibilityTimeoutMs } = c.req.valid("json");
  return c.json({ results: await extendLeases(c.env, c.req.param("queue")!, receipts, visibilityTimeoutMs) });
});
