import { Hono } from "hono";
import { ackAndReceive, leasedJson, receiveMessages } from "../consume";
import { peekMessages } from "../manage";
import { sendMessages } from "../produce";
import { ackRequest, enqueueRequest, extendRequest, nackRequest, peekQuery, receiveRequest } from "../schemas";
import { ackMessages, extendLeases, nackMessages } from "../settle";
import type { AppEnv } from "../types";
import { jsonBody, queryParams } from "../validate";

export const messages = new Hono<AppEnv>();

const JSON_TYPE = { "content-type": "application/json; charset=utf-8" };

messages.post("/", jsonBody(enqueueRequest), async (c) => {
  const sent = await sendMessages(c.env, c.req.param("queue")!, c.req.valid("json"));
  return c.json({ messages: sent }, 201);
});

/** Peek: messages in order with their state, nothing leased. Bodies are stored JSON text, spliced in. */
messages.get("/", queryParams(peekQuery), async (c) => {
  const page = await peekMessages(c.env, c.req.param("queue")!, c.req.valid("query"));
  const items = page.messages.map(({ id, body, attributes, groupId, lastError, ...rest }) => {
    const tail = { ...rest, ...(groupId === null ? {} : { groupId }), ...(lastError === null ? {} : { lastError }) };
    return `${JSON.stringify({ id }).slice(0, -1)},"body":${body},"attributes":${attributes ?? "{}"},${JSON.stringify(tail).slice(1)}`;
  });
  return c.body(`{"messages":[${items.join(",")}],"cursor":${JSON.stringify(page.cursor)}}`, 200, JSON_TYPE);
});

messages.post("/receive", jsonBody(receiveRequest), async (c) => {
  const { ack, ...request } = c.req.valid("json");
  // The request's signal tells a long-poll that its consumer left (compatibility flag enable_request_signal).
  const opts = { ...request, signal: c.req.raw.signal, waitUntil: (p: Promise<unknown>) => c.executionCtx.waitUntil(p) };
  const queue = c.req.param("queue")!;
  if (ack === undefined) {
    const leased = await receiveMessages(c.env, queue, opts);
    return c.body(`{"messages":[${leased.map(leasedJson).join(",")}]}`, 200, JSON_TYPE);
  }
  const { leased, ackResults } = await ackAndReceive(c.env, queue, ack, opts);
  return c.body(`{"messages":[${leased.map(leasedJson).join(",")}],"ackResults":${JSON.stringify(ackResults)}}`, 200, JSON_TYPE);
});

messages.post("/ack", jsonBody(ackRequest), async (c) => {
  const results = await ackMessages(c.env, c.req.param("queue")!, c.req.valid("json").receipts);
  return c.json({ results });
});

messages.post("/nack", jsonBody(nackRequest), async (c) => {
  const { receipts, ...opts } = c.req.valid("json");
  return c.json({ results: await nackMessages(c.env, c.req.param("queue")!, receipts, opts) });
});

messages.post("/extend", jsonBody(extendRequest), async (c) => {
  const { receipts, visibilityTimeoutMs } = c.req.valid("json");
  return c.json({ results: await extendLeases(c.env, c.req.param("queue")!, receipts, visibilityTimeoutMs) });
});
