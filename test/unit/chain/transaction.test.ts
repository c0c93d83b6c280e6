import { describe, expect, it } from "@jest/globals";
import { createRequire } from "node:module";
import { Mainnet, createCustomCommon } from "@ethereumjs/common";
import { RLP } from "@ethereumjs/rlp";
import { createTxFromRLP } from "@ethereumjs/tx";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  Transaction,
  Wallet,
  computeAddress,
  getBytes,
  hexlify,
  keccak256 as ethersKeccak256,
  type TransactionLike,
} from "ethers";
import fc from "fast-check";
import type * as Secp256k1 from "secp256k1";
import { isNodeError } from "../../../chain/errors.js";
import { keccak256 } from "../../../chain/keccak.js";
import {
  MAX_TX_SIZE,
  TxError,
  TxErrorCode,
  checkAgainstAccount,
  checkFee,
  decodeTransaction,
  effectiveGasPrice,
  intrinsicGas,
  intrinsicGasOf,
  maxCost,
  recoverAddress,
  secp256k1Backend,
  type SignedTx,
} from "../../../chain/transaction.js";

const CHAIN_ID = 1984n;
const N = secp256k1.Point.CURVE().n;
const wallets = [1, 2, 3].map((i) => new Wallet(`0x${i.toString(16).padStart(64, "0")}`));
const wallet = wallets[0]!;
const TO = "0x00000000000000000000000000000000000000aa";
const common = createCustomCommon({ chainId: Number(CHAIN_ID) }, Mainnet);

const transfer = (over: Partial<TransactionLike<string>> = {}): TransactionLike<string> => ({
  type: 2,
  chainId: CHAIN_ID,
  nonce: 3,
  to: TO,
  value: 10n ** 18n,
  gasLimit: 21000n,
  maxFeePerGas: 3_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
  ...over,
});

const legacy = (over: Partial<TransactionLike<string>> = {}): TransactionLike<string> => ({
  type: 0,
  chainId: CHAIN_ID,
  nonce: 3,
  to: TO,
  value: 10n ** 18n,
  gasLimit: 21000n,
  gasPrice: 2_000_000_000n,
  ...over,
});

async function signed(req: TransactionLike<string>, by: Wallet = wallet): Promise<Uint8Array> {
  return getBytes(await by.signTransaction(req));
}

/** The TxError that `fn` throws; fails the test if it throws anything else or nothing. */
function txErrorOf(fn: () => unknown): TxError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TxError) return e;
    throw new Error(`expected a TxError, got ${String(e)}`, { cause: e });
  }
  throw new Error("expected a TxError, nothing was thrown");
}

/** Re-encodes a signed transaction after `edit` changed its decoded RLP items. */
function reencode(raw: Uint8Array, edit: (items: Uint8Array[]) => void): Uint8Array {
  const typed = raw[0] === 2;
  const items = RLP.decode(typed ? raw.subarray(1) : raw) as Uint8Array[];
  edit(items);
  const body = RLP.encode(items);
  return typed ? Uint8Array.from([2, ...body]) : body;
}

/** The canonical RLP integer bytes of `n` (big-endian, no leading zeros). */
function uint(n: bigint): Uint8Array {
  if (n === 0n) return new Uint8Array(0);
  const hex = n.toString(16);
  return getBytes(`0x${hex.length % 2 === 1 ? "0" : ""}${hex}`);
}

function expectMatchesEthers(tx: SignedTx, raw: Uint8Array, chainId: bigint): void {
  const parsed = Transaction.from(hexlify(raw));
  expect(tx.hash).toBe(parsed.hash);
  expect(tx.hash).toBe(hexlify(keccak256(raw)));
  expect(tx.from).toBe(parsed.from!.toLowerCase());
  expect(tx.type).toBe(parsed.type);
  expect(tx.chainId).toBe(chainId);
  expect(tx.nonce).toBe(BigInt(parsed.nonce));
  expect(tx.to).toBe(parsed.to!.toLowerCase());
  expect(tx.value).toBe(parsed.value);
  expect(hexlify(tx.data)).toBe(parsed.data);
  expect(tx.gasLimit).toBe(parsed.gasLimit);
  expect(Buffer.from(tx.raw).equals(Buffer.from(raw))).toBe(true);
  const sig = parsed.signature!;
  expect(tx.r).toBe(BigInt(sig.r));
  expect(tx.s).toBe(BigInt(sig.s));
  if (tx.type === 2) {
    expect(tx.maxFeePerGas).toBe(parsed.maxFeePerGas);
    expect(tx.maxPriorityFeePerGas).toBe(parsed.maxPriorityFeePerGas);
    expect(tx.yParity).toBe(sig.yParity);
    expect(tx.v).toBe(BigInt(sig.yParity));
    expect(tx.accessList.map((e) => ({ address: e.address, storageKeys: [...e.storageKeys] }))).toEqual(
      (parsed.accessList ?? []).map((e) => ({ address: e.address.toLowerCase(), storageKeys: e.storageKeys })),
    );
  } else {
    expect(tx.maxFeePerGas).toBe(parsed.gasPrice);
    expect(tx.maxPriorityFeePerGas).toBe(parsed.gasPrice);
    expect(tx.yParity).toBeUndefined();
    expect(tx.v).toBe(sig.networkV);
    expect(tx.accessList).toEqual([]);
  }
}

describe("decodeTransaction", () => {
  it("recovers the native secp256k1 binding, not the noble fallback", () => {
    expect(secp256k1Backend).toBe("native");
  });

  it("accepts a transaction signed by ethers with ethers' hash and sender, both types", async () => {
    for (const req of [transfer(), legacy()]) {
      const raw = await signed(req);
      const tx = decodeTransaction(raw, CHAIN_ID);
      const parsed = Transaction.from(hexlify(raw));
      expect(tx.hash).toBe(parsed.hash);
      expect(tx.from).toBe(wallet.address.toLowerCase());
      expect(tx.from).toBe(parsed.from!.toLowerCase());
      expect(Object.isFrozen(tx)).toBe(true);
      expectMatchesEthers(tx, raw, CHAIN_ID);
    }
  });

  it("agrees with ethers on hash, sender and every field for random transactions", async () => {
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(fc.constantFrom(0, 0, 1, 255), { maxLength: 120 }).map((a) => Uint8Array.from(a)),
    );
    const accessList = fc.array(
      fc.record({
        address: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => hexlify(b)),
        storageKeys: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hexlify(b)), { maxLength: 2 }),
      }),
      { maxLength: 2 },
    );
    const arb = fc.record({
      type: fc.constantFrom(0, 2),
      chainId: fc.constantFrom(1n, 37n, CHAIN_ID, 2n ** 32n + 5n, 2n ** 47n),
      signer: fc.nat({ max: wallets.length - 1 }),
      // ethers takes nonces as JS numbers
      nonce: fc.oneof(fc.nat({ max: 1000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
      to: fc.uint8Array({ minLength: 20, maxLength: 20 }),
      value: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 200n })),
      data,
      extraGas: fc.bigInt({ min: 0n, max: 10n ** 7n }),
      maxFee: fc.bigInt({ min: 0n, max: 2n ** 100n }),
      tipShare: fc.bigInt({ min: 0n, max: 100n }),
      accessList,
    });
    await fc.assert(
      fc.asyncProperty(arb, async (a) => {
        const listGas = a.type === 2 ? a.accessList.reduce((g, e) => g + 2400n + 1900n * BigInt(e.storageKeys.length), 0n) : 0n;
        const gasLimit = intrinsicGas(a.data) + listGas + a.extraGas;
        const base = { chainId: a.chainId, nonce: a.nonce, to: hexlify(a.to), value: a.value, data: hexlify(a.data), gasLimit };
        const req: TransactionLike<string> =
          a.type === 2
            ? {
                ...base,
                type: 2,
                maxFeePerGas: a.maxFee,
                maxPriorityFeePerGas: (a.maxFee * a.tipShare) / 100n,
                accessList: a.accessList,
              }
            : { ...base, type: 0, gasPrice: a.maxFee };
        const raw = await signed(req, wallets[a.signer]);
        const tx = decodeTransaction(raw, a.chainId);
        expectMatchesEthers(tx, raw, a.chainId);
        expect(tx.from).toBe(wallets[a.signer]!.address.toLowerCase());
        expect(intrinsicGasOf(tx)).toBe(intrinsicGas(a.data) + listGas);
      }),
      { numRuns: 150 },
    );
  });

  it("cuts the signing payload right for long list headers (data of 56 B, 300 B, 70 KB)", async () => {
    for (const size of [0, 55, 56, 200, 300, 70_000]) {
      for (const req of [transfer(), legacy()]) {
        const data = new Uint8Array(size).fill(7);
        const raw = await signed({ ...req, data: hexlify(data), gasLimit: intrinsicGas(data) });
        expectMatchesEthers(decodeTransaction(raw, CHAIN_ID), raw, CHAIN_ID);
      }
    }
  });

  it("keeps its own copy of bytes that are a view into a larger buffer", async () => {
    const raw = await signed(transfer());
    const big = new Uint8Array(raw.length + 10);
    big.set(raw, 5);
    const tx = decodeTransaction(big.subarray(5, 5 + raw.length), CHAIN_ID);
    big.fill(0);
    expect(tx.hash).toBe(Transaction.from(hexlify(raw)).hash);
    expect(Buffer.from(tx.raw).equals(Buffer.from(raw))).toBe(true);
  });
});

describe("decodeTransaction refuses", () => {
  it("OVERSIZED: more than MAX_TX_SIZE bytes", () => {
    const e = txErrorOf(() => decodeTransaction(new Uint8Array(MAX_TX_SIZE + 1).fill(0xc0), CHAIN_ID));
    expect(e.type).toEqual({ code: TxErrorCode.OVERSIZED, size: MAX_TX_SIZE + 1, maxSize: MAX_TX_SIZE });
    expect(e.message).toBe(`transaction too large: ${MAX_TX_SIZE + 1} bytes, at most ${MAX_TX_SIZE}`);
  });

  it("UNSUPPORTED_TYPE: access list (1), blob (3), set code (4) and unknown types", async () => {
    const type1 = await signed({ ...legacy(), type: 1, accessList: [] });
    expect(type1[0]).toBe(1);
    const others = [[3, 0xc0], [4, 0xc0], [5, 0xc0], [0]].map((b) => Uint8Array.from(b));
    for (const raw of [type1, ...others]) {
      const e = txErrorOf(() => decodeTransaction(raw, CHAIN_ID));
      expect(e.code).toBe(TxErrorCode.UNSUPPORTED_TYPE);
      expect(e.type).toEqual({ code: TxErrorCode.UNSUPPORTED_TYPE, txType: raw[0] });
    }
    const e = txErrorOf(() => decodeTransaction(type1, CHAIN_ID));
    expect(e.message).toMatch(/^unsupported transaction type 1 \(EIP-2930 access list\)/);
  });

  it("BAD_RLP: empty, truncated, trailing bytes, wrong item count, leading zeros, bad address, not a list", async () => {
    const raw = await signed(transfer());
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /empty/],
      [raw.subarray(0, raw.length - 1), /./],
      [Uint8Array.from([...raw, 0]), /./],
      [reencode(raw, (items) => items.pop()), /Only expecting 9 values \(for unsigned tx\) or 12 values/],
      [reencode(raw, (items) => (items[1] = Uint8Array.from([0, 3]))), /leading zero/],
      [reencode(raw, (items) => (items[0] = Uint8Array.from([0, 0x07, 0xc0]))), /chain id has leading zeros/],
      [reencode(raw, (items) => (items[5] = new Uint8Array(19))), /address/i],
      [reencode(raw, (items) => (items[8] = new Uint8Array(0) as unknown as Uint8Array)), /access list is not a list/],
      [
        reencode(raw, (items) => ((items as unknown[])[8] = [[new Uint8Array(20), new Uint8Array(0)]])),
        /access list entry is not \[address, \[storage keys\]\]/,
      ],
      [
        reencode(raw, (items) => ((items as unknown[])[8] = [[new Uint8Array(20), [[new Uint8Array(32)]]]])),
        /storage key is not a string/,
      ],
      [Uint8Array.from([0x82, 1, 2]), /not an RLP list/],
      [RLP.encode([new Uint8Array(1), new Uint8Array(1)]), /Only expecting 6 values \(for unsigned tx\) or 9 values/],
    ];
    for (const [input, reason] of cases) {
      const e = txErrorOf(() => decodeTransaction(input, CHAIN_ID));
      expect(e.code).toBe(TxErrorCode.BAD_RLP);
      expect(e.message).toMatch(/^malformed transaction: /);
      expect(e.type.code === TxErrorCode.BAD_RLP && e.type.reason).toMatch(reason);
    }
  });

  it("CONTRACT_CREATION: no `to` address", async () => {
    const create = { to: null, data: "0x6000", gasLimit: 100_000n };
    for (const req of [transfer(create), legacy(create)]) {
      const e = txErrorOf(() => decodeTransaction(getBytesSync(req), CHAIN_ID));
      expect(e.code).toBe(TxErrorCode.CONTRACT_CREATION);
    }
  });

  it("WRONG_CHAIN_ID: signed for another chain, or legacy without EIP-155", async () => {
    for (const req of [transfer({ chainId: 5n }), legacy({ chainId: 5n })]) {
      const e = txErrorOf(() => decodeTransaction(getBytesSync(req), CHAIN_ID));
      expect(e.type).toEqual({ code: TxErrorCode.WRONG_CHAIN_ID, expected: CHAIN_ID, got: 5n });
      expect(e.message).toBe("wrong chain id: the transaction is signed for chain 5, this chain is 1984");
    }
    const pre155 = Transaction.from({ ...legacy(), chainId: 0n });
    pre155.signature = wallet.signingKey.sign(pre155.unsignedHash);
    const raw = getBytes(pre155.serialized);
    expect(Transaction.from(pre155.serialized).signature!.v).toBeGreaterThanOrEqual(27);
    const e = txErrorOf(() => decodeTransaction(raw, CHAIN_ID));
    expect(e.type).toEqual({ code: TxErrorCode.WRONG_CHAIN_ID, expected: CHAIN_ID, got: null });
    expect(e.message).toMatch(/no EIP-155 replay protection \(v = 2[78]\).*accepts only EIP-155/);
  });

  it("BAD_SIGNATURE: high s, r or s out of range, no recoverable key, bad v or y-parity, unsigned", async () => {
    const raw2 = await signed(transfer());
    const raw0 = await signed(legacy());
    const s2 = BigInt(Transaction.from(hexlify(raw2)).signature!.s);
    // an x coordinate with no point on the curve: no public key recovers from r = x
    let noPoint = 5n;
    while (pointExists(noPoint)) noPoint++;
    const cases: [Uint8Array, RegExp][] = [
      [
        reencode(raw2, (items) => {
          items[9] = items[9]!.length === 0 ? Uint8Array.from([1]) : new Uint8Array(0);
          items[11] = uint(N - s2);
        }),
        /upper half/,
      ],
      [
        reencode(raw0, (items) => {
          const v = BigInt(hexlify(items[6]!)); // chainId * 2 + 35 + parity: flip the parity
          items[6] = uint((v - 35n) % 2n === 0n ? v + 1n : v - 1n);
          items[8] = uint(N - BigInt(hexlify(items[8]!)));
        }),
        /upper half/,
      ],
      [reencode(raw2, (items) => (items[10] = uint(N))), /r is out of range/],
      [reencode(raw2, (items) => (items[11] = uint(0n))), /not signed|s is out of range/],
      [reencode(raw2, (items) => (items[10] = uint(noPoint))), /no public key recovers/],
      [reencode(raw2, (items) => (items[9] = Uint8Array.from([2]))), /y-parity must be 0 or 1, got 2/],
      [reencode(raw0, (items) => (items[6] = Uint8Array.from([30]))), /legacy v must be chainId \* 2 \+ 35 or \+ 36, got 30/],
      [getBytes(Transaction.from(transfer()).unsignedSerialized), /not signed/],
      [getBytes(Transaction.from(legacy()).unsignedSerialized), /not signed/],
    ];
    for (const [input, reason] of cases) {
      const e = txErrorOf(() => decodeTransaction(input, CHAIN_ID));
      expect(`${e.code} ${e.message}`).toMatch(/^TX_BAD_SIGNATURE /);
      expect(e.message).toMatch(/^invalid signature: /);
      expect(e.message).toMatch(reason);
    }
  });

  it("INTRINSIC_GAS_TOO_LOW: gas limit below calldata cost, or below access list cost", async () => {
    const e = txErrorOf(() => decodeTransaction(getBytesSync(transfer({ data: "0x0100" })), CHAIN_ID));
    expect(e.type).toEqual({ code: TxErrorCode.INTRINSIC_GAS_TOO_LOW, gasLimit: 21000n, intrinsicGas: 21020n });
    expect(e.message).toBe("intrinsic gas too low: gas limit 21000 is below the 21020 the transaction needs");
    const withList = transfer({ gasLimit: 22000n, accessList: [{ address: TO, storageKeys: [] }] });
    const e2 = txErrorOf(() => decodeTransaction(getBytesSync(withList), CHAIN_ID));
    expect(e2.type).toEqual({ code: TxErrorCode.INTRINSIC_GAS_TOO_LOW, gasLimit: 22000n, intrinsicGas: 23400n });
    expect(decodeTransaction(getBytesSync({ ...withList, gasLimit: 23400n }), CHAIN_ID).gasLimit).toBe(23400n);
  });

  it("TIP_ABOVE_FEE_CAP: a type 2 tip above its fee cap, in geth's words (viem's TipAboveFeeCapError)", async () => {
    // ethers and viem refuse to sign such a transaction, so the tip is raised after signing; the
    // check comes before the signature's
    const raw = reencode(await signed(transfer()), (items) => {
      items[2] = uint(3_000_000_001n);
    });
    const e = txErrorOf(() => decodeTransaction(raw, CHAIN_ID));
    expect(e.type).toEqual({ code: TxErrorCode.TIP_ABOVE_FEE_CAP, maxPriorityFeePerGas: 3_000_000_001n, maxFeePerGas: 3_000_000_000n });
    expect(e.message).toMatch(/^max priority fee per gas higher than max fee per gas: /);
    // equal is allowed
    const equal = reencode(await signed(transfer({ maxPriorityFeePerGas: 3_000_000_000n })), () => {});
    expect(decodeTransaction(equal, CHAIN_ID).maxPriorityFeePerGas).toBe(3_000_000_000n);
  });

  it("throws nothing but TxError for random bytes", () => {
    const typed = fc.uint8Array({ maxLength: 200 }).map((b) => Uint8Array.from([2, ...b]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), typed), (bytes) => {
        try {
          decodeTransaction(bytes, CHAIN_ID);
        } catch (e) {
          expect(e).toBeInstanceOf(TxError);
          expect(isNodeError(e)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("throws nothing but TxError for random RLP structures", () => {
    const { item } = fc.letrec<{ item: unknown }>((tie) => ({
      item: fc.oneof({ depthSize: "small" }, fc.uint8Array({ maxLength: 40 }), fc.array(tie("item"), { maxLength: 13 })),
    }));
    fc.assert(
      fc.property(fc.array(item, { minLength: 0, maxLength: 13 }), fc.boolean(), (items, typed) => {
        const body = RLP.encode(items as Uint8Array[]);
        const bytes = typed ? Uint8Array.from([2, ...body]) : body;
        try {
          decodeTransaction(bytes, CHAIN_ID);
        } catch (e) {
          expect(e).toBeInstanceOf(TxError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("throws nothing but TxError for every truncation, extension and byte change of valid transactions", async () => {
    for (const raw of [await signed(transfer({ data: "0x01020304" })), await signed(legacy({ data: "0x0102" }))]) {
      const inputs: Uint8Array[] = [];
      for (let n = 0; n < raw.length; n++) inputs.push(raw.subarray(0, n));
      for (const extra of [[0], [0x80], [0xc0], [1, 2, 3]]) inputs.push(Uint8Array.from([...raw, ...extra]));
      for (let i = 0; i < raw.length; i++) {
        for (const delta of [1, 0x80]) {
          const changed = raw.slice();
          changed[i] = (changed[i]! + delta) & 0xff;
          inputs.push(changed);
        }
      }
      for (const input of inputs) {
        let tx: SignedTx | undefined;
        try {
          tx = decodeTransaction(input, CHAIN_ID);
        } catch (e) {
          expect(e).toBeInstanceOf(TxError);
        }
        // whatever is accepted is canonical: the library serializes it back to the same bytes
        if (tx) expect(hexlify(createTxFromRLP(input, { common }).serialize())).toBe(hexlify(input));
      }
      // truncated or extended copies never decode
      expect(txErrorOf(() => decodeTransaction(raw.subarray(0, raw.length - 1), CHAIN_ID)).code).toBe(TxErrorCode.BAD_RLP);
      expect(txErrorOf(() => decodeTransaction(Uint8Array.from([...raw, 0]), CHAIN_ID)).code).toBe(TxErrorCode.BAD_RLP);
    }
  });
});

describe("fee and account checks", () => {
  it("FEE_TOO_LOW: max fee (legacy: gas price) below the base fee", async () => {
    const tx = decodeTransaction(await signed(transfer()), CHAIN_ID);
    checkFee(tx, 3_000_000_000n);
    const e = txErrorOf(() => checkFee(tx, 3_000_000_001n));
    expect(e.type).toEqual({ code: TxErrorCode.FEE_TOO_LOW, maxFeePerGas: 3_000_000_000n, baseFee: 3_000_000_001n });
    expect(e.message).toBe("fee too low: max fee per gas 3000000000 is below the base fee 3000000001");
    const old = decodeTransaction(await signed(legacy()), CHAIN_ID);
    checkFee(old, 2_000_000_000n);
    expect(txErrorOf(() => checkFee(old, 2_000_000_001n)).code).toBe(TxErrorCode.FEE_TOO_LOW);
  });

  it("NONCE_TOO_LOW, NONCE_TOO_HIGH and INSUFFICIENT_FUNDS against the sender's account", async () => {
    const tx = decodeTransaction(await signed(transfer({ nonce: 3 })), CHAIN_ID);
    const rich = 10n ** 30n;
    const low = txErrorOf(() => checkAgainstAccount(tx, { nonce: 5n, balance: rich }, { allowFutureNonce: true }));
    expect(low.type).toEqual({ code: TxErrorCode.NONCE_TOO_LOW, from: tx.from, accountNonce: 5n, txNonce: 3n });
    expect(low.message).toBe(`nonce too low: account ${tx.from} has nonce 5, transaction has 3`);

    const high = txErrorOf(() => checkAgainstAccount(tx, { nonce: 1n, balance: rich }, { allowFutureNonce: false }));
    expect(high.type).toEqual({ code: TxErrorCode.NONCE_TOO_HIGH, from: tx.from, accountNonce: 1n, txNonce: 3n });
    expect(high.message).toBe(`nonce too high: account ${tx.from} has nonce 1, transaction has 3`);
    checkAgainstAccount(tx, { nonce: 1n, balance: rich }, { allowFutureNonce: true });

    const cost = 10n ** 18n + 21000n * 3_000_000_000n;
    expect(maxCost(tx)).toBe(cost);
    checkAgainstAccount(tx, { nonce: 3n, balance: cost }, { allowFutureNonce: false });
    const poor = txErrorOf(() => checkAgainstAccount(tx, { nonce: 3n, balance: cost - 1n }, { allowFutureNonce: false }));
    expect(poor.type).toEqual({ code: TxErrorCode.INSUFFICIENT_FUNDS, from: tx.from, balance: cost - 1n, cost });
    expect(poor.message).toMatch(/^insufficient funds: account 0x[0-9a-f]{40} has \d+ wei, the transaction may cost \d+ wei/);
  });

  it("effectiveGasPrice: the gas price for legacy, min(max fee, base fee + tip) for type 2", async () => {
    const tx = decodeTransaction(await signed(transfer()), CHAIN_ID);
    expect(effectiveGasPrice(tx, 1_000_000_000n)).toBe(2_000_000_000n);
    expect(effectiveGasPrice(tx, 2_500_000_000n)).toBe(3_000_000_000n);
    const old = decodeTransaction(await signed(legacy()), CHAIN_ID);
    expect(effectiveGasPrice(old, 1n)).toBe(2_000_000_000n);
  });

  it("intrinsicGas: 21000 + 16 per non-zero and 4 per zero byte", () => {
    expect(intrinsicGas(new Uint8Array(0))).toBe(21000n);
    expect(intrinsicGas(Uint8Array.from([0, 1, 0, 255]))).toBe(21000n + 8n + 32n);
  });

  it("error codes are the TX_ strings", () => {
    expect(Object.values(TxErrorCode).every((c) => c.startsWith("TX_"))).toBe(true);
    expect(TxErrorCode.NONCE_TOO_LOW).toBe("TX_NONCE_TOO_LOW");
    expect(Object.keys(TxErrorCode)).toHaveLength(12);
  });
});

describe("recoverAddress and keccak256", () => {
  const native = createRequire(import.meta.url)("secp256k1/bindings.js") as typeof Secp256k1;

  it("recovers the signer's address like ethers", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (key, msg) => {
        fc.pre(native.privateKeyVerify(key));
        const { signature, recid } = native.ecdsaSign(msg, key);
        const r = BigInt(hexlify(signature.subarray(0, 32)));
        const s = BigInt(hexlify(signature.subarray(32)));
        expect(recoverAddress(msg, r, s, recid)).toBe(computeAddress(hexlify(key)).toLowerCase());
      }),
      { numRuns: 200 },
    );
  });

  it("refuses malformed signatures with BAD_SIGNATURE", () => {
    const msg = new Uint8Array(32).fill(1);
    for (const call of [
      () => recoverAddress(msg, 0n, 1n, 0),
      () => recoverAddress(msg, 1n, N / 2n + 1n, 0),
      () => recoverAddress(msg, 1n, 1n, 2),
      () => recoverAddress(msg.subarray(1), 1n, 1n, 0),
    ]) {
      expect(txErrorOf(call).code).toBe(TxErrorCode.BAD_SIGNATURE);
    }
  });

  it("keccak256 equals ethers' for any length, across block and chunk boundaries", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 16_300, maxLength: 16_500 })), (data) => {
        expect(hexlify(keccak256(data))).toBe(ethersKeccak256(data));
      }),
      { numRuns: 300 },
    );
    expect(hexlify(keccak256(new Uint8Array(0)))).toBe("0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  });
});

// ---------------------------------------------------------------------------------------------

function pointExists(x: bigint): boolean {
  try {
    secp256k1.Point.fromHex(`02${x.toString(16).padStart(64, "0")}`);
    return true;
  } catch {
    return false;
  }
}

/** Serializes and signs a request synchronously (ethers' Wallet.signTransaction is async only). */
function getBytesSync(req: TransactionLike<string>): Uint8Array {
  const tx = Transaction.from(req);
  tx.signature = wallet.signingKey.sign(tx.unsignedHash);
  return getBytes(tx.serialized);
}

describe("decodeTransaction with a known sender (bodies read back from the database)", () => {
  it("gives the same transaction without recovering the sender", async () => {
    const wallet = Wallet.createRandom();
    const raw = await wallet.signTransaction({ type: 2, chainId: 1984, nonce: 3, to: wallet.address, value: 5n, gasLimit: 21000, maxFeePerGas: 2n * 10n ** 9n, maxPriorityFeePerGas: 1n });
    const bytes = Uint8Array.from(Buffer.from(raw.slice(2), "hex"));
    const recovered = decodeTransaction(bytes, 1984n);
    expect(decodeTransaction(bytes, 1984n, recovered.from)).toEqual(recovered);
    // the given sender is taken as is: only the node's own stored senders may be passed
    const other = `0x${"12".repeat(20)}` as const;
    expect(decodeTransaction(bytes, 1984n, other).from).toBe(other);
  });
});
