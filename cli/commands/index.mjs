// Every command group of the CLI, in the order `edgeq --help` lists them.
// A group is a function (program, context) that adds its commands; a new
// resource is one more file here and one more entry.
import { addDeadLetters } from "./dead-letters.mjs";
import { addMessages } from "./messages.mjs";
import { addQueues } from "./queues.mjs";
import { addStats } from "./stats.mjs";
import { addTail } from "./tail.mjs";
import { addTokens } from "./tokens.mjs";
import { addTopics } from "./topics.mjs";

/** The command groups: each adds its commands to the program. */
export const COMMANDS = [addQueues, addMessages, addTail, addStats, addDeadLetters, addTopics, addTokens];
