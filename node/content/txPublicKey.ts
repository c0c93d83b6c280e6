import { decodeTransaction, recoverSenderPublicKey, type Hex } from "../../chain/index.js";

/** A buyer's Real ID as a purchase transaction reveals it. */
export interface BuyerKey {
  /** The transaction's sender, lowercase. */
  from: Hex;
  /** The sender's uncompressed 65-byte secp256k1 public key, `0x04 || x || y`: the ECIES recipient key. */
  publicKey: Uint8Array;
}

/**
 * The buyer's public key from the raw signed purchase transaction (legacy EIP-155 or type 2) of
 * chain `chainId`, checked to hash to its sender. Throws TxError for a transaction that does not
 * decode or whose signature does not recover.
 */
export function buyerPublicKey(raw: Uint8Array, chainId: bigint): BuyerKey {
  const tx = decodeTransaction(raw, chainId);
  return { from: tx.from, publicKey: recoverSenderPublicKey(tx) };
}
