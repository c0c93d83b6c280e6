import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { SigningKey, Transaction, Wallet, getBytes, type TransactionLike } from "ethers";
import { TxErrorCode, decodeTransaction, recoverSenderPublicKey, type Hex } from "../../../../chain/index.js";
import { eciesDecrypt, eciesEncrypt } from "../../../../node/content/ecies.js";
import { buyerPublicKey } from "../../../../node/content/txPublicKey.js";
import { thrownCode } from "./thrownCode.js";

const CHAIN_ID = 1984n;
const REGISTRY = "0x0000000000000000000000000000000000001984";

function purchase(type: 0 | 2, nonce: number, data = "0x"): TransactionLike<string> {
  const common = { chainId: CHAIN_ID, nonce, to: REGISTRY, value: 15n * 10n ** 17n, gasLimit: 100_000, data };
  return type === 2
    ? { ...common, type: 2, maxFeePerGas: 2n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n }
    : { ...common, type: 0, gasPrice: 10n ** 9n };
}

describe("buyer public key from a purchase transaction", () => {
  for (const type of [0, 2] as const) {
    it(`recovers the uncompressed key of an ethers-signed ${type === 2 ? "type 2" : "legacy EIP-155"} transaction`, async () => {
      const wallet = Wallet.createRandom();
      const signed = await wallet.signTransaction(purchase(type, 7, "0x1234"));
      const { from, publicKey } = buyerPublicKey(getBytes(signed), CHAIN_ID);
      expect(from).toBe(wallet.address.toLowerCase());
      expect(publicKey.length).toBe(65);
      expect(publicKey[0]).toBe(4);
      expect(Buffer.from(publicKey).toString("hex")).toBe(wallet.signingKey.publicKey.slice(2));
      const tx = Transaction.from(signed);
      expect(SigningKey.recoverPublicKey(tx.unsignedHash, tx.signature!)).toBe(wallet.signingKey.publicKey);
    });
  }

  it("gives the key a content key is sealed to and the buyer's wallet opens", async () => {
    const buyer = Wallet.createRandom();
    const { publicKey } = buyerPublicKey(getBytes(await buyer.signTransaction(purchase(2, 0))), CHAIN_ID);
    const contentKey = new Uint8Array(32).fill(7);
    expect(eciesDecrypt(getBytes(buyer.privateKey), eciesEncrypt(publicKey, contentKey))).toEqual(contentKey);
  });

  it("refuses a transaction of another chain, and a stored sender the signature does not recover to", async () => {
    const wallet = Wallet.createRandom();
    const raw = getBytes(await wallet.signTransaction(purchase(0, 1)));
    expect(thrownCode(() => buyerPublicKey(raw, 1n))).toBe(TxErrorCode.WRONG_CHAIN_ID);
    const wrongSender = decodeTransaction(raw, CHAIN_ID, `0x${"ab".repeat(20)}` as Hex);
    expect(thrownCode(() => recoverSenderPublicKey(wrongSender))).toBe(TxErrorCode.BAD_SIGNATURE);
  });

  it("recovers the same key as ethers for random wallets, types, nonces and calldata", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => k.some((b) => b !== 0) && k[0] !== 0xff),
        fc.constantFrom(0 as const, 2 as const),
        fc.nat({ max: 2 ** 32 }),
        fc.uint8Array({ maxLength: 200 }),
        async (privateKey, type, nonce, data) => {
          const wallet = new Wallet(new SigningKey(privateKey));
          const raw = getBytes(await wallet.signTransaction(purchase(type, nonce, `0x${Buffer.from(data).toString("hex")}`)));
          const { publicKey } = buyerPublicKey(raw, CHAIN_ID);
          expect(Buffer.from(publicKey).toString("hex")).toBe(wallet.signingKey.publicKey.slice(2));
        },
      ),
      { numRuns: 40 },
    );
  });
});
