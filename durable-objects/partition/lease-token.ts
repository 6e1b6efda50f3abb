/**
 * Lease tokens. A receive's token is 128 random bits (22 characters of
 * base64url). A consume stream's token starts with the stream's owner id
 * (72 random bits, 12 characters) and goes on with a token of its own, so
 * the leases a stream holds can be told apart from every other's: when the
 * stream closes they are given back at once (streams.ts), and after a
 * restart the leases of streams that are no longer connected are found by
 * their owner (reclaim.ts). The two kinds differ in length, which a
 * receipt's token pattern (16 to 64 of [A-Za-z0-9_-]) allows; the owner
 * part adds nothing a holder could guess, the random part still fences.
 */

const RECEIVE_TOKEN_LENGTH = 22;
const OWNER_LENGTH = 12;
const OWNED_TOKEN_LENGTH = OWNER_LENGTH + RECEIVE_TOKEN_LENGTH;

function randomBase64Url(bytes: number): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...random)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A fresh lease token: 128 random bits, base64url. */
export function newLeaseToken(): string {
  return randomBase64Url(16);
}

/** A fresh owner id for a consume stream: 72 random bits, base64url (12 characters). */
export function newLeaseOwner(): string {
  return randomBase64Url(9);
}

/** A fresh lease token of `owner` (null: a receive's, owned by nobody). */
export function leaseTokenOf(owner: string | null): string {
  return owner === null ? newLeaseToken() : owner + newLeaseToken();
}

/** The stream that owns the lease of `token`; null for a receive's. */
export function leaseOwner(token: string): string | null {
  return token.length === OWNED_TOKEN_LENGTH ? token.slice(0, OWNER_LENGTH) : null;
}

/** Whether `owner` has the shape of an owner id. */
export const isLeaseOwner = (owner: unknown): owner is string =>
  typeof owner === "string" && owner.length === OWNER_LENGTH && /^[A-Za-z0-9_-]+$/.test(owner);
