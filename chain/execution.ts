import { NodeError } from "./errors.js";
import { GasMeter, ModuleGas } from "./modules/gasMeter.js";
import { type ModuleRevert, isModuleRevert } from "./modules/moduleRevert.js";
import { AccountStorage } from "./modules/moduleStorage.js";
import type { SubRef } from "./modules/subRef.js";
import { type ModuleContext, type SystemModule, isViewCall } from "./modules/systemModule.js";
import type { SystemModules } from "./modules/systemModules.js";
import { type Log, logsBloom, mergeBlooms, type Receipt } from "./receipt.js";
import type { StateView } from "./state.js";
import {
  TxError,
  TxErrorCode,
  checkAgainstAccount,
  checkFee,
  effectiveGasPrice,
  intrinsicGasOf,
  type AccessListEntry,
  type SignedTx,
} from "./transaction.js";
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

/** The block a call runs in, as system modules see it. */
export interface BlockEnv {
  number: bigint;
  timestamp: bigint;
}

/** What the rules of a block need besides its transactions. */
export interface ExecutionContext extends BlockEnv {
  miner: Hex;
  gasLimit: bigint;
  baseFeePerGas: bigint;
  blockReward: bigint;
  /** The system modules: a transaction to one of their addresses calls that module. */
  modules: SystemModules;
  /**
   * Where each publish transaction's payload landed, by transaction hash; the block builder and
   * the import fill it in from the block's sub-blocks (absent: modules see no `subRef`).
   */
  subRefs?: ReadonlyMap<Hex, SubRef>;
  /**
   * Gas each publish transaction's payload adds to its intrinsic gas (payloadGasPerByte of its
   * sub-chain times the length its sub-block header commits to), by transaction hash; absent: none.
   */
  payloadGas?: ReadonlyMap<Hex, bigint>;
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
  /** 1 success, 0 a module call that reverted or ran out of gas. */
  status: 0 | 1;
  logs: Log[];
  /** Why a module call failed (status 0). */
  error?: ModuleRevert;
}

/**
 * Applies one transaction: the exact nonce, fee at least the base fee, funds for
 * value + gasLimit * maxFee, a gas limit covering the intrinsic gas (with a publish's payload gas,
 * `ctx.payloadGas`), room in the block. A value transfer uses the intrinsic gas; a call of a system
 * module adds what the module spends, and when it fails only the nonce and the fee stay. The fee
 * goes to the miner at the end of the block. Throws ExecutionError and changes nothing when the
 * transaction is invalid.
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
  // the payload gas is part of the intrinsic gas: a reverted publish still pays it (its payload stays in the sub-block)
  const intrinsicGas = intrinsicGasOf(tx) + (ctx.payloadGas?.get(tx.hash) ?? 0n);
  if (tx.gasLimit < intrinsicGas) {
    throw new ExecutionError(
      { code: ExecutionErrorCode.INVALID_TX, index, txCode: TxErrorCode.INTRINSIC_GAS_TOO_LOW },
      `transaction ${index} (${tx.hash}) is invalid: intrinsic gas too low: gas limit ${tx.gasLimit} is below the ${intrinsicGas} it needs with its payload`,
    );
  }
  if (blockGasUsed + tx.gasLimit > ctx.gasLimit) {
    throw new ExecutionError(
      { code: ExecutionErrorCode.BLOCK_GAS_EXCEEDED, index },
      `transaction ${index} (${tx.hash}) exceeds the block gas limit ${ctx.gasLimit}`,
    );
  }
  const price = effectiveGasPrice(tx, ctx.baseFeePerGas);
  const module = ctx.modules.get(tx.to);
  if (!module) {
    const gasUsed = intrinsicGas;
    const fee = gasUsed * price;
    state.setAccount(tx.from, { nonce: sender.nonce + 1n, balance: sender.balance - tx.value - fee });
    const recipient = await state.getAccount(tx.to);
    state.setAccount(tx.to, { nonce: recipient.nonce, balance: recipient.balance + tx.value });
    return { gasUsed, fee, status: 1, logs: tx.value > 0n ? [nativeTransferLog(tx.from, tx.to, tx.value)] : [] };
  }
  // the nonce is taken before the call, so a revert keeps it; the fee is known only after it
  state.setAccount(tx.from, { nonce: sender.nonce + 1n, balance: sender.balance });
  const msg: ModuleMessage = {
    from: tx.from,
    value: tx.value,
    data: tx.data,
    gasLimit: tx.gasLimit,
    intrinsicGas,
    txHash: tx.hash,
    subRef: ctx.subRefs?.get(tx.hash),
  };
  const call = await runModuleCall(state, module, msg, ctx);
  const fee = call.gasUsed * price;
  const after = await state.getAccount(tx.from);
  state.setAccount(tx.from, { nonce: after.nonce, balance: after.balance - fee });
  return { gasUsed: call.gasUsed, fee, status: call.status, logs: call.logs, error: call.error };
}

/** A call of a system module, from a transaction or an eth_call. */
export interface ModuleMessage {
  from: Hex;
  value: bigint;
  data: Uint8Array;
  gasLimit: bigint;
  /** Gas the transaction paid before the module runs (size-based, plus a publish's payload gas). */
  intrinsicGas: bigint;
  /** The transaction's hash; the zero hash in a simulation. */
  txHash: Hex;
  subRef?: SubRef;
}

/** What a module call did. */
export interface ModuleCallResult {
  status: 0 | 1;
  /** Intrinsic gas plus the module's; the whole gas limit when it ran out. */
  gasUsed: bigint;
  /** The native Transfer logs of the value moved and the module's events; none when it failed. */
  logs: Log[];
  /** The ABI-encoded result, or the revert data (`Error(string)`) when it failed. */
  returnData: Uint8Array;
  error?: ModuleRevert;
}

function logGas(log: { topics: readonly string[]; data: string }): bigint {
  const dataBytes = BigInt((log.data.length - 2) / 2);
  return ModuleGas.LOG + ModuleGas.LOG_TOPIC * BigInt(log.topics.length) + ModuleGas.LOG_DATA_BYTE * dataBytes;
}

/**
 * Runs one call of `module` atomically: the value moves from the sender into the module account,
 * the module runs, and on a revert or out of gas every change since the call began is undone
 * (the sender's nonce and fee are the caller's business).
 */
export async function runModuleCall(state: StateView, module: SystemModule, msg: ModuleMessage, block: BlockEnv): Promise<ModuleCallResult> {
  const gas = new GasMeter(msg.gasLimit, msg.intrinsicGas);
  const snapshot = state.snapshot();
  const logs: Log[] = [];
  const move = async (from: Hex, to: Hex, amount: bigint): Promise<void> => {
    if (amount === 0n) return;
    const payer = await state.getAccount(from);
    // the sender was checked before the call and a module pays only out of its escrow: a bug otherwise
    if (payer.balance < amount) throw new Error(`${module.name}: ${from} cannot pay ${amount} wei (balance ${payer.balance})`);
    state.setAccount(from, { nonce: payer.nonce, balance: payer.balance - amount });
    const payee = await state.getAccount(to);
    state.setAccount(to, { nonce: payee.nonce, balance: payee.balance + amount });
    logs.push(nativeTransferLog(from, to, amount));
  };
  try {
    gas.charge(ModuleGas.CALL);
    await move(msg.from, module.address, msg.value);
    const ctx: ModuleContext = {
      sender: msg.from,
      value: msg.value,
      blockNumber: block.number,
      timestamp: block.timestamp,
      txHash: msg.txHash,
      subRef: msg.subRef,
      storage: new AccountStorage(state, module.address, gas),
      gas,
      emit: (log) => {
        gas.charge(logGas(log));
        logs.push({ address: module.address, topics: log.topics.map((t) => t.toLowerCase() as Hex), data: log.data.toLowerCase() as Hex });
      },
      pay: (to, amount) => move(module.address, to, amount),
    };
    const returnData = await module.execute(ctx, msg.data);
    return { status: 1, gasUsed: gas.used, logs, returnData };
  } catch (e) {
    if (!isModuleRevert(e)) throw e;
    state.revertToSnapshot(snapshot);
    return { status: 0, gasUsed: gas.used, logs: [], returnData: e.data, error: e };
  }
}

/** A call as eth_call and eth_estimateGas give it. */
export interface CallRequest {
  from: Hex;
  to: Hex;
  value: bigint;
  data: Uint8Array;
  gasLimit: bigint;
  accessList: readonly AccessListEntry[];
}

/** What a simulated call returned and the gas a transaction doing it would use. */
export interface CallResult {
  gasUsed: bigint;
  returnData: Uint8Array;
}

const ZERO_TX_HASH: Hex = `0x${"00".repeat(32)}`;

/**
 * Runs a call as a transaction would run in `block` on top of `state`, without nonce or fee: a
 * value transfer returns nothing, a module view runs read-only, any other module function runs
 * for real on `state` (pass a throwaway view). Throws ModuleRevert when the call reverts or runs
 * out of gas, TxError when the gas limit is below the intrinsic gas or the sender lacks the value.
 * It does not see a publish's payload: the publish uses this gas plus payloadGas(decl, length).
 */
export async function simulateCall(state: StateView, req: CallRequest, block: BlockEnv, modules: SystemModules): Promise<CallResult> {
  const intrinsicGas = intrinsicGasOf({ data: req.data, accessList: req.accessList });
  if (req.gasLimit < intrinsicGas) {
    throw new TxError(
      { code: TxErrorCode.INTRINSIC_GAS_TOO_LOW, gasLimit: req.gasLimit, intrinsicGas },
      `intrinsic gas too low: gas ${req.gasLimit} is below the ${intrinsicGas} the call needs`,
    );
  }
  const module = modules.get(req.to);
  if (!module) return { gasUsed: intrinsicGas, returnData: new Uint8Array(0) };
  if (req.value === 0n && isViewCall(module, req.data)) {
    const gas = new GasMeter(req.gasLimit, intrinsicGas);
    gas.charge(ModuleGas.CALL);
    const storage = new AccountStorage(state, module.address, gas);
    const returnData = await module.call({ sender: req.from, blockNumber: block.number, timestamp: block.timestamp, storage, gas }, req.data);
    return { gasUsed: gas.used, returnData };
  }
  const { balance } = await state.getAccount(req.from);
  if (balance < req.value) {
    throw new TxError(
      { code: TxErrorCode.INSUFFICIENT_FUNDS, from: req.from, balance, cost: req.value },
      `insufficient funds for transfer: account ${req.from} has ${balance} wei, the call sends ${req.value}`,
    );
  }
  const msg: ModuleMessage = { from: req.from, value: req.value, data: req.data, gasLimit: req.gasLimit, intrinsicGas, txHash: ZERO_TX_HASH };
  const result = await runModuleCall(state, module, msg, block);
  if (result.error) throw result.error;
  return { gasUsed: result.gasUsed, returnData: result.returnData };
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

/** The native token's `Transfer(from, to, value)` log of a movement of value. */
export function nativeTransferLog(from: Hex, to: Hex, value: bigint): Log {
  return { address: NATIVE_TOKEN_ADDRESS, topics: [TRANSFER_TOPIC, word(from), word(to)], data: word(value.toString(16)) };
}

/** The receipt of a transaction from its outcome and the block's gas used up to and including it. */
export function receiptOf(tx: SignedTx, outcome: Pick<TxOutcome, "status" | "logs">, cumulativeGasUsed: bigint): Receipt {
  const bloom = outcome.logs.length === 0 ? EMPTY_BLOOM_HEX : (bytesToHex(logsBloom(outcome.logs)) as Hex);
  return { type: tx.type, status: outcome.status, cumulativeGasUsed, logsBloom: bloom, logs: outcome.logs };
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
    receipts.push(receiptOf(txs[i]!, out, gasUsed));
  }
  await payMiner(state, ctx, fees);
  return { receipts, gasUsed, logsBloom: mergeBlooms(receipts.map((r) => r.logsBloom)), fees };
}
