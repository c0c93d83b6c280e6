import type { BlockHeader } from "../chain/block.js";
import type { Hex } from "../chain/types.js";

/** A chain head as fork choice sees it: its hash and the sum of base difficulty from genesis to it. */
export interface ChainTip {
  /** Block hash of the head. */
  hash: Hex;
  /** Sum of the base difficulty of every block up to and including the head. */
  totalDifficulty: bigint;
}

/** True when `candidate` should replace `current`: heavier total base difficulty, ties to the lower hash. */
export function isBetterTip(candidate: ChainTip, current: ChainTip): boolean {
  if (candidate.totalDifficulty !== current.totalDifficulty) return candidate.totalDifficulty > current.totalDifficulty;
  // Compared as 256-bit numbers, so letter case and leading zeros of the hex do not matter.
  return BigInt(candidate.hash) < BigInt(current.hash);
}

/** The total difficulty of a block: its parent's plus its own base difficulty (streak-penalty work adds no weight). */
export function addWeight(parentTd: bigint, header: Pick<BlockHeader, "difficulty">): bigint {
  return parentTd + header.difficulty;
}
