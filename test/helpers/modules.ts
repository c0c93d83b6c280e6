import { Interface } from "ethers";
import { hexToBytes } from "@ethereumjs/util";
import { CONTENT_REGISTRY_ABI, CONTENT_REGISTRY_ADDRESS } from "../../chain/modules/index.js";
import type { Hex } from "../../chain/types.js";
import type { Ledger } from "../../node/ledger.js";
import { devWallet } from "./ledger.js";

/** The ContentRegistry ABI as ethers reads it, for encoding calls and decoding results and logs. */
export const registry = new Interface(CONTENT_REGISTRY_ABI);

/** Fee caps of test module calls: base fee 1 gwei + tip 1 gwei = 2 gwei paid per gas. */
export const CALL_FEES = { maxFeePerGas: 3n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n };

/** A call from dev account `from`: calldata, value, nonce and gas limit (default 500,000). */
export interface ModuleCall {
  data: string;
  value?: bigint;
  nonce: number;
  gasLimit?: bigint;
  to?: Hex;
}

/** Signs (ethers) a type 2 call of the ContentRegistry (or `to`) from dev account `from` and pools it; returns its hash. */
export async function sendModuleCall(ledger: Ledger, from: number, call: ModuleCall): Promise<Hex> {
  const raw = await devWallet(from).signTransaction({
    type: 2,
    chainId: Number(ledger.chain.genesis.chainId),
    nonce: call.nonce,
    to: call.to ?? CONTENT_REGISTRY_ADDRESS,
    value: call.value ?? 0n,
    data: call.data,
    gasLimit: call.gasLimit ?? 500_000n,
    ...CALL_FEES,
  });
  return ledger.submitRawTransaction(hexToBytes(raw as Hex));
}
