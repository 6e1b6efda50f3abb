/**
 * Reading an action's parameters. Both protocols give the same shape (the
 * JSON protocol's request members; the Query protocol's form is turned into
 * it by query.ts): scalars, lists of strings, maps, and lists of entries.
 * Numbers may come as JSON numbers or as decimal text (the Query protocol
 * has only text). Unknown parameters are ignored, as SQS ignores them.
 */
import { invalidParameter, missingParameter, SqsError } from "./errors";

/** An action's parameters. */
export type Input = Record<string, unknown>;

/** A text parameter; undefined when absent (MissingParameter when `required`). */
export function text(input: Input, name: string, required: true): string;
export function text(input: Input, name: string, required?: false): string | undefined;
export function text(input: Input, name: string, required = false): string | undefined {
  const value = input[name];
  if (value === undefined || value === null) {
    if (required) throw missingParameter(name);
    return undefined;
  }
  if (typeof value !== "string") throw invalidParameter(name, "must be a string");
  return value;
}

/** A whole number from `min` to `max`; undefined when absent. */
export function integer(input: Input, name: string, min: number, max: number): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  const n = typeof value === "number" ? value : typeof value === "string" && /^-?\d{1,16}$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw invalidParameter(name, `must be an integer from ${min} to ${max}`);
  }
  return n;
}

/** A list of strings; undefined when absent. */
export function textList(input: Input, name: string): string[] | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw invalidParameter(name, "must be a list of strings");
  return value;
}

/** A map of string -> string (queue attributes); undefined when absent. */
export function textMap(input: Input, name: string): Map<string, string> | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw invalidParameter(name, "must be a map of names to strings");
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") throw new SqsError("InvalidAttributeValue", `Invalid value for the parameter ${k.slice(0, 100)}: must be a string`);
    out.set(k, v);
  }
  return out;
}

/** A map of names to structures (message attributes); undefined when absent. */
export function structMap(input: Input, name: string): Map<string, Input> | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw invalidParameter(name, "must be a map of names to structures");
  const out = new Map<string, Input>();
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalidParameter(name, `${k.slice(0, 100)} must be a structure`);
    out.set(k, v as Input);
  }
  return out;
}

/** Batch limits: SQS's own. */
export const MAX_BATCH_ENTRIES = 10;
const ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * A batch's `Entries`: 1 to 10 structures, each with an `Id` of 1 to 80 of
 * [A-Za-z0-9_-], all distinct; the errors SQS answers otherwise.
 */
export function batchEntries(input: Input): { id: string; entry: Input }[] {
  const value = input.Entries;
  if (value === undefined || value === null) throw missingParameter("Entries");
  if (!Array.isArray(value)) throw invalidParameter("Entries", "must be a list of entries");
  if (value.length === 0) throw new SqsError("EmptyBatchRequest", "There should be at least one entry in the request.");
  if (value.length > MAX_BATCH_ENTRIES) {
    throw new SqsError("TooManyEntriesInBatchRequest", `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}. You have sent ${value.length}.`);
  }
  const seen = new Set<string>();
  return value.map((entry) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw invalidParameter("Entries", "each entry must be a structure");
    const id = (entry as Input).Id;
    if (id === undefined) throw missingParameter("Entries.Id");
    if (typeof id !== "string" || !ENTRY_ID.test(id)) {
      throw new SqsError("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.");
    }
    if (seen.has(id)) throw new SqsError("BatchEntryIdsNotDistinct", `Id ${id} repeated.`);
    seen.add(id);
    return { id, entry: entry as Input };
  });
}

/** One failed entry of a batch, as SQS answers it. */
export interface BatchFailure {
  Id: string;
  SenderFault: boolean;
  Code: string;
  Message: string;
}

/** The failure of one entry from the error that stopped it. */
export const entryFailure = (id: string, err: SqsError): BatchFailure => ({ Id: id, SenderFault: err.fault === "Sender", Code: err.code, Message: err.message });
