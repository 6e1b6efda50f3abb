import { RECEIPT_PATTERN } from "../client/protocol";
import type { LeaseRef } from "../durable-objects/contract";

export interface ParsedReceipt extends LeaseRef {
  partition: number;
}

/** `<partition>.<seq>.<lease token>`: enough to find the lease without any lookup. */
export const formatReceipt = (partition: number, seq: number, token: string): string => `${partition}.${seq}.${token}`;

export function parseReceipt(receipt: string): ParsedReceipt | null {
  const m = RECEIPT_PATTERN.exec(receipt);
  if (!m) return null;
  return { partition: Number(m[1]), seq: Number(m[2]), token: m[3] };
}
