import type { Hex } from "../chain/index.js";
import type { JsonSchema, Param } from "./rpcMethod.js";

// Validators of the Ethereum execution-apis base types. Each `parse` throws a plain message that
// parseParams prefixes with "invalid argument <i>: ", as geth words it.

const QUANTITY_SCHEMA: JsonSchema = { title: "hex encoded unsigned integer", type: "string", pattern: "^0x(0|[1-9a-f][0-9a-f]*)$" };
const BYTES_SCHEMA: JsonSchema = { title: "hex encoded bytes", type: "string", pattern: "^0x[0-9a-f]*$" };
const ADDRESS_SCHEMA: JsonSchema = { title: "hex encoded address", type: "string", pattern: "^0x[0-9a-fA-F]{40}$" };
const HASH_SCHEMA: JsonSchema = { title: "32 byte hex value", type: "string", pattern: "^0x[0-9a-f]{64}$" };
const BLOCK_TAGS = ["latest", "earliest", "pending", "safe", "finalized"] as const;

/** A block tag name. */
export type BlockTag = (typeof BLOCK_TAGS)[number];

/** Which block a call refers to: a tag, a number, or (EIP-1898) a hash. */
export type BlockSelector = { tag: BlockTag } | { number: bigint } | { hash: Hex; requireCanonical: boolean };

function param<T>(name: string, schema: JsonSchema, parse: (v: unknown) => T): Param<T> {
  return { name, schema, optional: false, parse };
}

/** Makes a parameter optional (absent or null parses to undefined). */
export function optional<T>(p: Param<T>): Param<T | undefined> {
  return { ...p, optional: true };
}

function hexDigits(v: unknown, what: string): string {
  if (typeof v !== "string") throw new Error(`${what} must be a hex string, got ${typeof v}`);
  if (!/^0x/i.test(v)) throw new Error("hex string without 0x prefix");
  const digits = v.slice(2);
  if (!/^[0-9a-fA-F]*$/.test(digits)) throw new Error(`invalid hex string ${JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v)}`);
  return digits;
}

/** Parses an unsigned hex quantity (`0x0`, `0x1a`; no leading zeros), at most 256 bits. */
export function parseQuantity(v: unknown): bigint {
  const digits = hexDigits(v, "quantity");
  if (digits.length === 0) throw new Error("hex string \"0x\"");
  if (digits.length > 1 && digits[0] === "0") throw new Error("hex number with leading zero digits");
  if (digits.length > 64) throw new Error("hex number > 256 bits");
  return BigInt(`0x${digits}`);
}

/** Parses even-length hex data into bytes (at most `maxBytes`). */
export function parseData(v: unknown, maxBytes = Infinity): Uint8Array {
  const digits = hexDigits(v, "data");
  if (digits.length % 2 !== 0) throw new Error("hex string of odd length");
  if (digits.length / 2 > maxBytes) throw new Error(`data longer than ${maxBytes} bytes`);
  return Uint8Array.from(Buffer.from(digits, "hex"));
}

function parseFixed(v: unknown, bytes: number, what: string): Hex {
  const digits = hexDigits(v, what);
  if (digits.length !== bytes * 2) throw new Error(`${what} must be ${bytes} bytes (${bytes * 2} hex digits), got ${digits.length} hex digits`);
  return `0x${digits.toLowerCase()}`;
}

/** Parses a 20-byte address (any letter case) to lowercase. */
export function parseAddress(v: unknown): Hex {
  return parseFixed(v, 20, "address");
}

/** Parses a 32-byte hash to lowercase. */
export function parseHash(v: unknown): Hex {
  return parseFixed(v, 32, "hash");
}

/** Parses a block tag, a block number, or an EIP-1898 object `{blockNumber}` / `{blockHash, requireCanonical}`. */
export function parseBlockSelector(v: unknown): BlockSelector {
  if (typeof v === "string") {
    if ((BLOCK_TAGS as readonly string[]).includes(v)) return { tag: v as BlockTag };
    if (!/^0x/i.test(v)) throw new Error(`block tag must be one of ${BLOCK_TAGS.join(", ")} or a hex block number, got ${JSON.stringify(v.slice(0, 40))}`);
    // a 32-byte string is a block hash, as geth reads it (ethers sends a blockTag hash this way)
    if (/^0x[0-9a-fA-F]{64}$/.test(v)) return { hash: parseHash(v), requireCanonical: false };
    return { number: parseQuantity(v) };
  }
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    // a member that is null counts as absent, as geth reads these objects (some serialisers write every field)
    const has = (k: string): boolean => o[k] !== undefined && o[k] !== null;
    if (has("blockHash") && has("blockNumber")) throw new Error("cannot specify both blockHash and blockNumber, choose one or the other");
    if (has("blockHash")) {
      const rc = o.requireCanonical ?? undefined;
      if (rc !== undefined && typeof rc !== "boolean") throw new Error("requireCanonical must be a boolean");
      return { hash: parseHash(o.blockHash), requireCanonical: rc ?? false };
    }
    if (has("blockNumber")) return parseBlockSelector(o.blockNumber);
  }
  throw new Error("block must be a tag, a hex block number, or an object with blockHash or blockNumber");
}

/** A hex quantity parameter. */
export const quantity = (name: string): Param<bigint> => param(name, QUANTITY_SCHEMA, parseQuantity);
/** A hex quantity that must fit a JavaScript number (indexes, counts). */
export const smallQuantity = (name: string): Param<number> =>
  param(name, QUANTITY_SCHEMA, (v) => {
    const n = parseQuantity(v);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${name} too large`);
    return Number(n);
  });
/** A hex data parameter. */
export const data = (name: string, maxBytes = Infinity): Param<Uint8Array> => param(name, BYTES_SCHEMA, (v) => parseData(v, maxBytes));
/** An address parameter (lowercased). */
export const address = (name: string): Param<Hex> => param(name, ADDRESS_SCHEMA, parseAddress);
/** A 32-byte hash parameter (lowercased). */
export const hash = (name: string): Param<Hex> => param(name, HASH_SCHEMA, parseHash);
/** A block tag, number or EIP-1898 block parameter. */
export const block = (name: string): Param<BlockSelector> =>
  param(name, { title: "Block number, tag, or block hash", oneOf: [QUANTITY_SCHEMA, { type: "string", enum: BLOCK_TAGS }, { type: "object" }] }, parseBlockSelector);
/** A boolean parameter. */
export const bool = (name: string): Param<boolean> =>
  param(name, { type: "boolean" }, (v) => {
    if (typeof v !== "boolean") throw new Error(`${name} must be a boolean, got ${typeof v}`);
    return v;
  });
/** A parameter of any JSON value, parsed by `parse` (objects: filters, call requests). */
export const custom = <T>(name: string, schema: JsonSchema, parse: (v: unknown) => T): Param<T> => param(name, schema, parse);
