import { Hono } from "hono";
import { documented } from "../openapi/describe";
import { enqueueRequest, topicConfigPatch, topicListQuery } from "../schemas";
import { deleteTopic, getTopic, listTopics, publishMessages, putTopic, topicStats } from "../topics";
import type { AppEnv } from "../types";
import { jsonBody, queryParams } from "../validate";

/** `/v1/topics`: topics as resources (`manage`), publishing (`publish`) and their stats (any scope). */
export const topics = new Hono<AppEnv>();

topics.get(
  "/",
  documented({
    operationId: "listTopics",
    summary: "List topics in name order, each with its stats unless stats=false",
    tag: "Topics",
    answers: { 200: "topicList" },
    errors: ["UNAVAILABLE"],
  }),
);
topics.get("/", queryParams(topicListQuery), async (c) => {
  const { stats, ...page } = c.req.valid("query");
  return c.json(await listTopics(c.env, { ...page, stats: stats === "true" }));
});

topics.put(
  "/:topic",
  documented({
    operationId: "putTopic",
    summary: "Create a topic, or change its subscriptions or settings",
    description:
      "`subscriptions` replaces the list whole: a queue that stays keeps its place in the outbox, a new one receives what is " +
      "published from now on, a removed one stops receiving (its queue keeps what it has). 201 when the topic was created.",
    tag: "Topics",
    answers: { 200: "topicInfo", 201: "topicInfo" },
    errors: ["UNAVAILABLE"],
  }),
);
topics.put("/:topic", jsonBody(topicConfigPatch), async (c) => {
  const { topic, created } = await putTopic(c.env, c.req.param("topic"), c.req.valid("json"));
  return c.json(topic, created ? 201 : 200);
});

topics.get(
  "/:topic",
  documented({
    operationId: "getTopic",
    summary: "A topic's subscriptions, settings and stats",
    tag: "Topics",
    answers: { 200: "topicInfo" },
    errors: ["TOPIC_NOT_FOUND", "UNAVAILABLE"],
  }),
);
topics.get("/:topic", async (c) => c.json(await getTopic(c.env, c.req.param("topic"))));

topics.delete(
  "/:topic",
  documented({
    operationId: "deleteTopic",
    summary: "Delete a topic, its subscriptions and its outbox; the queues keep what they have",
    tag: "Topics",
    answers: { 200: "topicDeleted" },
    errors: ["TOPIC_NOT_FOUND", "UNAVAILABLE"],
  }),
);
topics.delete("/:topic", async (c) => {
  await deleteTopic(c.env, c.req.param("topic"));
  return c.json({ name: c.req.param("topic"), deleted: true as const });
});

topics.post(
  "/:topic/messages",
  documented({
    operationId: "publish",
    summary: "Publish one message, or a batch as {messages: [...]}, to every subscribed queue",
    description:
      "Answers 201 once every message is stored in the topic's outbox (one transaction); each subscribed queue whose filter " +
      "takes a message then receives exactly one copy of it, in publish order.",
    tag: "Topics",
    answers: { 201: "publishResponse" },
    errors: ["TOPIC_NOT_FOUND", "UNAVAILABLE"],
  }),
);
topics.post("/:topic/messages", jsonBody(enqueueRequest), async (c) => {
  return c.json({ messages: await publishMessages(c.env, c.req.param("topic"), c.req.valid("json")) }, 201);
});

topics.get(
  "/:topic/stats",
  documented({
    operationId: "getTopicStats",
    summary: "Published, filtered, the outbox and its lag, and each subscription's figures",
    tag: "Topics",
    answers: { 200: "topicStats" },
    errors: ["TOPIC_NOT_FOUND", "UNAVAILABLE"],
  }),
);
topics.get("/:topic/stats", async (c) => c.json(await topicStats(c.env, c.req.param("topic"))));
