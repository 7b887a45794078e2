/**
 * JSON for saved state that holds 64-bit values: a SnapshotValue is what JSON can carry
 * plus `bigint`. A bigint is written as the one-key object `{"$bigint": "0x..."}` (or
 * `"-0x..."`), so any size and sign comes back exactly; keys starting with "$" are
 * reserved for this and refused in ordinary objects. Everything JSON.stringify would
 * silently change (undefined, NaN, Infinity, class instances, typed arrays, cycles,
 * `__proto__` keys) is refused with the path of the offending value instead.
 */
import { SnapshotError } from "./errors.js";

/** A value a JSON snapshot section can hold: JSON's values plus bigint, nested plainly. */
export type SnapshotValue =
  null | boolean | number | string | bigint | SnapshotValue[] | { [key: string]: SnapshotValue };

/** The key of the object that stands for a bigint in the JSON text. */
export const BIGINT_KEY = "$bigint";

/** Deepest nesting accepted (device and vCPU states are a few levels deep). */
export const MAX_JSON_DEPTH = 64;

const BIGINT_TEXT = /^-?0x(?:0|[1-9a-f][0-9a-f]*)$/;

function pathOf(section: string, path: string): string {
  return `section "${section}"${path === "" ? "" : ` at ${path}`}`;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Turns `value` into the JSON-able tree that stands for it; throws SnapshotError. */
function encodeValue(
  value: unknown,
  section: string,
  path: string,
  depth: number,
  seen: Set<object>,
): unknown {
  const fail = (what: string, at = path): never => {
    throw new SnapshotError("unencodable", `cannot save ${pathOf(section, at)}: ${what}`, { section });
  };
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) fail(`${value} is not a finite number`);
      return value;
    case "bigint":
      return { [BIGINT_KEY]: value < 0n ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}` };
    case "object": {
      if (value === null) return null;
      if (depth >= MAX_JSON_DEPTH) fail(`nested deeper than ${MAX_JSON_DEPTH} levels`);
      if (seen.has(value)) fail("a cycle (the value contains itself)");
      seen.add(value);
      let out: unknown;
      if (Array.isArray(value)) {
        out = value.map((item, i) => encodeValue(item, section, `${path}[${i}]`, depth + 1, seen));
      } else {
        if (!isPlainObject(value))
          fail(`a ${value.constructor?.name ?? "non-plain"} object (use plain objects and arrays)`);
        const record: Record<string, unknown> = {};
        for (const [key, item] of Object.entries(value)) {
          const at = path === "" ? key : `${path}.${key}`;
          if (key.startsWith("$")) fail(`keys starting with "$" are reserved`, at);
          if (key === "__proto__") fail(`the key "__proto__" is not allowed`, at);
          record[key] = encodeValue(item, section, at, depth + 1, seen);
        }
        out = record;
      }
      seen.delete(value);
      return out;
    }
    default:
      return fail(`${typeof value} cannot be saved`);
  }
}

/** Revives the tree JSON.parse produced: `{"$bigint": ...}` back to bigint, checked. */
function decodeValue(value: unknown, section: string, path: string, depth: number): SnapshotValue {
  const fail = (what: string): never => {
    throw new SnapshotError("malformed", `${pathOf(section, path)}: ${what}`, { section });
  };
  if (value === null || typeof value !== "object") return value as SnapshotValue;
  if (depth >= MAX_JSON_DEPTH) fail(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (Array.isArray(value))
    return value.map((item, i) => decodeValue(item, section, `${path}[${i}]`, depth + 1));
  const entries = Object.entries(value);
  if (entries.some(([key]) => key.startsWith("$"))) {
    const text = (value as Record<string, unknown>)[BIGINT_KEY];
    if (entries.length !== 1 || typeof text !== "string") {
      fail(`an object with a "$" key must be exactly {"${BIGINT_KEY}": "0x..."}`);
    }
    if (!BIGINT_TEXT.test(text as string))
      fail(`"${String(text)}" is not a hexadecimal bigint ("0x..." or "-0x...")`);
    const negative = (text as string).startsWith("-");
    const magnitude = BigInt(negative ? (text as string).slice(1) : (text as string));
    if (negative && magnitude === 0n) fail(`"-0x0" is not a canonical bigint`);
    return negative ? -magnitude : magnitude;
  }
  const record: { [key: string]: SnapshotValue } = {};
  for (const [key, item] of entries) {
    const at = path === "" ? key : `${path}.${key}`;
    if (key === "__proto__") {
      throw new SnapshotError("malformed", `${pathOf(section, at)}: the key "__proto__" is not allowed`, {
        section,
      });
    }
    record[key] = decodeValue(item, section, at, depth + 1);
  }
  return record;
}

/** The JSON text of `value` for section `section`; throws SnapshotError("unencodable"). */
export function stringifySnapshotValue(value: SnapshotValue, section: string): string {
  return JSON.stringify(encodeValue(value, section, "", 0, new Set()));
}

/** The value held by JSON text `text` of section `section`; throws SnapshotError("malformed"). */
export function parseSnapshotValue(text: string, section: string): SnapshotValue {
  let tree: unknown;
  try {
    tree = JSON.parse(text);
  } catch (e) {
    throw new SnapshotError(
      "malformed",
      `section "${section}" is not well-formed JSON: ${(e as Error).message}`,
      {
        section,
      },
    );
  }
  return decodeValue(tree, section, "", 0);
}
