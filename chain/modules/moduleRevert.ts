import { AbiCoder, getBytes } from "ethers";
import { NodeError, isNodeError } from "../errors.js";

/** Why a system module call failed: a revert with a reason, or the gas limit ran out. */
export const ModuleErrorCode = {
  REVERT: "MODULE_REVERT",
  OUT_OF_GAS: "MODULE_OUT_OF_GAS",
} as const;
/** One of ModuleErrorCode. */
export type ModuleErrorCode = (typeof ModuleErrorCode)[keyof typeof ModuleErrorCode];

/** Selector of Solidity's `Error(string)`: keccak256("Error(string)")[0..4]. */
export const ERROR_STRING_SELECTOR = "0x08c379a0";

/**
 * A system module call that failed: every change it made is undone, the fee is still charged and
 * the receipt has status 0. `eth_call` answers it as geth answers an EVM revert.
 */
export class ModuleRevert extends NodeError<{ code: ModuleErrorCode; reason: string }> {
  /** The revert reason ("out of gas" when the gas ran out). */
  get reason(): string {
    return this.type.reason;
  }

  /** The return data of the failed call: Solidity's `Error(string)` encoding of the reason; empty when out of gas. */
  get data(): Uint8Array {
    if (this.type.code === ModuleErrorCode.OUT_OF_GAS) return new Uint8Array(0);
    return getBytes(ERROR_STRING_SELECTOR + AbiCoder.defaultAbiCoder().encode(["string"], [this.type.reason]).slice(2));
  }
}

/** A revert with `reason`, as Solidity's `require(cond, reason)` raises it. */
export function revert(reason: string): ModuleRevert {
  return new ModuleRevert({ code: ModuleErrorCode.REVERT, reason }, `execution reverted: ${reason}`);
}

/** True for a ModuleRevert (a revert or out of gas), also across module copies. */
export function isModuleRevert(e: unknown): e is ModuleRevert {
  return isNodeError(e) && (e.code === ModuleErrorCode.REVERT || e.code === ModuleErrorCode.OUT_OF_GAS) && "reason" in e;
}
