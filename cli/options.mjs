// Parsers for option values. Each throws commander's InvalidArgumentError,
// which commander reports as a usage error (exit 2) naming the option.
import { InvalidArgumentError } from "commander";

/** A whole number from `min` up (default 0). */
export const integer =
  (min = 0) =>
  (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number from ${min} up, got "${value}"`);
    return n;
  };

/** Any finite number. */
export function number(value) {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
}

/** What `limit` answers for no limit (commander turns a parser's null into ""): the caller sends null. */
export const NO_LIMIT = "none";

/** A number, or `none` (or `null`) for no limit (NO_LIMIT): a queue limit. */
export function limit(value) {
  return value === "none" || value === "null" ? NO_LIMIT : number(value);
}

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds: `300`, or with a unit, `90s`, `5m`, `1h`, `30d`. */
export function seconds(value) {
  const match = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`expected seconds such as 300, 90s, 5m, 1h or 30d, got "${value}"`);
  return Number(match[1]) * UNIT_SECONDS[match[2] || "s"];
}

/** A comma-separated list (`publish,consume`), gathered over repeats of the option. */
export function list(value, previous = []) {
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError("expected a comma-separated list");
  return [...previous, ...items];
}

/** `name=value`, gathered over repeats into one object (`--attr kind=paid --attr region=eu`). */
export function attribute(value, previous = {}) {
  const at = value.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError(`expected name=value, got "${value}"`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

/** `Name: value`, gathered over repeats into one object of headers (`--push-header 'Authorization: Bearer x'`). */
export function header(value, previous = {}) {
  const at = value.indexOf(":");
  if (at <= 0) throw new InvalidArgumentError(`expected "Name: value", got "${value}"`);
  return { ...previous, [value.slice(0, at).trim()]: value.slice(at + 1).trim() };
}
