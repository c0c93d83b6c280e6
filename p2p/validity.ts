import { isNodeError } from "../chain/index.js";

// Which failures prove that a peer sent something invalid (and cost it score), as opposed to
// failures that depend on this node's view (an unknown parent, a clock, a pool that is full).

const INVALID_BLOCK_PREFIXES = ["BLOCK_", "SEAL_", "TX_", "EXEC_", "P2P_MALFORMED"];
const INVALID_BLOCK_CODES = new Set([
  "CONSENSUS_BAD_DIFFICULTY",
  "TIMESTAMP_BEFORE_MEDIAN",
  "CHAIN_BAD_NUMBER",
  "CHAIN_BAD_GAS_LIMIT",
  "CHAIN_BAD_BASE_FEE",
  "CHAIN_BAD_TX_ROOT",
  "CHAIN_BAD_RECEIPTS_ROOT",
  "CHAIN_BAD_STATE_ROOT",
  "CHAIN_BAD_GAS_USED",
  "CHAIN_BAD_BLOOM",
  "CHAIN_BAD_SUBCHAINS_ROOT",
  "CHAIN_BAD_SUB_BLOCK",
  "CHAIN_MISSING_PAYLOAD",
]);

/**
 * True when a block import failed because the block breaks a rule every honest node checks the
 * same way: its encoding, seal, difficulty, roots, or one of its transactions. An unknown parent,
 * a timestamp ahead of this node's clock, an equivocation (which twin came first depends on
 * arrival order) or a banned miner are not the relaying peer's fault.
 */
export function isInvalidBlockError(e: unknown): boolean {
  if (!isNodeError(e)) return false;
  return INVALID_BLOCK_CODES.has(e.code) || INVALID_BLOCK_PREFIXES.some((p) => e.code.startsWith(p));
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
