import { Interface, hexlify } from "ethers";
import { NodeError } from "./errors.js";
import type { SubchainDeclaration } from "./genesis.js";
import { CONTENT_REGISTRY_ABI } from "./modules/contentRegistryAbi.js";
import { CONTENT_REGISTRY_ADDRESS } from "./modules/contentRegistry.js";
import type { PayloadCommitment } from "./payloadPool.js";
import { payloadHash } from "./subchain.js";
import { type SignedTx, intrinsicGasOf } from "./transaction.js";
import type { Hex } from "./types.js";

/** Error codes of a payload handed in beside its publish transaction. */
export const PublishPayloadErrorCode = {
  /** The transaction is not a well-formed ContentRegistry `publish` call, so it commits to no payload. */
  NOT_A_PUBLISH: "PAYLOAD_NOT_A_PUBLISH",
  /** keccak256(payload) is not the `contentHash` the transaction publishes. */
  HASH_MISMATCH: "PAYLOAD_HASH_MISMATCH",
  /** The transaction names a sub-chain the genesis does not declare. */
  UNKNOWN_SUBCHAIN: "PAYLOAD_UNKNOWN_SUBCHAIN",
  /** The payload is empty or longer than its sub-chain's maxPayloadBytes. */
  BAD_SIZE: "PAYLOAD_BAD_SIZE",
  /** The transaction's gas limit does not cover its intrinsic gas plus the payload's per-byte gas. */
  INTRINSIC_GAS_TOO_LOW: "PAYLOAD_INTRINSIC_GAS_TOO_LOW",
} as const;
/** One of PublishPayloadErrorCode. */
export type PublishPayloadErrorCode = (typeof PublishPayloadErrorCode)[keyof typeof PublishPayloadErrorCode];

/** A payload refused beside its publish transaction. */
export class PublishPayloadError extends NodeError<{ code: PublishPayloadErrorCode }> {}

const registry = new Interface(CONTENT_REGISTRY_ABI);
const PUBLISH = registry.getFunction("publish")!;

/**
 * The payload a transaction commits to: a ContentRegistry `publish(contentHash, subchainId, ...)`
 * call commits to a payload with keccak256 = contentHash on sub-chain `subchainId`. Undefined for
 * any other transaction, including a publish whose calldata does not decode (it reverts anyway).
 */
export function publishCommitment(tx: Pick<SignedTx, "to" | "data">): PayloadCommitment | undefined {
  if (tx.to !== CONTENT_REGISTRY_ADDRESS || tx.data.length < 4 || hexlify(tx.data.subarray(0, 4)) !== PUBLISH.selector) return undefined;
  try {
    const [contentHash, subchainId] = registry.decodeFunctionData(PUBLISH, tx.data) as unknown as [string, bigint];
    return { subchainId: Number(subchainId), payloadHash: contentHash.toLowerCase() as Hex };
  } catch {
    return undefined;
  }
}

/** Gas a payload of `length` bytes on sub-chain `decl` adds to its publish transaction's intrinsic gas. */
export function payloadGas(decl: Pick<SubchainDeclaration, "payloadGasPerByte">, length: number): bigint {
  return decl.payloadGasPerByte * BigInt(length);
}

/**
 * Checks a payload handed in beside transaction `tx` (vs_sendRawTransactionWithPayload): `tx` is a
 * publish call, its sub-chain is declared, the payload is 1..maxPayloadBytes long, hashes to the
 * published contentHash, and the gas limit covers the intrinsic gas plus the payload gas.
 * Returns the commitment; throws PublishPayloadError.
 */
export function checkPublishPayload(tx: SignedTx, payload: Uint8Array, subchains: readonly SubchainDeclaration[]): PayloadCommitment {
  const commitment = publishCommitment(tx);
  if (!commitment) {
    throw new PublishPayloadError(
      { code: PublishPayloadErrorCode.NOT_A_PUBLISH },
      `transaction ${tx.hash} is not a ContentRegistry publish call, so it takes no payload`,
    );
  }
  const decl = subchains.find((d) => d.id === commitment.subchainId);
  if (!decl) {
    throw new PublishPayloadError(
      { code: PublishPayloadErrorCode.UNKNOWN_SUBCHAIN },
      `unknown sub-chain ${commitment.subchainId}: the genesis does not declare it`,
    );
  }
  if (payload.length === 0 || payload.length > decl.maxPayloadBytes) {
    throw new PublishPayloadError(
      { code: PublishPayloadErrorCode.BAD_SIZE },
      `payload of ${payload.length} bytes: sub-chain ${decl.name} takes 1 to ${decl.maxPayloadBytes} bytes`,
    );
  }
  const hash = payloadHash(payload);
  if (hash !== commitment.payloadHash) {
    throw new PublishPayloadError(
      { code: PublishPayloadErrorCode.HASH_MISMATCH },
      `payload hash ${hash} does not match the published contentHash ${commitment.payloadHash}`,
    );
  }
  checkPublishGas(tx, decl, payload.length);
  return commitment;
}

/**
 * Checks that publish `tx`'s gas limit covers its intrinsic gas plus the gas of a `length`-byte
 * payload on sub-chain `decl`; throws PublishPayloadError INTRINSIC_GAS_TOO_LOW.
 */
export function checkPublishGas(tx: Pick<SignedTx, "gasLimit" | "data" | "accessList">, decl: SubchainDeclaration, length: number): void {
  const needed = intrinsicGasOf(tx) + payloadGas(decl, length);
  if (tx.gasLimit < needed) {
    throw new PublishPayloadError(
      { code: PublishPayloadErrorCode.INTRINSIC_GAS_TOO_LOW },
      `intrinsic gas too low: gas ${tx.gasLimit} is below the ${needed} a publish with a ${length}-byte payload on ${decl.name} needs`,
    );
  }
}
