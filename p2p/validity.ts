import { BlockErrorCode, ChainErrorCode, ExecutionErrorCode, TxErrorCode, isNodeError, type NodeError } from "../chain/index.js";
import { ConsensusErrorCode, SealErrorCode, TimestampErrorCode } from "../consensus/index.js";
import { WireErrorCode } from "./messages.js";

// Which failures prove that a peer sent something invalid (and cost it score), as opposed to
// failures that depend on this node's view (an unknown parent, a clock, a pool that is full).

// Built from the code enums, so a new rule of the chain counts as soon as it exists. Left out on
// purpose: an unknown parent and another genesis (our side), equivocation and miner bans (they
// depend on which twin a node saw first), a timestamp too far ahead (it depends on our clock).
const INVALID_BLOCK_CODES: ReadonlySet<string> = new Set<string>([
  ...Object.values(BlockErrorCode),
  ...Object.values(TxErrorCode),
  ...Object.values(ExecutionErrorCode),
  ...Object.values(SealErrorCode),
  ...Object.values(ChainErrorCode).filter((c) => c !== ChainErrorCode.PARENT_UNKNOWN && c !== ChainErrorCode.WRONG_GENESIS),
  ConsensusErrorCode.BAD_DIFFICULTY,
  TimestampErrorCode.TIMESTAMP_BEFORE_MEDIAN,
  WireErrorCode.MALFORMED,
]);

/**
 * True when a block import failed because the block breaks a rule every honest node checks the
 * same way: its encoding, seal, difficulty, roots, or one of its transactions. An unknown parent,
 * a timestamp ahead of this node's clock, an equivocation (which twin came first depends on
 * arrival order) or a banned miner are not the relaying peer's fault.
 */
export function isInvalidBlockError(e: unknown): e is NodeError<{ code: string }> {
  if (!isNodeError(e)) return false;
  return INVALID_BLOCK_CODES.has(e.code);
}

const INVALID_TX_CODES = new Set([
  "TX_BAD_RLP",
  "TX_CONTRACT_CREATION",
  "TX_WRONG_CHAIN_ID",
  "TX_BAD_SIGNATURE",
  "TX_INTRINSIC_GAS_TOO_LOW",
  "TX_OVERSIZED",
  "TX_UNSUPPORTED_TYPE",
]);

/**
 * True when a transaction is invalid on its own (encoding, signature, chain id, size), whatever
 * the state: nonce and balance checks depend on the head the peer saw and cost it nothing.
 */
export function isInvalidTransactionError(e: unknown): e is Error {
  return isNodeError(e) && INVALID_TX_CODES.has(e.code);
}
