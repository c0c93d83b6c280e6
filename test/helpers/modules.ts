import { randomBytes } from "node:crypto";
import { Interface, keccak256, type Result } from "ethers";
import { hexToBytes } from "@ethereumjs/util";
import { CONTENT_REGISTRY_ABI, CONTENT_REGISTRY_ADDRESS } from "../../chain/modules/index.js";
import { publishCommitment } from "../../chain/publishPayload.js";
import type { Hex } from "../../chain/types.js";
import { effectiveGasPrice, type Blockchain } from "../../chain/index.js";
import { registryView } from "../../rpc/content.js";
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
  /** The payload of a publish call; default: the one testContentHash made for its contentHash, if any. */
  payload?: Uint8Array;
}

const testPayloads = new Map<string, Uint8Array>();

/** A fresh random payload (default 64 bytes) for a test publish; returns its hash, the contentHash to publish, and keeps the payload for sendModuleCall. */
export function testContentHash(length = 64): Hex {
  const payload = new Uint8Array(randomBytes(length));
  const hash = keccak256(payload) as Hex;
  testPayloads.set(hash, payload);
  return hash;
}

/** Signs (ethers) a type 2 call of the ContentRegistry (or `to`) from dev account `from` on chain `chainId`; returns the raw bytes. */
export async function signModuleCall(chainId: bigint, from: number, call: ModuleCall): Promise<Uint8Array> {
  const raw = await devWallet(from).signTransaction({
    type: 2,
    chainId: Number(chainId),
    nonce: call.nonce,
    to: call.to ?? CONTENT_REGISTRY_ADDRESS,
    value: call.value ?? 0n,
    data: call.data,
    gasLimit: call.gasLimit ?? 500_000n,
    ...CALL_FEES,
  });
  return hexToBytes(raw as Hex);
}

/** Signs (ethers) a type 2 call of the ContentRegistry (or `to`) from dev account `from` and pools it; returns its hash. */
export async function sendModuleCall(ledger: Ledger, from: number, call: ModuleCall): Promise<Hex> {
  const rawBytes = await signModuleCall(ledger.chain.genesis.chainId, from, call);
  const commitment = publishCommitment({ to: call.to ?? CONTENT_REGISTRY_ADDRESS, data: hexToBytes(call.data as Hex) });
  const payload = call.payload ?? (commitment ? testPayloads.get(commitment.payloadHash) : undefined);
  return payload ? ledger.submitRawTransactionWithPayload(rawBytes, payload) : ledger.submitRawTransaction(rawBytes);
}

/** A ContentRegistry view at the chain's head, decoded; throws if it reverts. */
export async function viewAtHead(chain: Pick<Blockchain, "head" | "genesis" | "simulateCall">, fn: string, args: readonly unknown[]): Promise<Result> {
  const result = await registryView(chain, chain.head.header, fn, args);
  if (!result) throw new Error(`ContentRegistry.${fn} reverted`);
  return result;
}

/** What an included transaction cost its sender in fees: its receipt's gas used times the price it paid. */
export async function feeOf(chain: Pick<Blockchain, "getTxLocation" | "getBlock" | "getReceipts">, hash: Hex): Promise<bigint> {
  const at = await chain.getTxLocation(hash);
  if (!at) throw new Error(`transaction ${hash} is not on the chain`);
  const block = (await chain.getBlock(at.blockHash))!;
  const receipts = (await chain.getReceipts(at.blockHash))!;
  const gasUsed = receipts[at.index]!.cumulativeGasUsed - (at.index > 0 ? receipts[at.index - 1]!.cumulativeGasUsed : 0n);
  return gasUsed * effectiveGasPrice(block.transactions[at.index]!, block.header.baseFeePerGas);
}
