import { NodeError } from "./errors.js";
import { type Log, logsBloom, mergeBlooms, type Receipt } from "./receipt.js";
import type { StateView } from "./state.js";
import { TxError, checkAgainstAccount, checkFee, effectiveGasPrice, intrinsicGasOf, type SignedTx } from "./transaction.js";
import type { Hex } from "./types.js";
import { bytesToHex } from "@ethereumjs/util";

/** Error codes of executing a block's transactions. */
export const ExecutionErrorCode = {
  INVALID_TX: "EXEC_INVALID_TX",
  BLOCK_GAS_EXCEEDED: "EXEC_BLOCK_GAS_EXCEEDED",
} as const;
/** One of ExecutionErrorCode. */
export type ExecutionErrorCode = (typeof ExecutionErrorCode)[keyof typeof ExecutionErrorCode];

/** A block whose transactions cannot all be applied. */
export class ExecutionError extends NodeError<{ code: ExecutionErrorCode; index?: number; txCode?: string }> {}

/** What the rules of a block need besides its transactions. */
export interface ExecutionContext {
  miner: Hex;
  gasLimit: bigint;
  baseFeePerGas: bigint;
  blockReward: bigint;
}

/** The outcome of applying a block's transactions to a state. */
export interface ExecutionResult {
  receipts: Receipt[];
  gasUsed: bigint;
  logsBloom: Hex;
  /** Fees paid to the miner (without the reward). */
  fees: bigint;
}

const EMPTY_BLOOM_HEX = bytesToHex(logsBloom([])) as Hex;

/** The outcome of one transaction. */
export interface TxOutcome {
  gasUsed: bigint;
  fee: bigint;
}

/**
 * Applies one value transfer: the exact nonce, fee at least the base fee, funds for
 * value + gasLimit * maxFee, room in the block; gas used is the size-based intrinsic gas and the
 * fee goes to the miner at the end of the block. Throws ExecutionError and changes nothing when invalid.
 */
export async function applyTransaction(
  state: StateView,
  tx: SignedTx,
  index: number,
  blockGasUsed: bigint,
  ctx: ExecutionContext,
): Promise<TxOutcome> {
  const sender = await state.getAccount(tx.from);
  try {
    checkFee(tx, ctx.baseFeePerGas);
    checkAgainstAccount(tx, sender, { allowFutureNonce: false });
  } catch (e) {
    if (e instanceof TxError) {
      throw new ExecutionError(
        { code: ExecutionErrorCode.INVALID_TX, index, txCode: e.code },
        `transaction ${index} (${tx.hash}) is invalid: ${e.message}`,
      );
    }
    throw e;
  }
  if (blockGasUsed + tx.gasLimit > ctx.gasLimit) {
    throw new ExecutionError(
      { code: ExecutionErrorCode.BLOCK_GAS_EXCEEDED, index },
      `transaction ${index} (${tx.hash}) exceeds the block gas limit ${ctx.gasLimit}`,
    );
  }
  const gasUsed = intrinsicGasOf(tx);
  const fee = gasUsed * effectiveGasPrice(tx, ctx.baseFeePerGas);
  state.setAccount(tx.from, { nonce: sender.nonce + 1n, balance: sender.balance - tx.value - fee });
  const recipient = await state.getAccount(tx.to);
  state.setAccount(tx.to, { nonce: recipient.nonce, balance: recipient.balance + tx.value });
  return { gasUsed, fee };
}

/**
 * Address the native-token Transfer logs come from: every value transfer emits ERC-20's
 * `Transfer(address indexed from, address indexed to, uint256 value)` there, so explorers and
 * `eth_getLogs` see native payments the way they see token payments.
 */
export const NATIVE_TOKEN_ADDRESS: Hex = "0x0000000000000000000000000000000000001984";
/** keccak256("Transfer(address,address,uint256)"). */
export const TRANSFER_TOPIC: Hex = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

function word(hex: string): Hex {
  return `0x${hex.replace(/^0x/, "").padStart(64, "0")}`;
}

/** The receipt of a value transfer: one native Transfer log when it moves value. */
export function transferReceipt(tx: SignedTx, cumulativeGasUsed: bigint): Receipt {
  if (tx.value === 0n) return { type: tx.type, status: 1, cumulativeGasUsed, logsBloom: EMPTY_BLOOM_HEX, logs: [] };
  const log: Log = {
    address: NATIVE_TOKEN_ADDRESS,
    topics: [TRANSFER_TOPIC, word(tx.from), word(tx.to)],
    data: word(tx.value.toString(16)),
  };
  return { type: tx.type, status: 1, cumulativeGasUsed, logsBloom: bytesToHex(logsBloom([log])) as Hex, logs: [log] };
}

/** Pays the miner its fees and the block reward. */
export async function payMiner(state: StateView, ctx: ExecutionContext, fees: bigint): Promise<void> {
  const miner = await state.getAccount(ctx.miner);
  state.setAccount(ctx.miner, { nonce: miner.nonce, balance: miner.balance + fees + ctx.blockReward });
}

/** Applies a block's transactions in order and pays the miner; throws on the first invalid one. */
export async function applyTransactions(state: StateView, txs: readonly SignedTx[], ctx: ExecutionContext): Promise<ExecutionResult> {
  const receipts: Receipt[] = [];
  let gasUsed = 0n;
  let fees = 0n;
  for (let i = 0; i < txs.length; i++) {
    const out = await applyTransaction(state, txs[i]!, i, gasUsed, ctx);
    gasUsed += out.gasUsed;
    fees += out.fee;
    receipts.push(transferReceipt(txs[i]!, gasUsed));
  }
  await payMiner(state, ctx, fees);
  return { receipts, gasUsed, logsBloom: mergeBlooms(receipts.map((r) => r.logsBloom)), fees };
}
