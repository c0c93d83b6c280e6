import { type FunctionFragment, type Interface, type Result, hexlify } from "ethers";
import type { Hex } from "../types.js";
import type { GasMeter } from "./gasMeter.js";
import { revert } from "./moduleRevert.js";
import type { StorageReader, StorageWriter } from "./moduleStorage.js";
import type { SubRef } from "./subRef.js";

/** What a view function sees: the caller, the block it runs in, read-only storage and the gas meter. */
export interface ViewContext {
  /** The caller (`from` of the transaction or of the eth_call). */
  readonly sender: Hex;
  /** Number of the block the call runs in. */
  readonly blockNumber: bigint;
  /** Timestamp of the block the call runs in. */
  readonly timestamp: bigint;
  /** The module account's storage. */
  readonly storage: StorageReader;
  readonly gas: GasMeter;
}

/** What a state-changing function sees besides a view's: value, transaction, writable storage, logs and payments. */
export interface ModuleContext extends ViewContext {
  /** Wei sent with the call; already in the module account (escrow) when the function runs. */
  readonly value: bigint;
  /** Hash of the transaction (the zero hash in an eth_call simulation). */
  readonly txHash: Hex;
  /** Where this transaction's payload landed on a sub-chain; absent until the sub-chain layer supplies it. */
  readonly subRef?: SubRef;
  readonly storage: StorageWriter;
  /** Emits a log from the module's address (charged at Ethereum's LOG prices). */
  emit(log: { topics: readonly string[]; data: string }): void;
  /** Pays `amount` wei out of the module account (escrow) to `to`. */
  pay(to: Hex, amount: bigint): Promise<void>;
}

/**
 * A system module: native code at a reserved address that a transaction calls with ABI-encoded
 * calldata, as it would call a contract; there is no EVM. Its state lives in its account's storage
 * trie, so the state root commits to it.
 */
export interface SystemModule {
  /** The reserved address (lowercase). */
  readonly address: Hex;
  /** Its name, as `eth_getCode` shows it. */
  readonly name: string;
  /** Its ABI (the shipped `*.abi.json`). */
  readonly abi: Interface;
  /** Runs any function of the ABI in a transaction; returns the ABI-encoded result. Throws ModuleRevert. */
  execute(ctx: ModuleContext, calldata: Uint8Array): Promise<Uint8Array>;
  /** Runs a view function; returns the ABI-encoded result. Throws ModuleRevert (also for a non-view function). */
  call(ctx: ViewContext, calldata: Uint8Array): Promise<Uint8Array>;
}

/** Revert reasons every module gives for calldata it cannot run. */
export const DispatchReason = {
  UNKNOWN_SELECTOR: "unknown selector",
  NOT_PAYABLE: "function is not payable",
  BAD_CALLDATA: "invalid calldata",
  NOT_VIEW: "not a view function",
} as const;

/** A decoded call: the function the selector names and its arguments. */
export interface DecodedCall {
  fn: FunctionFragment;
  args: Result;
}

/**
 * Finds the function the first four bytes of `calldata` name and decodes its arguments; reverts
 * on an unknown selector, on value sent to a function that is not payable, and on arguments that
 * do not decode.
 */
export function decodeCall(abi: Interface, calldata: Uint8Array, value: bigint): DecodedCall {
  const fn = calldata.length >= 4 ? abi.getFunction(hexlify(calldata.subarray(0, 4))) : null;
  if (!fn) throw revert(DispatchReason.UNKNOWN_SELECTOR);
  if (value > 0n && !fn.payable) throw revert(DispatchReason.NOT_PAYABLE);
  try {
    return { fn, args: abi.decodeFunctionData(fn, calldata) };
  } catch {
    throw revert(DispatchReason.BAD_CALLDATA);
  }
}

/** True when `calldata` names a view (or pure) function of the module: eth_call then runs it read-only. */
export function isViewCall(module: SystemModule, calldata: Uint8Array): boolean {
  const fn = calldata.length >= 4 ? module.abi.getFunction(hexlify(calldata.subarray(0, 4))) : null;
  return fn?.constant === true;
}

/** The marker `eth_getCode` answers at a module's address: 0xfe (INVALID, so no EVM could run it) and the name in ASCII. */
export function codeMarker(module: Pick<SystemModule, "name">): Hex {
  return `0xfe${Buffer.from(module.name, "ascii").toString("hex")}`;
}
