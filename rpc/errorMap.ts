import { ModuleErrorCode, isModuleRevert, isNodeError } from "../chain/index.js";
import { bytes } from "./format.js";
import { RpcError, RpcErrorCode } from "./rpcError.js";

// The one table from the node's error codes to JSON-RPC errors (ethereumjs `rpc/error-code.ts`).
// A NodeError is a refusal on purpose (a rejected transaction, a stale work package, a bad seal):
// the client gets geth's -32000 and the error's own message. Anything else is a bug or an I/O
// failure: the client gets -32603 "internal error" and nothing of the original (no stack, no path).

/** NodeError code prefixes answered as -32000 with the error's message. */
const SERVER_ERROR_PREFIXES = [
  "TX_", // chain/transaction.ts: decoding and admission
  "TXPOOL_", // chain/txPool.ts: already known, replacement underpriced, pool full, sender limit
  "WORK_", // consensus/workProvider.ts: eth_getWork / eth_submitWork
  "CONSENSUS_", // consensus/blockImporter.ts
  "SEAL_", // consensus/seal.ts: a submitted seal that does not verify
  "TIMESTAMP_", // consensus/difficulty.ts: a submitted block's timestamp
  "CHAIN_", // chain/blockchain.ts
  "EXEC_", // chain/execution.ts
  "BLOCK_", // chain/block.ts: a block that does not decode
  "PAYLOAD_", // chain/publishPayload.ts: a payload beside its publish transaction (not a publish, hash mismatch, unknown sub-chain, size, gas)
  "PAYLOADPOOL_", // chain/payloadPool.ts: payload pool full, sub-chain limits
] as const;

// Clients recognise a rejected transaction by geth's words (ethers v6 `getRpcError` matches
// "insufficient funds", "nonce" + "too low", "replacement transaction" + "underpriced",
// "only replay-protected"; viem's error classes match "nonce too low", "nonce too high",
// "insufficient funds", "intrinsic gas too low", "max fee per gas less than block base fee").
// The chain's messages already start with geth's words for most codes; for the rest, geth's
// phrase is put in front of ours.
const GETH_PHRASE: ReadonlyMap<string, string> = new Map([
  ["TX_NONCE_TOO_LOW", "nonce too low"],
  ["TX_NONCE_TOO_HIGH", "nonce too high"],
  ["TX_INSUFFICIENT_FUNDS", "insufficient funds"],
  ["TX_INTRINSIC_GAS_TOO_LOW", "intrinsic gas too low"],
  // geth's core.ErrFeeCapTooLow; viem's FeeCapTooLowError matches exactly these words
  ["TX_FEE_TOO_LOW", "max fee per gas less than block base fee"],
  // geth's core.ErrTxTypeNotSupported
  ["TX_UNSUPPORTED_TYPE", "transaction type not supported"],
  ["PAYLOAD_INTRINSIC_GAS_TOO_LOW", "intrinsic gas too low"],
  ["TX_OVERSIZED", "oversized data"],
  ["TX_BAD_SIGNATURE", "invalid sender"],
  ["TXPOOL_ALREADY_KNOWN", "already known"],
  ["TXPOOL_REPLACEMENT_UNDERPRICED", "replacement transaction underpriced"],
  ["TXPOOL_POOL_FULL", "txpool is full"],
  ["TXPOOL_SENDER_LIMIT", "account limit exceeded"],
]);

/** geth's words for a legacy transaction signed without EIP-155 (it names no chain). */
const UNPROTECTED_PHRASE = "only replay-protected (EIP-155) transactions allowed over RPC";

function withPhrase(phrase: string | undefined, message: string): string {
  if (phrase === undefined || message.toLowerCase().includes(phrase.toLowerCase())) return message;
  return `${phrase}: ${message}`;
}

/**
 * Maps anything a method threw to the error answered: RpcError as is, a system module's revert as
 * geth answers an EVM one (code 3, `execution reverted: <reason>`, data = the `Error(string)`
 * encoding; out of gas: -32000 `out of gas`), another NodeError by its code, else -32603.
 */
export function toRpcError(e: unknown): RpcError {
  if (e instanceof RpcError) return e;
  if (isModuleRevert(e)) {
    if (e.code === ModuleErrorCode.OUT_OF_GAS) return new RpcError(RpcErrorCode.SERVER_ERROR, "out of gas");
    return new RpcError(RpcErrorCode.EXECUTION_REVERTED, `execution reverted: ${e.reason}`, bytes(e.data));
  }
  if (isNodeError(e)) {
    const code = e.code;
    if (SERVER_ERROR_PREFIXES.some((p) => code.startsWith(p))) {
      const unprotected = code === "TX_WRONG_CHAIN_ID" && (e.type as { got?: unknown }).got === null;
      const phrase = unprotected ? UNPROTECTED_PHRASE : GETH_PHRASE.get(code);
      return new RpcError(RpcErrorCode.SERVER_ERROR, withPhrase(phrase, e.message));
    }
  }
  return new RpcError(RpcErrorCode.INTERNAL_ERROR, "internal error");
}
