import { app } from "./app";

export { QueuePartition } from "../durable-objects/queue-partition";
export { QueueRegistry } from "../durable-objects/queue-registry";
export { Topic } from "../durable-objects/topic";
export { EdgeqService } from "./rpc";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
