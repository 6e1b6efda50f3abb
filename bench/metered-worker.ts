/**
 * edgeq with the metered partition in place of QueuePartition, under the same
 * binding: the entry of the bench's bundle and of the workers test project.
 */
export { default, EdgeqService, QueueRegistry, Topic } from "../worker/index";
export { MeteredQueuePartition as QueuePartition } from "./metered-partition";
