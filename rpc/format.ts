import { RLP } from "@ethereumjs/rlp";
import {
  EMPTY_UNCLES_HASH,
  effectiveGasPrice,
  headerFields,
  type Block,
  type BlockHeader,
  type Hex,
  type Log,
  type Receipt,
  type SignedTx,
} from "../chain/index.js";
import type { JsonSchema } from "./rpcMethod.js";

// Results in the Ethereum execution-apis encoding: quantities as 0x-hex without leading zeros,
// data as even-length lowercase hex; no bigint ever reaches JSON.

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A quantity in Ethereum's JSON encoding: `0x0`, `0x1a` (no leading zeros). */
export function quantity(n: bigint | number): Hex {
  if (typeof n === "number" && !Number.isSafeInteger(n)) throw new RangeError(`quantity must be an integer, got ${n}`);
  if (n < 0) throw new RangeError(`quantity must not be negative, got ${n}`);
  return `0x${n.toString(16)}`;
}

/** Data in Ethereum's JSON encoding: even-length lowercase hex (`0x` for none). */
export function bytes(b: Uint8Array | Hex): Hex {
  if (typeof b === "string") return b.toLowerCase() as Hex;
  let hex = "0x";
  for (let i = 0; i < b.length; i++) hex += HEX_BYTE[b[i]!];
  return hex as Hex;
}

/** Result schemas of the execution-apis base types, for the OpenRPC document. */
export const resultSchema = {
  quantity: { title: "hex encoded unsigned integer", type: "string", pattern: "^0x(0|[1-9a-f][0-9a-f]*)$" },
  data: { title: "hex encoded bytes", type: "string", pattern: "^0x[0-9a-f]*$" },
  hash: { title: "32 byte hex value", type: "string", pattern: "^0x[0-9a-f]{64}$" },
  address: { title: "hex encoded address", type: "string", pattern: "^0x[0-9a-fA-F]{40}$" },
  bool: { type: "boolean" },
  string: { type: "string" },
  object: { type: "object" },
  orNull: (s: JsonSchema): JsonSchema => ({ oneOf: [{ type: "null" }, s] }),
  array: (items: JsonSchema): JsonSchema => ({ type: "array", items }),
} as const;

/** Where a log sits: its block, transaction and position (the fields `eth_getLogs` and receipts add). */
export interface LogContext {
  blockHash: Hex;
  blockNumber: bigint;
  transactionHash: Hex;
  /** Index of the transaction in its block. */
  transactionIndex: number;
  /** Index of the log among all logs of its block. */
  logIndex: number;
  /** True when the block left the canonical chain (reorg notifications). */
  removed: boolean;
  /** The block's timestamp; included as `blockTimestamp` when given (execution-apis allows it). */
  blockTimestamp?: bigint;
}

/** A log as JSON-RPC returns it. */
export interface LogJson {
  address: Hex;
  topics: Hex[];
  data: Hex;
  blockHash: Hex;
  blockNumber: Hex;
  blockTimestamp?: Hex;
  transactionHash: Hex;
  transactionIndex: Hex;
  logIndex: Hex;
  removed: boolean;
}

/** Formats a log with its position, as receipts, `eth_getLogs`, filters and log subscriptions return it. */
export function formatLog(log: Log, ctx: LogContext): LogJson {
  const out: LogJson = {
    address: bytes(log.address),
    topics: log.topics.map((t) => bytes(t)),
    data: bytes(log.data),
    blockHash: ctx.blockHash,
    blockNumber: quantity(ctx.blockNumber),
    transactionHash: ctx.transactionHash,
    transactionIndex: quantity(ctx.transactionIndex),
    logIndex: quantity(ctx.logIndex),
    removed: ctx.removed,
  };
  if (ctx.blockTimestamp !== undefined) out.blockTimestamp = quantity(ctx.blockTimestamp);
  return out;
}

/** Where a mined transaction is; null for a pooled (pending) one. */
export interface TxPosition {
  blockHash: Hex;
  blockNumber: bigint;
  blockTimestamp: bigint;
  baseFeePerGas: bigint;
  index: number;
}

/** A transaction as JSON-RPC returns it (execution-apis `TransactionInfo`). */
export interface TransactionJson {
  blockHash: Hex | null;
  blockNumber: Hex | null;
  blockTimestamp: Hex | null;
  transactionIndex: Hex | null;
  hash: Hex;
  from: Hex;
  type: Hex;
  nonce: Hex;
  to: Hex;
  gas: Hex;
  value: Hex;
  input: Hex;
  /** Mined: the effective price paid; pending type 2: the fee cap. */
  gasPrice: Hex;
  maxFeePerGas?: Hex;
  maxPriorityFeePerGas?: Hex;
  accessList?: { address: Hex; storageKeys: Hex[] }[];
  chainId: Hex;
  v: Hex;
  r: Hex;
  s: Hex;
  yParity?: Hex;
}

/** Formats a transaction; `at` null for a pending one (block fields null, as geth answers). */
export function formatTransaction(tx: SignedTx, at: TxPosition | null): TransactionJson {
  const out: TransactionJson = {
    blockHash: at ? at.blockHash : null,
    blockNumber: at ? quantity(at.blockNumber) : null,
    blockTimestamp: at ? quantity(at.blockTimestamp) : null,
    transactionIndex: at ? quantity(at.index) : null,
    hash: tx.hash,
    from: tx.from,
    type: quantity(tx.type),
    nonce: quantity(tx.nonce),
    to: tx.to,
    gas: quantity(tx.gasLimit),
    value: quantity(tx.value),
    input: bytes(tx.data),
    gasPrice: quantity(at ? effectiveGasPrice(tx, at.baseFeePerGas) : tx.maxFeePerGas),
    chainId: quantity(tx.chainId),
    v: quantity(tx.v),
    r: quantity(tx.r),
    s: quantity(tx.s),
  };
  if (tx.type === 2) {
    out.maxFeePerGas = quantity(tx.maxFeePerGas);
    out.maxPriorityFeePerGas = quantity(tx.maxPriorityFeePerGas);
    out.accessList = tx.accessList.map((e) => ({ address: e.address, storageKeys: [...e.storageKeys] }));
    out.yParity = quantity(tx.yParity ?? 0);
  }
  return out;
}

/** A block as JSON-RPC returns it: Ethereum's fields plus VS1984's `subchainsRoot` and `sealSignature`. */
export interface BlockJson {
  number: Hex;
  hash: Hex;
  parentHash: Hex;
  nonce: Hex;
  mixHash: Hex;
  sha3Uncles: Hex;
  logsBloom: Hex;
  transactionsRoot: Hex;
  stateRoot: Hex;
  receiptsRoot: Hex;
  miner: Hex;
  difficulty: Hex;
  totalDifficulty: Hex;
  extraData: Hex;
  size: Hex;
  gasLimit: Hex;
  gasUsed: Hex;
  timestamp: Hex;
  baseFeePerGas: Hex;
  transactions: Hex[] | TransactionJson[];
  uncles: Hex[];
  subchainsRoot: Hex;
  sealSignature: Hex;
}

/** The block's size in bytes: the RLP list of its header and its transactions (as Ethereum counts it, without uncles). */
export function blockSize(block: Block): number {
  return RLP.encode([headerFields(block.header), block.transactions.map((t) => t.raw)]).length;
}

/** Formats a block, with transaction hashes or (`full`) whole transactions. */
export function formatBlock(block: Block, totalDifficulty: bigint, full: boolean): BlockJson {
  const h: BlockHeader = block.header;
  const position = (index: number): TxPosition => ({
    blockHash: block.hash,
    blockNumber: h.number,
    blockTimestamp: h.timestamp,
    baseFeePerGas: h.baseFeePerGas,
    index,
  });
  return {
    number: quantity(h.number),
    hash: block.hash,
    parentHash: h.parentHash,
    nonce: h.nonce,
    mixHash: h.mixHash,
    sha3Uncles: EMPTY_UNCLES_HASH,
    logsBloom: h.logsBloom,
    transactionsRoot: h.transactionsRoot,
    stateRoot: h.stateRoot,
    receiptsRoot: h.receiptsRoot,
    miner: h.miner,
    difficulty: quantity(h.difficulty),
    totalDifficulty: quantity(totalDifficulty),
    extraData: bytes(h.extraData),
    size: quantity(blockSize(block)),
    gasLimit: quantity(h.gasLimit),
    gasUsed: quantity(h.gasUsed),
    timestamp: quantity(h.timestamp),
    baseFeePerGas: quantity(h.baseFeePerGas),
    transactions: full ? block.transactions.map((tx, i) => formatTransaction(tx, position(i))) : block.transactions.map((tx) => tx.hash),
    uncles: [],
    subchainsRoot: h.subchainsRoot,
    sealSignature: h.sealSignature,
  };
}

/** A receipt as JSON-RPC returns it (execution-apis `ReceiptInfo`). */
export interface ReceiptJson {
  type: Hex;
  status: Hex;
  transactionHash: Hex;
  transactionIndex: Hex;
  blockHash: Hex;
  blockNumber: Hex;
  from: Hex;
  to: Hex;
  cumulativeGasUsed: Hex;
  gasUsed: Hex;
  effectiveGasPrice: Hex;
  contractAddress: null;
  logs: LogJson[];
  logsBloom: Hex;
}

/** Formats the receipt of transaction `index` of a block (`receipts` are all of the block's receipts, in order). */
export function formatReceipt(block: Block, receipts: readonly Receipt[], index: number): ReceiptJson {
  let firstLogIndex = 0;
  for (let j = 0; j < index; j++) firstLogIndex += receipts[j]!.logs.length;
  return receiptJson(block, receipts, index, firstLogIndex);
}

/** Formats every receipt of a block (receipts[i] belongs to block.transactions[i]). */
export function formatBlockReceipts(block: Block, receipts: readonly Receipt[]): ReceiptJson[] {
  const out: ReceiptJson[] = [];
  let logIndex = 0;
  for (let i = 0; i < block.transactions.length; i++) {
    out.push(receiptJson(block, receipts, i, logIndex));
    logIndex += receipts[i]!.logs.length;
  }
  return out;
}

/** Gas used per transaction comes from the cumulative sums; log indexes count across the block from `firstLogIndex`. */
function receiptJson(block: Block, receipts: readonly Receipt[], index: number, firstLogIndex: number): ReceiptJson {
  const h = block.header;
  const tx = block.transactions[index];
  const r = receipts[index];
  if (!tx || !r) throw new Error(`block ${block.hash} has no transaction and receipt at index ${index}`);
  const previousGas = index > 0 ? receipts[index - 1]!.cumulativeGasUsed : 0n;
  let logIndex = firstLogIndex;
  return {
    type: quantity(r.type),
    status: quantity(r.status),
    transactionHash: tx.hash,
    transactionIndex: quantity(index),
    blockHash: block.hash,
    blockNumber: quantity(h.number),
    from: tx.from,
    to: tx.to,
    cumulativeGasUsed: quantity(r.cumulativeGasUsed),
    gasUsed: quantity(r.cumulativeGasUsed - previousGas),
    effectiveGasPrice: quantity(effectiveGasPrice(tx, h.baseFeePerGas)),
    contractAddress: null,
    logs: r.logs.map((log) =>
      formatLog(log, {
        blockHash: block.hash,
        blockNumber: h.number,
        blockTimestamp: h.timestamp,
        transactionHash: tx.hash,
        transactionIndex: index,
        logIndex: logIndex++,
        removed: false,
      }),
    ),
    logsBloom: r.logsBloom,
  };
}
