import { ZERO_HASH, bloomBits, type BloomBits, type Block, type BlockHeader, type ChainEvent, type ChainEventData, type Hex, type Log, type Receipt } from "../chain/index.js";
import { FINALIZED_DEPTH, SAFE_DEPTH } from "./eth.js";
import { type LogJson, formatLog } from "./format.js";
import { type BlockTag, custom, parseAddress, parseBlockSelector, parseHash } from "./params.js";
import { RpcError, RpcErrorCode } from "./rpcError.js";
import type { JsonSchema, Param } from "./rpcMethod.js";

/** One end of a log filter's block range: a tag, resolved against the head when the query runs, or a number. */
export type RangeBound = { tag: BlockTag } | { number: bigint };

/** A parsed log filter (eth_getLogs, eth_newFilter, `logs` subscriptions). */
export interface LogFilter {
  /** First block of the range (default `latest`); unused when `blockHash` is set. */
  fromBlock: RangeBound;
  /** Last block of the range (default `latest`); unused when `blockHash` is set. */
  toBlock: RangeBound;
  /** A single block, on any branch, instead of a range. */
  blockHash: Hex | null;
  /** Lowercase emitter addresses, any of which matches; empty matches every address. */
  addresses: Hex[];
  /** Per topic position, the topics any of which matches; null (or empty) matches anything there. */
  topics: (Hex[] | null)[];
}

/** A log with where it sits in the chain: what a log JSON object is made of. */
export interface LogEntry {
  log: Log;
  blockHash: Hex;
  blockNumber: bigint;
  /** Unix seconds of the block. */
  blockTimestamp: bigint;
  transactionHash: Hex;
  transactionIndex: number;
  /** Position of the log in its block (across all of the block's receipts). */
  logIndex: number;
  /** True for a log of a block that a reorganisation dropped from the canonical chain. */
  removed: boolean;
}

/** Limits of a log query. */
export interface LogLimits {
  /** Most blocks a range query may span. */
  maxBlockRange: number;
  /** Most logs one query may return. */
  maxResults: number;
}

/** Default log query limits (as the issue and common providers set them). */
export const defaultLogLimits: LogLimits = { maxBlockRange: 10_000, maxResults: 10_000 };

/** Most addresses in one filter (geth's limit). */
export const MAX_FILTER_ADDRESSES = 1000;
/** Most topic positions in one filter (a log has at most four topics). */
export const MAX_FILTER_TOPICS = 4;
/** Most alternatives at one topic position (geth's limit). */
export const MAX_FILTER_SUB_TOPICS = 1000;

/** What a log query reads of the chain (Blockchain implements it). */
export interface LogReader {
  readonly head: Block;
  getCanonicalHash(number: bigint): Promise<Hex | undefined>;
  getHeader(hash: Hex): Promise<BlockHeader | undefined>;
  getBlock(hash: Hex): Promise<Block | undefined>;
  getReceipts(hash: Hex): Promise<Receipt[] | undefined>;
}

// ---- parsing ----

const LATEST: RangeBound = { tag: "latest" };

function parseRangeBound(v: unknown, key: string): RangeBound {
  if (typeof v !== "string") throw new Error(`${key} must be a block tag or a hex block number`);
  let sel;
  try {
    sel = parseBlockSelector(v);
  } catch (e) {
    throw new Error(`${key}: ${(e as Error).message}`, { cause: e });
  }
  if ("hash" in sel) throw new Error(`${key} must be a block tag or a hex block number`);
  return sel;
}

function parseTopic(v: unknown, where: string): Hex {
  try {
    return parseHash(v);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
  }
}

/** Parses a filter object `{fromBlock, toBlock, address, topics, blockHash}`; throws a message naming the bad field. */
export function parseLogFilter(v: unknown): LogFilter {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("filter must be an object");
  const o = v as Record<string, unknown>;
  const has = (k: string): boolean => o[k] !== undefined && o[k] !== null;
  let blockHash: Hex | null = null;
  if (has("blockHash")) {
    if (has("fromBlock") || has("toBlock")) throw new Error("cannot specify both blockHash and fromBlock/toBlock, choose one or the other");
    blockHash = parseTopic(o.blockHash, "blockHash");
  }
  const fromBlock = has("fromBlock") ? parseRangeBound(o.fromBlock, "fromBlock") : LATEST;
  const toBlock = has("toBlock") ? parseRangeBound(o.toBlock, "toBlock") : LATEST;

  let addresses: Hex[] = [];
  if (has("address")) {
    const raw = Array.isArray(o.address) ? (o.address as unknown[]) : [o.address];
    if (raw.length > MAX_FILTER_ADDRESSES) throw new Error(`more than ${MAX_FILTER_ADDRESSES} addresses`);
    addresses = [
      ...new Set(
        raw.map((a, i) => {
          try {
            return parseAddress(a);
          } catch (e) {
            throw new Error(`address${Array.isArray(o.address) ? `[${i}]` : ""}: ${(e as Error).message}`, { cause: e });
          }
        }),
      ),
    ];
  }

  const topics: (Hex[] | null)[] = [];
  if (has("topics")) {
    if (!Array.isArray(o.topics)) throw new Error("topics must be an array");
    if (o.topics.length > MAX_FILTER_TOPICS) throw new Error(`more than ${MAX_FILTER_TOPICS} topic positions`);
    (o.topics as unknown[]).forEach((t, i) => {
      if (t === null || t === undefined) {
        topics.push(null);
      } else if (Array.isArray(t)) {
        if (t.length > MAX_FILTER_SUB_TOPICS) throw new Error(`more than ${MAX_FILTER_SUB_TOPICS} alternatives in topics[${i}]`);
        // as geth: a null among the alternatives matches anything at that position
        if (t.some((x) => x === null)) topics.push(null);
        else topics.push([...new Set(t.map((x, j) => parseTopic(x, `topics[${i}][${j}]`)))]);
      } else {
        topics.push([parseTopic(t, `topics[${i}]`)]);
      }
    });
  }
  return { fromBlock, toBlock, blockHash, addresses, topics };
}

// ---- matching ----

/** True when `log` matches the filter's addresses and topics (block range and hash are not looked at). */
export function matchesLog(filter: LogFilter, log: Log): boolean {
  if (filter.addresses.length > 0 && !filter.addresses.includes(log.address.toLowerCase() as Hex)) return false;
  for (let i = 0; i < filter.topics.length; i++) {
    const wanted = filter.topics[i];
    if (!wanted || wanted.length === 0) continue;
    const topic = log.topics[i];
    if (topic === undefined || !wanted.includes(topic.toLowerCase() as Hex)) return false;
  }
  return true;
}

function itemBloomBits(itemHex: Hex): BloomBits {
  return bloomBits(Buffer.from(itemHex.slice(2), "hex"));
}

interface BloomQuery {
  /** Any of these must be in the bloom; null when the position matches anything. */
  groups: BloomBits[][];
}

const bloomQueries = new WeakMap<LogFilter, BloomQuery>();

function bloomQuery(filter: LogFilter): BloomQuery {
  let q = bloomQueries.get(filter);
  if (!q) {
    const groups: BloomBits[][] = [];
    if (filter.addresses.length > 0) groups.push(filter.addresses.map(itemBloomBits));
    for (const t of filter.topics) if (t && t.length > 0) groups.push(t.map(itemBloomBits));
    q = { groups };
    bloomQueries.set(filter, q);
  }
  return q;
}

function bloomHas(bloom: Uint8Array, bits: BloomBits): boolean {
  return (bloom[bits[0]]! & bits[1]) !== 0 && (bloom[bits[2]]! & bits[3]) !== 0 && (bloom[bits[4]]! & bits[5]) !== 0;
}

/**
 * Bloom pre-check: false only when no log summarised by `bloomHex` (a header's or receipt's 256-byte
 * logsBloom) can match the filter; true means "read the receipts and look".
 */
export function bloomMayMatch(filter: LogFilter, bloomHex: Hex): boolean {
  const { groups } = bloomQuery(filter);
  if (groups.length === 0) return true;
  const bloom = Buffer.from(bloomHex.slice(2), "hex");
  if (bloom.length !== 256) return true;
  return groups.every((alternatives) => alternatives.some((bits) => bloomHas(bloom, bits)));
}

/** True when a block height is inside the filter's numeric bounds (tags bound nothing: live filters follow the head). */
export function inNumericRange(filter: LogFilter, blockNumber: bigint): boolean {
  if ("number" in filter.fromBlock && blockNumber < filter.fromBlock.number) return false;
  if ("number" in filter.toBlock && blockNumber > filter.toBlock.number) return false;
  return true;
}

/** True when a log of a live head change is one the filter wants: address, topics, numeric bounds and block hash. */
export function matchesEntry(filter: LogFilter, entry: LogEntry): boolean {
  if (filter.blockHash && entry.blockHash !== filter.blockHash) return false;
  return inNumericRange(filter, entry.blockNumber) && matchesLog(filter, entry.log);
}

// ---- reading ----

/** The logs of one block, with their block-wide log indexes, given the block's receipts. */
export function blockLogs(block: Block, receipts: readonly Receipt[], removed = false): LogEntry[] {
  const out: LogEntry[] = [];
  let logIndex = 0;
  receipts.forEach((receipt, i) => {
    const tx = block.transactions[i];
    for (const log of receipt.logs) {
      out.push({
        log,
        blockHash: block.hash,
        blockNumber: block.header.number,
        blockTimestamp: block.header.timestamp,
        transactionHash: tx ? tx.hash : ZERO_HASH,
        transactionIndex: i,
        logIndex: logIndex++,
        removed,
      });
    }
  });
  return out;
}

/** Resolves a range bound against the head height, tags as eth_ methods read them (`safe`, `finalized`: depths below the head). */
export function resolveBound(bound: RangeBound, head: bigint): bigint {
  if ("number" in bound) return bound.number;
  const below = (depth: bigint): bigint => (head > depth ? head - depth : 0n);
  switch (bound.tag) {
    case "earliest":
      return 0n;
    case "safe":
      return below(SAFE_DEPTH);
    case "finalized":
      return below(FINALIZED_DEPTH);
    default:
      return head; // latest, pending (no pending block exists)
  }
}

function limitError(message: string): RpcError {
  return new RpcError(RpcErrorCode.LIMIT_EXCEEDED, message);
}

/**
 * The logs matching `filter`: of one block by hash (any branch), or of the canonical blocks in the
 * range (`toBlock` clamped to the head), skipping blocks whose header bloom rules them out.
 * A range starting after the head is empty. Throws RpcError: -32602 for fromBlock > toBlock,
 * -32005 over a limit, -32000 for an unknown block hash.
 */
export async function queryLogs(chain: LogReader, filter: LogFilter, limits: LogLimits = defaultLogLimits): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  const collect = (entries: readonly LogEntry[]): void => {
    for (const e of entries) {
      if (!matchesLog(filter, e.log)) continue;
      if (out.length >= limits.maxResults) throw limitError(`query returned more than ${limits.maxResults} results`);
      out.push(e);
    }
  };

  if (filter.blockHash) {
    const block = await chain.getBlock(filter.blockHash);
    if (!block) throw new RpcError(RpcErrorCode.SERVER_ERROR, "unknown block");
    if (bloomMayMatch(filter, block.header.logsBloom)) collect(blockLogs(block, (await chain.getReceipts(block.hash)) ?? []));
    return out;
  }

  const head = chain.head.header.number;
  const from = resolveBound(filter.fromBlock, head);
  const requestedTo = resolveBound(filter.toBlock, head);
  const invalidRange = (): RpcError =>
    new RpcError(RpcErrorCode.INVALID_PARAMS, `invalid block range: fromBlock ${from} is after toBlock ${requestedTo}`);
  if ("number" in filter.fromBlock && "number" in filter.toBlock && from > requestedTo) throw invalidRange();
  // A range that starts after the head holds no logs yet, whatever its end: a client polling
  // `{fromBlock: last + 1}` (toBlock `latest`) before the next block gets [], as from geth.
  if (from > head) return out;
  if (from > requestedTo) throw invalidRange();
  const to = requestedTo < head ? requestedTo : head;
  const span = to - from + 1n;
  if (span > BigInt(limits.maxBlockRange)) throw limitError(`block range of ${span} exceeds the limit of ${limits.maxBlockRange}`);

  // Headers are read in parallel chunks; receipts only for the blocks whose bloom may match.
  const CHUNK = 64n;
  for (let start = from; start <= to; start += CHUNK) {
    const end = start + CHUNK - 1n < to ? start + CHUNK - 1n : to;
    const numbers: bigint[] = [];
    for (let n = start; n <= end; n++) numbers.push(n);
    const headers = await Promise.all(
      numbers.map(async (n) => {
        const hash = await chain.getCanonicalHash(n);
        return hash ? { hash, header: await chain.getHeader(hash) } : undefined;
      }),
    );
    for (const h of headers) {
      if (!h?.header || !bloomMayMatch(filter, h.header.logsBloom)) continue;
      const [block, receipts] = await Promise.all([chain.getBlock(h.hash), chain.getReceipts(h.hash)]);
      if (block && receipts) collect(blockLogs(block, receipts));
    }
  }
  return out;
}

/**
 * The logs a head change brings to live filters: first those of the dropped blocks (oldest block
 * first, `removed: true`), then those of the new canonical blocks (oldest first). Receipts are read
 * only for blocks whose bloom `wanted` accepts.
 */
export async function headChangeLogs(
  chain: Pick<LogReader, "getReceipts">,
  change: ChainEventData[typeof ChainEvent.newHead],
  wanted: (bloom: Hex) => boolean,
): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  const read = async (block: Block, removed: boolean): Promise<void> => {
    if (!wanted(block.header.logsBloom)) return;
    const receipts = await chain.getReceipts(block.hash);
    if (receipts) out.push(...blockLogs(block, receipts, removed));
  };
  for (const b of [...change.removed].reverse()) await read(b, true);
  for (const b of change.added) await read(b, false);
  return out;
}

/** A log entry as Ethereum's log JSON. */
export function formatLogEntry(e: LogEntry): LogJson {
  return formatLog(e.log, e);
}

const BYTES32 = { type: "string", pattern: "^0x[0-9a-f]{64}$" };
const ADDRESS = { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" };
const BLOCK_BOUND = { oneOf: [{ type: "string", pattern: "^0x(0|[1-9a-f][0-9a-f]*)$" }, { type: "string", enum: ["latest", "earliest", "pending", "safe", "finalized"] }] };

/** JSON Schema of a filter object (OpenRPC document). */
export const FILTER_SCHEMA: JsonSchema = {
  title: "filter",
  type: "object",
  properties: {
    fromBlock: BLOCK_BOUND,
    toBlock: BLOCK_BOUND,
    blockHash: BYTES32,
    address: { oneOf: [{ type: "null" }, ADDRESS, { type: "array", items: ADDRESS }] },
    topics: {
      oneOf: [{ type: "null" }, { type: "array", maxItems: 4, items: { oneOf: [{ type: "null" }, BYTES32, { type: "array", items: { oneOf: [{ type: "null" }, BYTES32] } }] } }],
    },
  },
};

/** JSON Schema of a log object. */
export const LOG_SCHEMA: JsonSchema = { title: "log", type: "object" };

/** A filter object parameter. */
export function filterParam(name: string): Param<LogFilter> {
  return custom(name, FILTER_SCHEMA, parseLogFilter);
}
