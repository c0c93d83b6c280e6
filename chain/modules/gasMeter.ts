import { ModuleErrorCode, ModuleRevert } from "./moduleRevert.js";

/**
 * Gas a system module call costs on top of the transaction's intrinsic gas (docs/chain.md):
 * a fixed charge per call, per storage word read and written, and Ethereum's LOG prices.
 */
export const ModuleGas = {
  /** Every call of a module function (dispatch, value escrow, payments it makes). */
  CALL: 2_000n,
  /** Reading one 32-byte storage word. */
  STORAGE_READ: 200n,
  /** Writing one 32-byte storage word (setting, changing or clearing it). */
  STORAGE_WRITE: 5_000n,
  /** Emitting a log, plus the two below. */
  LOG: 375n,
  LOG_TOPIC: 375n,
  LOG_DATA_BYTE: 8n,
} as const;

/** Counts the gas of one call against its limit; running past the limit throws an out-of-gas revert. */
export class GasMeter {
  private spent: bigint;

  constructor(
    /** The call's gas limit (the transaction's). */
    readonly limit: bigint,
    /** Gas already used before the module runs (the intrinsic gas). */
    used: bigint,
  ) {
    this.spent = used;
  }

  /** Gas used so far; the whole limit once it ran out. */
  get used(): bigint {
    return this.spent;
  }

  /** Adds `amount`; past the limit, uses the whole limit and throws ModuleRevert OUT_OF_GAS. */
  charge(amount: bigint): void {
    if (this.spent + amount > this.limit) {
      this.spent = this.limit;
      throw new ModuleRevert({ code: ModuleErrorCode.OUT_OF_GAS, reason: "out of gas" }, "out of gas");
    }
    this.spent += amount;
  }
}
