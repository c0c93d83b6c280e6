import { readFile, stat } from "node:fs/promises";
import { isValidChecksumAddress, toChecksumAddress } from "@ethereumjs/util";
import { NodeError, isNodeError } from "./errors.js";
import type { Hex } from "./types.js";

/** Error codes raised while reading and validating a genesis file. */
export const GenesisErrorCode = {
  /** A field is missing, of the wrong type, out of range, or not allowed. */
  INVALID_FIELD: "GENESIS_INVALID_FIELD",
  /** The genesis file is not valid JSON. */
  INVALID_JSON: "GENESIS_INVALID_JSON",
  /** The genesis file cannot be read (missing, a directory, no permission). */
  FILE_UNREADABLE: "GENESIS_FILE_UNREADABLE",
} as const;

/** One of the `GenesisErrorCode` values. */
export type GenesisErrorCode = (typeof GenesisErrorCode)[keyof typeof GenesisErrorCode];

/** Data carried by a genesis `NodeError`: the field path that was wrong, or the file that failed. */
export type GenesisErrorType =
  | { code: typeof GenesisErrorCode.INVALID_FIELD; field: string; path?: string }
  | { code: typeof GenesisErrorCode.INVALID_JSON; path: string }
  | { code: typeof GenesisErrorCode.FILE_UNREADABLE; path: string };

/** Parameters of the memory-hard scrypt seal (see docs/genesis.md). */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}

/** Restricted proof-of-work parameters fixed at genesis. */
export interface GenesisConsensus {
  /** Target seconds between blocks. */
  blockTime: number;
  /** Base difficulty of the genesis block, the parent of block 1. */
  initialDifficulty: bigint;
  /** Lowest base difficulty retargeting may reach. */
  minDifficulty: bigint;
  /** Retarget step: the base difficulty changes by at most `difficulty / divisor` per block. */
  difficultyBoundDivisor: bigint;
  /** Scrypt cost parameters of the seal. */
  scrypt: ScryptParams;
  /** W: how many previous blocks count towards a miner's streak penalty. */
  streakWindow: number;
  /** Blocks a miner stays banned after equivocating. */
  banBlocks: number;
  /** Miners eligible from genesis (lowercase addresses). */
  miners: Hex[];
}

/** A sub-chain declared at genesis (DESIGN.md section 5, docs/subchains.md). */
export interface SubchainDeclaration {
  /** Fixed numeric id, 0 to MAX_SUBCHAIN_ID; 0 is always `pins`. */
  id: number;
  /** Name used by node config (`--subchains posts,bt`) and gossip topics. */
  name: string;
  /** Gas charged per payload byte, on top of the transaction's own gas. */
  payloadGasPerByte: bigint;
  /** Largest single payload, in bytes. */
  maxPayloadBytes: number;
  /** Most payload bytes one sub-block (so one main block, for this sub-chain) may carry. */
  maxSubBlockBytes: number;
}

/** A validated genesis file: quantities as bigint, addresses as lowercase 0x hex. */
export interface GenesisConfig {
  /** Network name, such as `vs1984-dev`. */
  name: string;
  /** EIP-155 chain id. */
  chainId: bigint;
  /** Genesis block timestamp, unix seconds. */
  timestamp: bigint;
  /** Genesis block extra data, at most 32 bytes. */
  extraData: Hex;
  /** Block gas limit. */
  gasLimit: bigint;
  /** Fixed minimum fee per gas (wei) every transaction must pay. */
  baseFeePerGas: bigint;
  /** Wei paid to the miner of each block besides fees. */
  blockReward: bigint;
  /** Consensus parameters. */
  consensus: GenesisConsensus;
  /** Initial balances in wei, by lowercase address. */
  alloc: Map<Hex, bigint>;
  /** The sub-chains, in ascending id order; `pins` (id 0) is always first. */
  subchains: SubchainDeclaration[];
}

/** A quantity as the JSON file holds it: a safe-integer JSON number, or a decimal or 0x-hex string. */
export type GenesisQuantityJson = number | string;

/** The JSON shape of a genesis file, as `genesisToJson` writes it. */
export interface GenesisJson {
  name: string;
  chainId: GenesisQuantityJson;
  timestamp: GenesisQuantityJson;
  extraData: string;
  gasLimit: GenesisQuantityJson;
  baseFeePerGas: GenesisQuantityJson;
  blockReward: GenesisQuantityJson;
  consensus: {
    blockTime: number;
    initialDifficulty: GenesisQuantityJson;
    minDifficulty: GenesisQuantityJson;
    difficultyBoundDivisor: GenesisQuantityJson;
    scrypt: { N: number; r: number; p: number };
    streakWindow: number;
    banBlocks: number;
    miners: string[];
  };
  alloc: Record<string, { balance: GenesisQuantityJson }>;
  subchains: SubchainDeclarationJson[];
}

/** The JSON shape of one `subchains` entry; `maxPayloadBytes` may be left out (1 MiB). */
export interface SubchainDeclarationJson {
  id: number;
  name: string;
  payloadGasPerByte: GenesisQuantityJson;
  maxPayloadBytes?: number;
  maxSubBlockBytes: number;
}

/** Id of the mandatory `pins` sub-chain (Guard pin records), which every node follows. */
export const PINS_SUBCHAIN_ID = 0;
/** Name of the mandatory sub-chain with id 0. */
export const PINS_SUBCHAIN_NAME = "pins";
/** Highest sub-chain id: ids are one byte in database keys. */
export const MAX_SUBCHAIN_ID = 255;
/** `maxPayloadBytes` when a sub-chain leaves it out: 1 MiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Upper bound of any sub-chain's `maxPayloadBytes`: 16 MiB. */
export const MAX_PAYLOAD_BYTES_LIMIT = 16 * 1024 * 1024;
/** Upper bound of any sub-chain's `maxSubBlockBytes`: 64 MiB, what one block import may hold per sub-chain. */
export const MAX_SUB_BLOCK_BYTES_LIMIT = 64 * 1024 * 1024;

const MAX_UINT64 = 2n ** 64n - 1n;
const MAX_UINT256 = 2n ** 256n - 1n;
const MAX_CHAIN_ID = BigInt(Number.MAX_SAFE_INTEGER);
const MAX_EXTRA_DATA_BYTES = 32;
const MIN_GAS_LIMIT = 21000n;
const MAX_SCRYPT_N = 2 ** 20;
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

const TOP_LEVEL_KEYS = [
  "name",
  "chainId",
  "timestamp",
  "extraData",
  "gasLimit",
  "baseFeePerGas",
  "blockReward",
  "consensus",
  "alloc",
  "subchains",
] as const;
const CONSENSUS_KEYS = [
  "blockTime",
  "initialDifficulty",
  "minDifficulty",
  "difficultyBoundDivisor",
  "scrypt",
  "streakWindow",
  "banBlocks",
  "miners",
] as const;
const SCRYPT_KEYS = ["N", "r", "p"] as const;
const ALLOC_ENTRY_KEYS = ["balance"] as const;
const SUBCHAIN_KEYS = ["id", "name", "payloadGasPerByte", "maxPayloadBytes", "maxSubBlockBytes"] as const;
// Gas of a transaction before its calldata and payload: a payload must fit a block beside it.
const TX_BASE_GAS = 21000n;

type JsonObject = Record<string, unknown>;

// `got` is optional as a rest element so that an explicit `undefined` still prints as "got nothing".
function invalid(field: string, problem: string, ...got: [] | [unknown]): NodeError<GenesisErrorType> {
  const tail = got.length > 0 ? `, got ${describe(got[0])}` : "";
  return new NodeError<GenesisErrorType>(
    { code: GenesisErrorCode.INVALID_FIELD, field },
    `genesis field ${JSON.stringify(clip(field))}: ${problem}${tail}`,
  );
}

// Values come from an untrusted file: keep them short and printable in messages.
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return JSON.stringify(clip(value));
  return clip(String(value));
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function expectObject(value: unknown, field: string, allowed: readonly string[]): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(field, "must be a JSON object", value);
  }
  const obj = value as JsonObject;
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw invalid(join(field, key), `is not a known field (allowed: ${allowed.join(", ")})`);
  }
  return obj;
}

function join(parent: string, key: string): string {
  return parent === "" ? key : `${parent}.${key}`;
}

function required(obj: JsonObject, key: string, field: string): unknown {
  if (!Object.hasOwn(obj, key) || obj[key] === undefined) throw invalid(field, "is missing");
  return obj[key];
}

function parseName(value: unknown, field: string): string {
  if (typeof value !== "string") throw invalid(field, "must be a string", value);
  // The name ends up in data directory and log names, so keep it to a path-safe alphabet.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) {
    throw invalid(field, "must be 1 to 64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit", value);
  }
  return value;
}

function parseQuantity(value: unknown, field: string, min: bigint, max: bigint, maxLabel: string): bigint {
  let n: bigint;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw invalid(field, "must be an integer", value);
    if (!Number.isSafeInteger(value)) {
      throw invalid(field, "is a JSON number beyond 2^53 - 1 and may have lost precision; write it as a string", value);
    }
    n = BigInt(value);
  } else if (typeof value === "string") {
    if (/^0x[0-9a-fA-F]+$/.test(value)) n = BigInt(value);
    else if (/^(0|[1-9][0-9]*)$/.test(value)) n = BigInt(value);
    else if (/^-[0-9]+$/.test(value)) throw invalid(field, `must be an integer between ${min} and ${maxLabel}`, value);
    else throw invalid(field, "must be a decimal string without leading zeros or a 0x-prefixed hex string", value);
  } else {
    throw invalid(field, "must be an integer, as a JSON number or a decimal or 0x-hex string", value);
  }
  if (n < min || n > max) throw invalid(field, `must be an integer between ${min} and ${maxLabel}`, value);
  return n;
}

function parseSmallInt(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number") throw invalid(field, "must be a JSON number", value);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer between ${min} and ${max}`, value);
  }
  return value;
}

function parseData(value: unknown, field: string, maxBytes: number): Hex {
  if (typeof value !== "string") throw invalid(field, "must be a 0x-prefixed hex string", value);
  if (!/^0x([0-9a-fA-F]{2})*$/.test(value)) {
    throw invalid(field, "must be a 0x-prefixed hex string with an even number of digits", value);
  }
  const bytes = (value.length - 2) / 2;
  if (bytes > maxBytes) throw invalid(field, `must be at most ${maxBytes} bytes, got ${bytes} bytes`);
  return value.toLowerCase() as Hex;
}

function parseAddress(value: unknown, field: string): Hex {
  if (typeof value !== "string") throw invalid(field, "must be a 0x-prefixed address string", value);
  return checkAddress(value, field);
}

function checkAddress(text: string, field: string): Hex {
  if (!/^0x[0-9a-fA-F]{40}$/.test(text)) throw invalid(field, "must be a 0x-prefixed 20-byte hex address", text);
  const body = text.slice(2);
  const mixedCase = body !== body.toLowerCase() && body !== body.toUpperCase();
  if (mixedCase && !isValidChecksumAddress(text)) {
    throw invalid(field, "has mixed case but is not a valid EIP-55 checksum address", text);
  }
  return text.toLowerCase() as Hex;
}

function parseScrypt(value: unknown, field: string): ScryptParams {
  const obj = expectObject(value, field, SCRYPT_KEYS);
  const nField = join(field, "N");
  const rawN = required(obj, "N", nField);
  if (typeof rawN !== "number" || !Number.isSafeInteger(rawN) || rawN < 2 || rawN > MAX_SCRYPT_N || (rawN & (rawN - 1)) !== 0) {
    throw invalid(nField, `must be a power of two between 2 and ${MAX_SCRYPT_N}`, rawN);
  }
  const r = parseSmallInt(required(obj, "r", join(field, "r")), join(field, "r"), 1, 32);
  const p = parseSmallInt(required(obj, "p", join(field, "p")), join(field, "p"), 1, 16);
  const memory = rawN * r * 128;
  if (memory > MAX_SCRYPT_MEMORY) {
    throw invalid(field, `N * r * 128 must be at most ${MAX_SCRYPT_MEMORY} bytes (256 MiB), got ${memory} (N=${rawN}, r=${r})`);
  }
  return { N: rawN, r, p };
}

function parseMiners(value: unknown, field: string): Hex[] {
  if (!Array.isArray(value)) throw invalid(field, "must be an array of addresses", value);
  if (value.length === 0) throw invalid(field, "must list at least one miner");
  const miners: Hex[] = [];
  const seen = new Map<Hex, number>();
  value.forEach((item: unknown, i) => {
    const f = `${field}[${i}]`;
    const address = parseAddress(item, f);
    const first = seen.get(address);
    if (first !== undefined) throw invalid(f, `duplicates ${field}[${first}]`, item);
    seen.set(address, i);
    miners.push(address);
  });
  return miners;
}

function parseConsensus(value: unknown, field: string): GenesisConsensus {
  const obj = expectObject(value, field, CONSENSUS_KEYS);
  const f = (key: string): string => join(field, key);
  const get = (key: string): unknown => required(obj, key, f(key));

  const blockTime = parseSmallInt(get("blockTime"), f("blockTime"), 1, Number.MAX_SAFE_INTEGER);
  const minDifficulty = parseQuantity(get("minDifficulty"), f("minDifficulty"), 1n, MAX_UINT256, "2^256 - 1");
  const rawInitial = get("initialDifficulty");
  const initialDifficulty = parseQuantity(rawInitial, f("initialDifficulty"), 1n, MAX_UINT256, "2^256 - 1");
  if (initialDifficulty < minDifficulty) {
    throw invalid(f("initialDifficulty"), `must be at least ${f("minDifficulty")} (${minDifficulty})`, rawInitial);
  }
  const difficultyBoundDivisor = parseQuantity(
    get("difficultyBoundDivisor"),
    f("difficultyBoundDivisor"),
    2n,
    MAX_UINT256,
    "2^256 - 1",
  );
  const scrypt = parseScrypt(get("scrypt"), f("scrypt"));
  const streakWindow = parseSmallInt(get("streakWindow"), f("streakWindow"), 1, 64);
  const banBlocks = parseSmallInt(get("banBlocks"), f("banBlocks"), 1, Number.MAX_SAFE_INTEGER);
  const miners = parseMiners(get("miners"), f("miners"));
  return { blockTime, initialDifficulty, minDifficulty, difficultyBoundDivisor, scrypt, streakWindow, banBlocks, miners };
}

function parseAlloc(value: unknown, field: string): Map<Hex, bigint> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(field, "must be a JSON object of address -> { balance }", value);
  }
  const alloc = new Map<Hex, bigint>();
  const keyOf = new Map<Hex, string>();
  let total = 0n;
  for (const [key, entry] of Object.entries(value as JsonObject)) {
    const entryField = join(field, key);
    const address = checkAddress(key, entryField);
    const earlier = keyOf.get(address);
    if (earlier !== undefined) throw invalid(entryField, `is the same address as ${join(field, earlier)}`);
    keyOf.set(address, key);
    const obj = expectObject(entry, entryField, ALLOC_ENTRY_KEYS);
    const balanceField = join(entryField, "balance");
    const balance = parseQuantity(required(obj, "balance", balanceField), balanceField, 0n, MAX_UINT256, "2^256 - 1");
    total += balance;
    alloc.set(address, balance);
  }
  // The total supply must fit the same 256-bit balance every account holds.
  if (total > MAX_UINT256) throw invalid(field, "balances must sum to at most 2^256 - 1");
  return alloc;
}

function parseSubchain(value: unknown, field: string, gasLimit: bigint): SubchainDeclaration {
  const obj = expectObject(value, field, SUBCHAIN_KEYS);
  const f = (key: string): string => join(field, key);
  const get = (key: string): unknown => required(obj, key, f(key));

  const id = parseSmallInt(get("id"), f("id"), 0, MAX_SUBCHAIN_ID);
  const rawName = get("name");
  if (typeof rawName !== "string") throw invalid(f("name"), "must be a string", rawName);
  // The name is typed in `--subchains posts,bt` and ends up in gossip topic names.
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(rawName)) {
    throw invalid(f("name"), "must be 1 to 32 characters of a-z, 0-9 or '-', starting with a letter", rawName);
  }
  const name = rawName;
  if (name === PINS_SUBCHAIN_NAME && id !== PINS_SUBCHAIN_ID) {
    throw invalid(f("id"), `must be ${PINS_SUBCHAIN_ID}: the "${PINS_SUBCHAIN_NAME}" sub-chain has a fixed id`, id);
  }
  if (id === PINS_SUBCHAIN_ID && name !== PINS_SUBCHAIN_NAME) {
    throw invalid(f("name"), `must be "${PINS_SUBCHAIN_NAME}": id ${PINS_SUBCHAIN_ID} is reserved for it`, name);
  }
  const payloadGasPerByte = parseQuantity(get("payloadGasPerByte"), f("payloadGasPerByte"), 1n, MAX_UINT64, "2^64 - 1");
  const maxPayloadBytes = Object.hasOwn(obj, "maxPayloadBytes")
    ? parseSmallInt(obj.maxPayloadBytes, f("maxPayloadBytes"), 1, MAX_PAYLOAD_BYTES_LIMIT)
    : DEFAULT_MAX_PAYLOAD_BYTES;
  const rawSubBlock = get("maxSubBlockBytes");
  const maxSubBlockBytes = parseSmallInt(rawSubBlock, f("maxSubBlockBytes"), 1, MAX_SUB_BLOCK_BYTES_LIMIT);
  if (maxSubBlockBytes < maxPayloadBytes) {
    throw invalid(f("maxSubBlockBytes"), `must be at least maxPayloadBytes (${maxPayloadBytes}) so that the largest payload fits a sub-block`, rawSubBlock);
  }
  const maxPayloadGas = TX_BASE_GAS + payloadGasPerByte * BigInt(maxPayloadBytes);
  if (maxPayloadGas > gasLimit) {
    throw invalid(
      f("payloadGasPerByte"),
      `a payload of maxPayloadBytes (${maxPayloadBytes}) would need ${TX_BASE_GAS} + ${payloadGasPerByte} * ${maxPayloadBytes} = ${maxPayloadGas} gas, more than gasLimit (${gasLimit})`,
    );
  }
  return { id, name, payloadGasPerByte, maxPayloadBytes, maxSubBlockBytes };
}

function parseSubchains(value: unknown, field: string, gasLimit: bigint): SubchainDeclaration[] {
  if (!Array.isArray(value)) throw invalid(field, "must be an array of sub-chain declarations", value);
  const byId = new Map<number, number>();
  const byName = new Map<string, number>();
  const out: SubchainDeclaration[] = [];
  value.forEach((item: unknown, i) => {
    const f = `${field}[${i}]`;
    const decl = parseSubchain(item, f, gasLimit);
    const sameId = byId.get(decl.id);
    if (sameId !== undefined) throw invalid(`${f}.id`, `duplicates ${field}[${sameId}].id`, decl.id);
    const sameName = byName.get(decl.name);
    if (sameName !== undefined) throw invalid(`${f}.name`, `duplicates ${field}[${sameName}].name`, decl.name);
    byId.set(decl.id, i);
    byName.set(decl.name, i);
    out.push(decl);
  });
  if (!byId.has(PINS_SUBCHAIN_ID)) {
    throw invalid(field, `must declare the mandatory "${PINS_SUBCHAIN_NAME}" sub-chain with id ${PINS_SUBCHAIN_ID}`);
  }
  return out.sort((a, b) => a.id - b.id);
}

/** Validates a genesis document (already JSON-parsed) and returns its typed form; throws `NodeError` naming the bad field. */
export function parseGenesis(json: unknown): GenesisConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new NodeError<GenesisErrorType>(
      { code: GenesisErrorCode.INVALID_FIELD, field: "" },
      `genesis: must be a JSON object, got ${describe(json)}`,
    );
  }
  const obj = expectObject(json, "", TOP_LEVEL_KEYS);
  const get = (key: string): unknown => required(obj, key, key);

  const name = parseName(get("name"), "name");
  const chainId = parseQuantity(get("chainId"), "chainId", 1n, MAX_CHAIN_ID, "2^53 - 1");
  const timestamp = parseQuantity(get("timestamp"), "timestamp", 0n, MAX_UINT64, "2^64 - 1");
  const extraData = parseData(get("extraData"), "extraData", MAX_EXTRA_DATA_BYTES);
  const gasLimit = parseQuantity(get("gasLimit"), "gasLimit", MIN_GAS_LIMIT, MAX_UINT64, "2^64 - 1");
  const baseFeePerGas = parseQuantity(get("baseFeePerGas"), "baseFeePerGas", 0n, MAX_UINT256, "2^256 - 1");
  const blockReward = parseQuantity(get("blockReward"), "blockReward", 0n, MAX_UINT256, "2^256 - 1");
  const consensus = parseConsensus(get("consensus"), "consensus");
  const alloc = parseAlloc(get("alloc"), "alloc");
  const subchains = parseSubchains(get("subchains"), "subchains", gasLimit);
  // Rewards create coins: over 2^64 blocks (block numbers are 64-bit) they and the alloc must still
  // fit the 256-bit balance of one account, so no balance can ever overflow.
  let supply = 0n;
  for (const balance of alloc.values()) supply += balance;
  if (blockReward > (MAX_UINT256 - supply) >> 64n) {
    throw invalid(
      "blockReward",
      `must be at most (2^256 - 1 - the alloc balances) / 2^64 = ${(MAX_UINT256 - supply) >> 64n} (rewards of 2^64 blocks must not overflow a balance)`,
    );
  }
  return { name, chainId, timestamp, extraData, gasLimit, baseFeePerGas, blockReward, consensus, alloc, subchains };
}

/** Largest genesis file read: 64 MiB, room for some 800,000 alloc entries. */
export const MAX_GENESIS_FILE_BYTES = 64 * 1024 * 1024;

/** Reads and validates the genesis file at `path`; throws `NodeError` with a `GenesisErrorCode`. */
export async function loadGenesis(path: string): Promise<GenesisConfig> {
  let text: string;
  try {
    // a device or a pipe would be read without end (/dev/zero) or wait for a writer forever
    const s = await stat(path);
    if (!s.isFile()) throw new Error("not a regular file");
    if (s.size > MAX_GENESIS_FILE_BYTES) throw new Error(`${s.size} bytes, more than the ${MAX_GENESIS_FILE_BYTES} a genesis file may have`);
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new NodeError<GenesisErrorType>(
      { code: GenesisErrorCode.FILE_UNREADABLE, path },
      `cannot read genesis file ${JSON.stringify(path)}: ${(e as Error).message}`,
    );
  }
  let json: unknown;
  try {
    // Editors on some systems save a byte order mark, which JSON.parse rejects.
    json = JSON.parse(text.startsWith("\uFEFF") ? text.slice(1) : text);
  } catch (e) {
    throw new NodeError<GenesisErrorType>(
      { code: GenesisErrorCode.INVALID_JSON, path },
      `genesis file ${JSON.stringify(path)} is not valid JSON: ${(e as Error).message}`,
    );
  }
  try {
    return parseGenesis(json);
  } catch (e) {
    if (isNodeError(e) && e.code === GenesisErrorCode.INVALID_FIELD) {
      const type = e.type as GenesisErrorType & { field: string };
      throw new NodeError<GenesisErrorType>({ ...type, path }, `${e.message} (in ${path})`);
    }
    throw e;
  }
}

// Safe integers stay readable JSON numbers; larger values become decimal strings so no precision is lost.
function quantityToJson(n: bigint): GenesisQuantityJson {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString(10);
}

/** Writes a genesis config in its JSON form (checksummed addresses), the inverse of `parseGenesis`. */
export function genesisToJson(g: GenesisConfig): GenesisJson {
  const alloc: Record<string, { balance: GenesisQuantityJson }> = {};
  for (const [address, balance] of g.alloc) alloc[toChecksumAddress(address)] = { balance: quantityToJson(balance) };
  const c = g.consensus;
  return {
    name: g.name,
    chainId: quantityToJson(g.chainId),
    timestamp: quantityToJson(g.timestamp),
    extraData: g.extraData,
    gasLimit: quantityToJson(g.gasLimit),
    baseFeePerGas: quantityToJson(g.baseFeePerGas),
    blockReward: quantityToJson(g.blockReward),
    consensus: {
      blockTime: c.blockTime,
      initialDifficulty: quantityToJson(c.initialDifficulty),
      minDifficulty: quantityToJson(c.minDifficulty),
      difficultyBoundDivisor: quantityToJson(c.difficultyBoundDivisor),
      scrypt: { N: c.scrypt.N, r: c.scrypt.r, p: c.scrypt.p },
      streakWindow: c.streakWindow,
      banBlocks: c.banBlocks,
      miners: c.miners.map((m) => toChecksumAddress(m)),
    },
    alloc,
    subchains: g.subchains.map((s) => ({
      id: s.id,
      name: s.name,
      payloadGasPerByte: quantityToJson(s.payloadGasPerByte),
      maxPayloadBytes: s.maxPayloadBytes,
      maxSubBlockBytes: s.maxSubBlockBytes,
    })),
  };
}
