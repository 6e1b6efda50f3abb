/**
 * The checksums SQS answers and its SDKs verify: MD5OfMessageBody (the MD5
 * of the body's UTF-8 bytes) and MD5OfMessageAttributes (the MD5 of the
 * attributes encoded as SQS documents it: sorted by name, each as its name,
 * its data type, a transport byte (1 for String and Number, 2 for Binary)
 * and its value, every variable part after a 4-byte big-endian length).
 */

const encoder = new TextEncoder();

/** A message attribute as SQS sends it; `BinaryValue` is the value's bytes. */
export interface AttributeForDigest {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Uint8Array;
}

const hex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** The MD5 of `data` (a string counts as its UTF-8 bytes), as lowercase hex. */
export async function md5Hex(data: string | Uint8Array): Promise<string> {
  // workerd's WebCrypto digests MD5 as well (a non-standard algorithm, for compatibility with such protocols).
  return hex(await crypto.subtle.digest("MD5", typeof data === "string" ? encoder.encode(data) : data));
}

/** MD5OfMessageAttributes (or MD5OfMessageSystemAttributes) of a set of attributes; undefined when there are none. */
export async function md5OfAttributes(attributes: ReadonlyMap<string, AttributeForDigest>): Promise<string | undefined> {
  if (attributes.size === 0) return undefined;
  const parts: Uint8Array[] = [];
  const withLength = (bytes: Uint8Array) => {
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, bytes.length);
    parts.push(length, bytes);
  };
  // SQS sorts by name as Java strings compare (UTF-16 code units), which is also JavaScript's default order.
  for (const name of [...attributes.keys()].sort()) {
    const value = attributes.get(name)!;
    withLength(encoder.encode(name));
    withLength(encoder.encode(value.DataType));
    if (value.BinaryValue !== undefined) {
      parts.push(Uint8Array.of(2));
      withLength(value.BinaryValue);
    } else {
      parts.push(Uint8Array.of(1));
      withLength(encoder.encode(value.StringValue ?? ""));
    }
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return md5Hex(all);
}
