/**
 * Where a payload landed: sub-chain id, sub-block number and index of the payload in the
 * sub-block (DESIGN §5). The sub-chain layer hands it to the execution of the publishing transaction.
 */
export interface SubRef {
  /** Sub-chain id as genesis declares it (0..255). */
  subchainId: number;
  /** Number of the sub-block on its sub-chain (0..2^64-1). */
  subNumber: bigint;
  /** Index of the payload within the sub-block (0..2^32-1). */
  index: number;
}

const U64 = (1n << 64n) - 1n;
const U32 = 0xffff_ffffn;

/** Packs a SubRef into one uint256 word: `subchainId << 96 | subNumber << 32 | index` (docs/content.md). */
export function encodeSubRef(ref: SubRef): bigint {
  if (!Number.isInteger(ref.subchainId) || ref.subchainId < 0 || ref.subchainId > 255) throw new RangeError(`subchainId must be 0..255, got ${ref.subchainId}`);
  if (ref.subNumber < 0n || ref.subNumber > U64) throw new RangeError(`subNumber must be a uint64, got ${ref.subNumber}`);
  if (!Number.isInteger(ref.index) || ref.index < 0 || ref.index > 0xffff_ffff) throw new RangeError(`index must be a uint32, got ${ref.index}`);
  return (BigInt(ref.subchainId) << 96n) | (ref.subNumber << 32n) | BigInt(ref.index);
}

/** Unpacks a word written by {@link encodeSubRef} (higher bits are ignored). */
export function decodeSubRef(word: bigint): SubRef {
  return { subchainId: Number((word >> 96n) & 0xffn), subNumber: (word >> 32n) & U64, index: Number(word & U32) };
}
