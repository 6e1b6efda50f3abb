/**
 * SQS message attributes (typed: String, Number, Binary, each with an
 * optional custom label such as `Number.float`) kept as edgeq attributes
 * (string -> string), so that the v1 API, the dashboard and stats see an
 * SQS message as any other:
 *
 * - each attribute is stored under its own name with its value as text
 *   (a Binary value as its base64);
 * - the data types that are not plain `String` are listed in one more
 *   attribute, `edgeq:sqsTypes`, a JSON object name -> data type.
 *
 * Names with a `:` can never be SQS attribute names, so edgeq's own keys
 * (`edgeq:...`) never meet a user's. Going back, an attribute whose name
 * SQS would not accept (one set through the v1 API) is not shown to SQS
 * clients. The message system attribute AWSTraceHeader is kept the same
 * way, as `edgeq:awsTraceHeader`.
 */
import { DEAD_LETTER_SOURCE_ATTRIBUTE } from "../../client/protocol";
import { invalidParameter, SqsError } from "./errors";
import type { Input } from "./input";
import type { AttributeForDigest } from "./md5";

/** Where the data types of the attributes that are not plain String are kept. */
export const TYPES_ATTRIBUTE = "edgeq:sqsTypes";
/** Where the message system attribute AWSTraceHeader is kept. */
export const TRACE_HEADER_ATTRIBUTE = "edgeq:awsTraceHeader";

/** Most attributes on one message, as SQS allows. */
export const MAX_MESSAGE_ATTRIBUTES = 10;

/** A message attribute as the SQS protocols carry it; `BinaryValue` is base64. */
export interface SqsAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const DATA_TYPE = /^(String|Number|Binary)(\.[^\s]{1,250})?$/;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The characters SQS accepts in a body or a string value (XML's). */
const SQS_TEXT = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

/** Whether SQS accepts `text` as a body or a string value. */
export const isSqsText = (text: string): boolean => SQS_TEXT.test(text);

/** Whether `name` is a message attribute name SQS accepts from a sender. */
export function isAttributeName(name: string): boolean {
  if (!NAME.test(name) || name.startsWith(".") || name.endsWith(".") || name.includes("..")) return false;
  const lower = name.toLowerCase();
  return !lower.startsWith("aws.") && !lower.startsWith("amazon.");
}

export const decodeBase64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** Checks one attribute as SQS does; answers it with only the value its type carries. */
function checkAttribute(name: string, value: Input, parameter: string): SqsAttribute {
  if (!isAttributeName(name)) throw invalidParameter(parameter, `the message attribute name '${name.slice(0, 64)}' is not valid`);
  const dataType = value.DataType;
  if (typeof dataType !== "string" || !DATA_TYPE.test(dataType)) {
    throw invalidParameter(parameter, `the message attribute '${name}' has an invalid message attribute type; it must be String, Number or Binary, optionally with a label`);
  }
  if (dataType.startsWith("Binary")) {
    const binary = value.BinaryValue;
    if (typeof binary !== "string" || binary.length === 0 || !BASE64.test(binary)) {
      throw invalidParameter(parameter, `the message attribute '${name}' must contain a non-empty base64 binary value for type 'Binary'`);
    }
    return { DataType: dataType, BinaryValue: binary };
  }
  const string = value.StringValue;
  if (typeof string !== "string" || string.length === 0) {
    throw invalidParameter(parameter, `the message attribute '${name}' must contain a non-empty message attribute value for type '${dataType.split(".")[0]}'`);
  }
  if (!isSqsText(string)) throw new SqsError("InvalidMessageContents", `the message attribute '${name}' holds characters outside the allowed set`);
  if (dataType.startsWith("Number") && !NUMBER.test(string)) {
    throw invalidParameter(parameter, `the message attribute '${name}' with type 'Number' must hold a number`);
  }
  return { DataType: dataType, StringValue: string };
}

/** The MessageAttributes of a send, checked; at most 10. */
export function readMessageAttributes(map: Map<string, Input> | undefined, parameter = "MessageAttributes"): Map<string, SqsAttribute> {
  const out = new Map<string, SqsAttribute>();
  if (!map) return out;
  if (map.size > MAX_MESSAGE_ATTRIBUTES) {
    throw invalidParameter(parameter, `a message may have at most ${MAX_MESSAGE_ATTRIBUTES} attributes; it has ${map.size}`);
  }
  for (const [name, value] of map) out.set(name, checkAttribute(name, value, parameter));
  return out;
}

/** The MessageSystemAttributes of a send: only AWSTraceHeader, a String, exists. */
export function readSystemAttributes(map: Map<string, Input> | undefined): Map<string, SqsAttribute> {
  const out = new Map<string, SqsAttribute>();
  for (const [name, value] of map ?? []) {
    if (name !== "AWSTraceHeader") throw invalidParameter("MessageSystemAttributes", `${name.slice(0, 64)} is not a message system attribute a sender may set`);
    if (value.DataType !== "String" || typeof value.StringValue !== "string" || value.StringValue.length === 0) {
      throw invalidParameter("MessageSystemAttributes", "AWSTraceHeader must be a non-empty String");
    }
    out.set(name, { DataType: "String", StringValue: value.StringValue });
  }
  return out;
}

/** Bytes an attribute counts toward the message size, as SQS counts them: name, type and value. */
export function attributeBytes(attributes: ReadonlyMap<string, SqsAttribute>): number {
  const encoder = new TextEncoder();
  let bytes = 0;
  for (const [name, a] of attributes) {
    bytes += encoder.encode(name).length + encoder.encode(a.DataType).length;
    bytes += a.BinaryValue !== undefined ? Math.floor((a.BinaryValue.length * 3) / 4) - (a.BinaryValue.match(/=+$/)?.[0].length ?? 0) : encoder.encode(a.StringValue ?? "").length;
  }
  return bytes;
}

/** The attributes as edgeq keeps them (see the top of this file); undefined when there are none. */
export function toEdgeqAttributes(
  attributes: ReadonlyMap<string, SqsAttribute>,
  system: ReadonlyMap<string, SqsAttribute>,
): Record<string, string> | undefined {
  if (attributes.size === 0 && system.size === 0) return undefined;
  const out: Record<string, string> = {};
  const types: Record<string, string> = {};
  for (const [name, a] of attributes) {
    out[name] = a.BinaryValue ?? a.StringValue ?? "";
    if (a.DataType !== "String") types[name] = a.DataType;
  }
  if (Object.keys(types).length > 0) out[TYPES_ATTRIBUTE] = JSON.stringify(types);
  const trace = system.get("AWSTraceHeader")?.StringValue;
  if (trace !== undefined) out[TRACE_HEADER_ATTRIBUTE] = trace;
  return out;
}

/** What an SQS client sees of a stored message's attributes. */
export interface SqsView {
  attributes: Map<string, SqsAttribute>;
  traceHeader?: string;
  /** The queue a forwarded dead letter came from. */
  deadLetterSource?: string;
}

/** A stored message's attributes (edgeq's JSON text, or null) as SQS attributes. */
export function fromEdgeqAttributes(json: string | null): SqsView {
  const view: SqsView = { attributes: new Map() };
  if (json === null) return view;
  const stored = JSON.parse(json) as Record<string, string>;
  let types: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(stored[TYPES_ATTRIBUTE] ?? "{}") as unknown;
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) types = parsed as Record<string, unknown>;
  } catch {
    // Not ours (set through the v1 API): every attribute reads as a String.
  }
  for (const [name, value] of Object.entries(stored)) {
    if (!isAttributeName(name) || typeof value !== "string" || value.length === 0) continue;
    const declared = types[name];
    const dataType = typeof declared === "string" && DATA_TYPE.test(declared) ? declared : "String";
    if (dataType.startsWith("Binary") && BASE64.test(value)) view.attributes.set(name, { DataType: dataType, BinaryValue: value });
    else view.attributes.set(name, { DataType: dataType.startsWith("Binary") ? "String" : dataType, StringValue: value });
  }
  if (stored[TRACE_HEADER_ATTRIBUTE] !== undefined) view.traceHeader = stored[TRACE_HEADER_ATTRIBUTE];
  if (stored[DEAD_LETTER_SOURCE_ATTRIBUTE] !== undefined) view.deadLetterSource = stored[DEAD_LETTER_SOURCE_ATTRIBUTE];
  return view;
}

/**
 * The attributes a receive asked for with MessageAttributeNames: `All` or
 * `.*` for all, `prefix.*` for those under a prefix, else exact names.
 */
export function selectAttributes(attributes: Map<string, SqsAttribute>, names: readonly string[] | undefined): Map<string, SqsAttribute> {
  if (!names || names.length === 0) return new Map();
  if (names.includes("All") || names.includes(".*")) return attributes;
  const prefixes = names.filter((n) => n.endsWith(".*")).map((n) => n.slice(0, -1));
  const exact = new Set(names);
  return new Map([...attributes].filter(([name]) => exact.has(name) || prefixes.some((p) => name.startsWith(p))));
}

/** The attributes with their values as bytes, for the checksum. */
export const forDigest = (attributes: ReadonlyMap<string, SqsAttribute>): Map<string, AttributeForDigest> =>
  new Map(
    [...attributes].map(([name, a]) => [
      name,
      a.BinaryValue !== undefined ? { DataType: a.DataType, BinaryValue: decodeBase64(a.BinaryValue) } : { DataType: a.DataType, StringValue: a.StringValue },
    ]),
  );
