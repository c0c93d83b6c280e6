import { RLP } from "@ethereumjs/rlp";
import { bigIntToUnpaddedBytes, bytesToBigInt, bytesToHex, hexToBytes } from "@ethereumjs/util";
import { keccak256 } from "./keccak.js";
import type { Hex } from "./types.js";

/** An event log, as Ethereum has it. */
export interface Log {
  address: Hex;
  topics: Hex[];
  data: Hex;
}

/** A transaction receipt as stored: the consensus fields of Ethereum's receipt plus the tx type. */
export interface Receipt {
  type: number;
  /** 1 success, 0 failure. */
  status: 0 | 1;
  cumulativeGasUsed: bigint;
  logsBloom: Hex;
  logs: Log[];
}

/** The three (byte index, bit mask) pairs Ethereum's 2048-bit bloom sets for one address or topic. */
export type BloomBits = [number, number, number, number, number, number];

/** The bloom positions of one item (an address or a topic), as the yellow paper's M3:2048 defines them. */
export function bloomBits(item: Uint8Array): BloomBits {
  const h = keccak256(item);
  const out: number[] = [];
  for (let i = 0; i < 6; i += 2) {
    const bit = ((h[i]! << 8) | h[i + 1]!) & 2047;
    out.push(255 - (bit >> 3), 1 << (bit & 7));
  }
  return out as BloomBits;
}

/** Ethereum's 2048-bit bloom over the logs' addresses and topics. */
export function logsBloom(logs: readonly Log[]): Uint8Array {
  const bloom = new Uint8Array(256);
  const add = (item: Uint8Array): void => {
    const b = bloomBits(item);
    for (let i = 0; i < 6; i += 2) bloom[b[i]!]! |= b[i + 1]!;
  };
  for (const log of logs) {
    add(hexToBytes(log.address));
    for (const t of log.topics) add(hexToBytes(t));
  }
  return bloom;
}

/** OR of several blooms (the block's bloom over its receipts). */
export function mergeBlooms(blooms: readonly Hex[]): Hex {
  const out = new Uint8Array(256);
  for (const b of blooms) {
    const bytes = hexToBytes(b);
    for (let i = 0; i < 256; i++) out[i]! |= bytes[i]!;
  }
  return bytesToHex(out) as Hex;
}

/** The receipt's consensus encoding (typed envelope for type 2), as the receipts root commits to it. */
export function encodeReceipt(r: Receipt): Uint8Array {
  const body = RLP.encode([
    r.status === 1 ? Uint8Array.of(1) : new Uint8Array(0),
    bigIntToUnpaddedBytes(r.cumulativeGasUsed),
    hexToBytes(r.logsBloom),
    r.logs.map((l) => [hexToBytes(l.address), l.topics.map((t) => hexToBytes(t)), hexToBytes(l.data)]),
  ]);
  if (r.type === 0) return body;
  const out = new Uint8Array(body.length + 1);
  out[0] = r.type;
  out.set(body, 1);
  return out;
}

/** Decodes a receipt written by encodeReceipt. */
export function decodeReceipt(bytes: Uint8Array): Receipt {
  const type = bytes[0]! < 0x7f ? bytes[0]! : 0;
  const items = RLP.decode(type === 0 ? bytes : bytes.subarray(1)) as unknown as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    [Uint8Array, Uint8Array[], Uint8Array][],
  ];
  return {
    type,
    status: items[0].length === 1 && items[0][0] === 1 ? 1 : 0,
    cumulativeGasUsed: bytesToBigInt(items[1]),
    logsBloom: bytesToHex(items[2]) as Hex,
    logs: items[3].map(([address, topics, data]) => ({
      address: bytesToHex(address) as Hex,
      topics: topics.map((t) => bytesToHex(t) as Hex),
      data: bytesToHex(data) as Hex,
    })),
  };
}

/** Encodes a block's receipts list for storage. */
export function encodeReceipts(receipts: readonly Receipt[]): Uint8Array {
  return RLP.encode(receipts.map(encodeReceipt));
}

/** Decodes a stored receipts list. */
export function decodeReceipts(bytes: Uint8Array): Receipt[] {
  return (RLP.decode(bytes) as Uint8Array[]).map(decodeReceipt);
}
