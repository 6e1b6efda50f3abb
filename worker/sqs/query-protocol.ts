/**
 * SQS's Query protocol, which older clients speak (Debian's awscli 2.9,
 * boto3 before 1.28.82): a form (`Action=SendMessage&QueueUrl=...`, in the
 * body or the query string) with lists and maps flattened into numbered
 * keys (`MessageAttribute.1.Name`, `AttributeName.2`,
 * `SendMessageBatchRequestEntry.3.Id`); answers are XML. The form is turned
 * into the JSON protocol's members, so one set of actions serves both, and
 * the result is written back with the element names of SQS's API model.
 */
import { SqsError } from "./errors";
import type { Input } from "./input";

const XMLNS = "http://queue.amazonaws.com/doc/2012-11-05/";

/** Flattened maps: the form's key -> the member and the fields of each entry. */
const MAPS: Record<string, { member: string; key: string }> = {
  Attribute: { member: "Attributes", key: "Name" },
  MessageAttribute: { member: "MessageAttributes", key: "Name" },
  MessageSystemAttribute: { member: "MessageSystemAttributes", key: "Name" },
  Tag: { member: "Tags", key: "Key" },
};
/** Flattened lists of strings. ReceiveMessage's MessageSystemAttributeNames share AttributeName with AttributeNames. */
const LISTS: Record<string, string> = {
  AttributeName: "AttributeNames",
  MessageAttributeName: "MessageAttributeNames",
  MessageSystemAttributeName: "MessageSystemAttributeNames",
  TagKey: "TagKeys",
};
/** Flattened lists of entries (batches). */
const ENTRY_LISTS: Record<string, string> = {
  SendMessageBatchRequestEntry: "Entries",
  DeleteMessageBatchRequestEntry: "Entries",
  ChangeMessageVisibilityBatchRequestEntry: "Entries",
};

/** The form's keys, split at dots, as a tree. */
type Tree = { [key: string]: Tree | string };

const malformed = (key: string) => new SqsError("MalformedQueryString", `the parameter ${key.slice(0, 100)} is malformed`);

function treeOf(params: URLSearchParams): Tree {
  const root: Tree = {};
  let count = 0;
  for (const [key, value] of params) {
    if (++count > 1000) throw new SqsError("MalformedQueryString", "too many parameters");
    const path = key.split(".");
    if (path.length > 6 || path.some((p) => p === "" || p === "__proto__")) throw malformed(key);
    let node = root;
    for (const [i, part] of path.entries()) {
      const last = i === path.length - 1;
      const existing = Object.hasOwn(node, part) ? node[part] : undefined;
      if (last) {
        if (existing !== undefined) throw malformed(key);
        node[part] = value;
      } else {
        if (typeof existing === "string") throw malformed(key);
        node = (existing ?? (node[part] = {})) as Tree;
      }
    }
  }
  return root;
}

/** The numbered children of a node (`1`, `2`, ...), in their order. */
function numbered(node: Tree | string, key: string): (Tree | string)[] {
  if (typeof node === "string") throw malformed(key);
  const indexes = Object.keys(node);
  if (!indexes.every((i) => /^[1-9]\d{0,3}$/.test(i))) throw malformed(key);
  return indexes.sort((a, b) => Number(a) - Number(b)).map((i) => node[i]);
}

/** A map entry's value: a string (queue attributes) or a structure of strings (message attributes). */
const plain = (node: Tree | string): unknown => (typeof node === "string" ? node : Object.fromEntries(Object.entries(node).map(([k, v]) => [k, plain(v)])));

function membersOf(tree: Tree): Input {
  const input: Input = {};
  for (const [key, node] of Object.entries(tree)) {
    if (key in MAPS) {
      const { member, key: keyField } = MAPS[key];
      const map: Record<string, unknown> = {};
      for (const entry of numbered(node, key)) {
        if (typeof entry === "string" || typeof entry[keyField] !== "string" || entry.Value === undefined) throw malformed(key);
        Object.defineProperty(map, entry[keyField] as string, { value: plain(entry.Value), enumerable: true });
      }
      input[member] = map;
    } else if (key in LISTS) {
      const list = numbered(node, key);
      if (!list.every((v) => typeof v === "string")) throw malformed(key);
      input[LISTS[key]] = [...((input[LISTS[key]] as string[] | undefined) ?? []), ...list];
    } else if (key in ENTRY_LISTS) {
      input[ENTRY_LISTS[key]] = numbered(node, key).map((entry) => {
        if (typeof entry === "string") throw malformed(key);
        return membersOf(entry);
      });
    } else {
      input[key] = plain(node);
    }
  }
  return input;
}

/** The action and its members, from the form in the body and the query string. */
export function parseQueryRequest(url: URL, body: string): { action: string; input: Input } {
  const params = new URLSearchParams(url.search);
  for (const [k, v] of new URLSearchParams(body)) params.append(k, v);
  const tree = treeOf(params);
  const { Action: action, Version: _version, ...rest } = tree;
  if (action === undefined) throw new SqsError("MissingParameter", "The request must contain the parameter Action.");
  if (typeof action !== "string" || !/^[A-Za-z]{1,64}$/.test(action)) throw new SqsError("InvalidAction", "Action is not valid");
  return { action, input: membersOf(rest) };
}

// ---------------------------------------------------------------- XML answers

/** Text as XML: `\r` too, which an XML parser would otherwise turn into `\n`. */
const escape = (text: string) =>
  text.replace(/[&<>"'\r]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\r": "&#xD;" })[c]!);

/** Flattened lists of the results: member -> element name. */
const RESULT_LISTS: Record<string, string> = {
  QueueUrls: "QueueUrl",
  queueUrls: "QueueUrl",
  Messages: "Message",
  Failed: "BatchResultErrorEntry",
  Results: "ListMessageMoveTasksResultEntry",
};
/** Flattened maps of the results: member -> element name (each with Name and Value). */
const RESULT_MAPS: Record<string, string> = { Attributes: "Attribute", MessageAttributes: "MessageAttribute" };

function element(name: string, value: unknown, action: string): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) {
    // The batches' successful entries are named after the action.
    const item = name === "Successful" ? `${action}ResultEntry` : (RESULT_LISTS[name] ?? name);
    return value.map((v) => element(item, v, action)).join("");
  }
  if (name in RESULT_MAPS && typeof value === "object") {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `<${RESULT_MAPS[name]}><Name>${escape(k)}</Name>${element("Value", v, action)}</${RESULT_MAPS[name]}>`)
      .join("");
  }
  if (typeof value === "object") {
    const inner = Object.entries(value as Record<string, unknown>).map(([k, v]) => element(k, v, action)).join("");
    return `<${name}>${inner}</${name}>`;
  }
  return `<${name}>${escape(String(value))}</${name}>`;
}

export const XML_MEDIA_TYPE = "text/xml";

/**
 * The XML declaration that starts an answer. A long-poll that streams
 * (worker/long-poll-answer.ts) sends spaces before its answer, and XML
 * allows them only without a declaration, which is optional: those
 * answers go without one.
 */
const DECLARATION = '<?xml version="1.0"?>';

/** An action's answer as XML; `result` null for the actions that answer nothing but their metadata. */
export function xmlBody(action: string, result: object | null, requestId: string, declaration = true): string {
  const members = result === null ? null : Object.entries(result).map(([k, v]) => element(k, v, action)).join("");
  return (
    `${declaration ? DECLARATION : ""}<${action}Response xmlns="${XMLNS}">` +
    (members === null ? "" : `<${action}Result>${members}</${action}Result>`) +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

export function xmlAnswer(action: string, result: object | null, requestId: string): Response {
  return new Response(xmlBody(action, result, requestId), { status: 200, headers: { "content-type": XML_MEDIA_TYPE, "x-amzn-requestid": requestId } });
}

/** An error's body; without the declaration when it follows a long-poll's spaces. */
export const xmlErrorBody = (err: SqsError, requestId: string, declaration = true): string =>
  `${declaration ? DECLARATION : ""}<ErrorResponse xmlns="${XMLNS}"><Error><Type>${err.fault}</Type>` +
  `<Code>${escape(err.code)}</Code><Message>${escape(err.message)}</Message><Detail/></Error>` +
  `<RequestId>${requestId}</RequestId></ErrorResponse>`;

export function xmlError(err: SqsError, requestId: string): Response {
  return new Response(xmlErrorBody(err, requestId), { status: err.status, headers: { "content-type": XML_MEDIA_TYPE, "x-amzn-requestid": requestId } });
}
