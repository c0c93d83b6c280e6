import type { BlockHeader, ChainTip } from "../chain/index.js";

export type { ChainTip } from "../chain/index.js";

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
