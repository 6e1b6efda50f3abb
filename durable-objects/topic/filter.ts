import type { SubscriptionFilter } from "../../client/protocol";

/**
 * Whether a message's attributes pass a subscription's filter: for every
 * name of the filter, the attribute of that name is one of its values. No
 * filter (or an empty one) takes every message.
 */
export function matches(filter: SubscriptionFilter | null, attributes: Record<string, string> | null): boolean {
  if (filter === null) return true;
  for (const name of Object.keys(filter)) {
    if (attributes === null || !Object.hasOwn(attributes, name) || !filter[name].includes(attributes[name])) return false;
  }
  return true;
}
