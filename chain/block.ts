import { RLP } from "@ethereumjs/rlp";
import { bigIntToUnpaddedBytes, bytesToBigInt, bytesToHex, hexToBytes } from "@ethereumjs/util";
import { keccak256 } from "./keccak.js";
import { NodeError } from "./errors.js";
import type { Hex } from "./types.js";

/** Root of an empty Merkle Patricia trie: keccak256(rlp("")). */
export const EMPTY_TRIE_ROOT: Hex = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421";
/** keccak256(rlp([])): the uncles hash every block reports, as this chain has no uncles. */
export const EMPTY_UNCLES_HASH: Hex = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347";
/** A zero-filled 256-byte logs bloom. */
export const EMPTY_BLOOM: Hex = `0x${"00".repeat(256)}`;
/** 32 zero bytes (the genesis parent hash). */
export const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;
/** The zero address (the genesis miner). */
export const ZERO_ADDRESS: Hex = `0x${"00".repeat(20)}`;
/** The seal fields of a header not sealed yet (genesis, block templates). */
export const UNSEALED: Pick<BlockHeader, "mixHash" | "nonce" | "sealSignature"> = {
  mixHash: ZERO_HASH,
  nonce: "0x0000000000000000",
  sealSignature: `0x${"00".repeat(65)}`,
};

/** Error codes of block decoding and validation. */
export const BlockErrorCode = {
  BAD_RLP: "BLOCK_BAD_RLP",
  BAD_FIELD: "BLOCK_BAD_FIELD",
} as const;
/** One of BlockErrorCode. */
export type BlockErrorCode = (typeof BlockErrorCode)[keyof typeof BlockErrorCode];

/** A block that could not be decoded or is malformed. */
export class BlockError extends NodeError<{ code: BlockErrorCode }> {}

/**
 * A main-chain block header: Ethereum's fields where they apply, plus the sub-chains root and the
 * miner's seal signature. Hash = keccak256(RLP(all fields in this order)).
 */
export interface BlockHeader {
  parentHash: Hex;
  number: bigint;
  timestamp: bigint;
  miner: Hex;
  /** Base difficulty (the work the chain weight counts); the seal may have to meet more (streak penalty). */
  difficulty: bigint;
  stateRoot: Hex;
  transactionsRoot: Hex;
  receiptsRoot: Hex;
  logsBloom: Hex;
  gasLimit: bigint;
  gasUsed: bigint;
  extraData: Hex;
  baseFeePerGas: bigint;
  mixHash: Hex;
  /** 8-byte seal nonce. */
  nonce: Hex;
  subchainsRoot: Hex;
  /** 65 bytes r ++ s ++ v(0/1): the miner's signature over (sealHash, nonce, mixHash). */
  sealSignature: Hex;
}

const FIXED_LENGTHS: Partial<Record<keyof BlockHeader, number>> = {
  parentHash: 32,
  miner: 20,
  stateRoot: 32,
  transactionsRoot: 32,
  receiptsRoot: 32,
  logsBloom: 256,
  mixHash: 32,
  nonce: 8,
  subchainsRoot: 32,
  sealSignature: 65,
};
const MAX_EXTRA_DATA = 32;

const FIELDS = [
  "parentHash",
  "number",
  "timestamp",
  "miner",
  "difficulty",
  "stateRoot",
  "transactionsRoot",
  "receiptsRoot",
  "logsBloom",
  "gasLimit",
  "gasUsed",
  "extraData",
  "baseFeePerGas",
  "mixHash",
  "nonce",
  "subchainsRoot",
  "sealSignature",
] as const satisfies readonly (keyof BlockHeader)[];

/** Fields the seal commits to: all but mixHash, nonce and the signature. */
const SEAL_FIELDS = FIELDS.filter((f) => f !== "mixHash" && f !== "nonce" && f !== "sealSignature");

function fieldBytes(h: BlockHeader, f: keyof BlockHeader): Uint8Array {
  const v = h[f];
  return typeof v === "bigint" ? bigIntToUnpaddedBytes(v) : hexToBytes(v);
}

/** RLP list of the header's fields. */
export function headerFields(h: BlockHeader): Uint8Array[] {
  return FIELDS.map((f) => fieldBytes(h, f));
}

/** The RLP encoding of a header. */
export function encodeHeader(h: BlockHeader): Uint8Array {
  return RLP.encode(headerFields(h));
}

/** The block hash: keccak256 of the header's RLP. */
export function headerHash(h: BlockHeader): Hex {
  return bytesToHex(keccak256(encodeHeader(h))) as Hex;
}

/** The hash the seal covers: keccak256(RLP(header without mixHash, nonce and signature)). */
export function sealHash(h: BlockHeader): Uint8Array {
  return keccak256(RLP.encode(SEAL_FIELDS.map((f) => fieldBytes(h, f))));
}

/** Decodes a header from its RLP list items, strictly (canonical integers, exact lengths). */
export function headerFromFields(items: unknown): BlockHeader {
  if (!Array.isArray(items) || items.length !== FIELDS.length) {
    throw new BlockError({ code: BlockErrorCode.BAD_RLP }, `block header must be a list of ${FIELDS.length} items`);
  }
  const out: Record<string, bigint | Hex> = {};
  FIELDS.forEach((f, i) => {
    const item = items[i] as unknown;
    if (!(item instanceof Uint8Array)) {
      throw new BlockError({ code: BlockErrorCode.BAD_RLP }, `block header field ${f} must be a byte string`);
    }
    const fixed = FIXED_LENGTHS[f];
    if (f === "extraData") {
      if (item.length > MAX_EXTRA_DATA) {
        throw new BlockError({ code: BlockErrorCode.BAD_FIELD }, `block header extraData longer than ${MAX_EXTRA_DATA} bytes`);
      }
      out[f] = bytesToHex(item) as Hex;
    } else if (fixed !== undefined) {
      if (item.length !== fixed) {
        throw new BlockError({ code: BlockErrorCode.BAD_FIELD }, `block header ${f} must be ${fixed} bytes, got ${item.length}`);
      }
      out[f] = bytesToHex(item) as Hex;
    } else {
      if (item.length > 0 && item[0] === 0) {
        throw new BlockError({ code: BlockErrorCode.BAD_FIELD }, `block header ${f} has leading zero bytes`);
      }
      if (item.length > 32) throw new BlockError({ code: BlockErrorCode.BAD_FIELD }, `block header ${f} exceeds 256 bits`);
      out[f] = bytesToBigInt(item);
    }
  });
  return out as unknown as BlockHeader;
}

/** Decodes a header from RLP bytes; throws BlockError on any malformation. */
export function decodeHeader(bytes: Uint8Array): BlockHeader {
  let items: unknown;
  try {
    items = RLP.decode(bytes);
  } catch (e) {
    throw new BlockError({ code: BlockErrorCode.BAD_RLP }, `block header is not valid RLP: ${(e as Error).message}`);
  }
  return headerFromFields(items);
}
