/**
 * Every SQS action edgeq answers, by name. An action SQS has and edgeq does
 * not, or a name SQS does not have, is InvalidAction: never ignored.
 */
import type { Action } from "./context";
import { cancelMessageMoveTask, listDeadLetterSourceQueues, listMessageMoveTasks, startMessageMoveTask } from "./dead-letter-actions";
import { SqsError } from "./errors";
import {
  createQueue,
  deleteQueueAction,
  getQueueAttributes,
  getQueueUrl,
  listQueues,
  purgeQueueAction,
  setQueueAttributes,
} from "./queue-actions";
import { receiveMessage } from "./receive";
import { sendMessage, sendMessageBatch } from "./send";
import { changeMessageVisibility, changeMessageVisibilityBatch, deleteMessage, deleteMessageBatch } from "./settle";

export const ACTIONS: Readonly<Record<string, Action>> = {
  CreateQueue: createQueue,
  GetQueueUrl: getQueueUrl,
  ListQueues: listQueues,
  DeleteQueue: deleteQueueAction,
  PurgeQueue: purgeQueueAction,
  GetQueueAttributes: getQueueAttributes,
  SetQueueAttributes: setQueueAttributes,
  SendMessage: sendMessage,
  SendMessageBatch: sendMessageBatch,
  ReceiveMessage: receiveMessage,
  DeleteMessage: deleteMessage,
  DeleteMessageBatch: deleteMessageBatch,
  ChangeMessageVisibility: changeMessageVisibility,
  ChangeMessageVisibilityBatch: changeMessageVisibilityBatch,
  ListDeadLetterSourceQueues: listDeadLetterSourceQueues,
  StartMessageMoveTask: startMessageMoveTask,
  ListMessageMoveTasks: listMessageMoveTasks,
  CancelMessageMoveTask: cancelMessageMoveTask,
};

/** SQS actions edgeq does not offer (permissions and tags are AWS account matters). */
export const UNSUPPORTED_ACTIONS: readonly string[] = ["AddPermission", "RemovePermission", "TagQueue", "UntagQueue", "ListQueueTags"];

/** The action of that name, or InvalidAction. */
export function actionOf(name: string): Action {
  if (Object.hasOwn(ACTIONS, name)) return ACTIONS[name];
  if (UNSUPPORTED_ACTIONS.includes(name)) throw new SqsError("InvalidAction", `edgeq does not support the SQS action ${name}.`);
  throw new SqsError("InvalidAction", `The action ${name.slice(0, 64)} is not valid for this web service.`);
}
