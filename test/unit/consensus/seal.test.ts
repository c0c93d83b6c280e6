import { describe, expect, it } from "@jest/globals";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import { SigningKey, Wallet } from "ethers";
import fc from "fast-check";
import { type BlockHeader, EMPTY_BLOOM, EMPTY_TRIE_ROOT, sealHash } from "../../../chain/block.js";
import type { Hex } from "../../../chain/types.js";
import {
  type ScryptParams,
  type SealContext,
  SealErrorCode,
  computeMixHash,
  computeMixHashSync,
  minerAddress,
  recoverSealSigner,
  sealHeader,
  sealMessage,
  sealTarget,
  signSeal,
  verifySeal,
} from "../../../consensus/seal.js";

const SCRYPT: ScryptParams = { N: 16, r: 1, p: 1 };
const KEY_A = `0x${"11".repeat(32)}` as Hex;
const KEY_B = `0x${"22".repeat(32)}` as Hex;
const MINER_A = new Wallet(KEY_A).address.toLowerCase() as Hex;
const MINER_B = new Wallet(KEY_B).address.toLowerCase() as Hex;

/** An unsealed header with every field set: empty roots, the given miner and base difficulty. */
function makeHeader(miner: Hex, difficulty: bigint): BlockHeader {
  return {
    parentHash: `0x${"ab".repeat(32)}`,
    number: 7n,
    timestamp: 1_700_000_000n,
    miner,
    difficulty,
    stateRoot: EMPTY_TRIE_ROOT,
    transactionsRoot: EMPTY_TRIE_ROOT,
    receiptsRoot: EMPTY_TRIE_ROOT,
    logsBloom: EMPTY_BLOOM,
    gasLimit: 30_000_000n,
    gasUsed: 0n,
    extraData: "0x",
    baseFeePerGas: 1_000_000_000n,
    mixHash: `0x${"00".repeat(32)}`,
    nonce: `0x${"00".repeat(8)}`,
    subchainsRoot: EMPTY_TRIE_ROOT,
    sealSignature: `0x${"00".repeat(65)}`,
  };
}

function ctx(penaltyExponent = 0, miners: Hex[] = [MINER_A, MINER_B]): SealContext {
  return { scrypt: SCRYPT, miners: new Set(miners), penaltyExponent };
}

async function seal(header: BlockHeader, key: Hex, penaltyExponent = 0, startNonce = 0n): Promise<BlockHeader> {
  const sealed = await sealHeader(header, hexToBytes(key), SCRYPT, penaltyExponent, { startNonce, maxTries: 10_000 });
  if (sealed === null) throw new Error("no seal found in 10000 tries");
  return sealed;
}

/** Re-signs a header's (possibly altered) nonce and mixHash with `key`. */
function resign(header: BlockHeader, key: Hex): BlockHeader {
  const message = sealMessage(sealHash(header), hexToBytes(header.nonce), hexToBytes(header.mixHash));
  return { ...header, sealSignature: signSeal(message, hexToBytes(key)) };
}

/** Seals `header` as is with the first nonce whose mixHash satisfies `accept`, whatever the difficulty says. */
async function sealWhere(header: BlockHeader, key: Hex, accept: (work: bigint) => boolean): Promise<BlockHeader> {
  const hash = sealHash(header);
  for (let n = 0n; n < 1000n; n++) {
    const nonce = hexToBytes(`0x${n.toString(16).padStart(16, "0")}`);
    const mixHash = await computeMixHash(hash, nonce, header.miner, SCRYPT);
    if (accept(BigInt(bytesToHex(mixHash)))) {
      return resign({ ...header, nonce: bytesToHex(nonce) as Hex, mixHash: bytesToHex(mixHash) as Hex }, key);
    }
  }
  throw new Error("no nonce with the wanted mixHash in 1000 tries");
}

async function codeOf(p: Promise<void>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

describe("seal", () => {
  it("computes mixHash as scrypt(sealHash || nonce, salt = miner address)", async () => {
    const { scryptSync } = await import("node:crypto");
    const hash = sealHash(makeHeader(MINER_A, 1n));
    const nonce = hexToBytes("0x0102030405060708");
    const expected = scryptSync(Buffer.concat([hash, nonce]), hexToBytes(MINER_A), 32, { N: 16, r: 1, p: 1 });
    expect(bytesToHex(await computeMixHash(hash, nonce, MINER_A, SCRYPT))).toBe(bytesToHex(expected));
    expect(bytesToHex(computeMixHashSync(hash, nonce, MINER_A, SCRYPT))).toBe(bytesToHex(expected));
  });

  it("computes targets as floor(2^256 / (difficulty * 2^r))", () => {
    expect(sealTarget(1n, 0)).toBe(2n ** 256n);
    expect(sealTarget(4n, 3)).toBe(2n ** 256n / 32n);
    expect(sealTarget(3n, 1)).toBe(2n ** 256n / 6n);
    expect(() => sealTarget(0n, 0)).toThrow(RangeError);
    expect(() => sealTarget(1n, -1)).toThrow(RangeError);
  });

  it("signs like any Ethereum secp256k1 signer and recovers the signer", async () => {
    const sealed = await seal(makeHeader(MINER_A, 1n), KEY_A);
    const message = sealMessage(sealHash(sealed), hexToBytes(sealed.nonce), hexToBytes(sealed.mixHash));
    const sig = new SigningKey(KEY_A).sign(message);
    expect(sealed.sealSignature).toBe(`${sig.r}${sig.s.slice(2)}0${sig.yParity}`);
    expect(recoverSealSigner(sealed)).toBe(MINER_A);
    expect(minerAddress(hexToBytes(KEY_B))).toBe(MINER_B);
  });

  it("verifies a valid seal, also one that meets a streak penalty", async () => {
    const header = makeHeader(MINER_A, 3n);
    const sealed = await seal(header, KEY_A);
    expect(BigInt(sealed.mixHash) <= sealTarget(3n, 0)).toBe(true);
    await expect(verifySeal(sealed, ctx(0))).resolves.toBeUndefined();

    const penalised = await seal(header, KEY_A, 2);
    expect(BigInt(penalised.mixHash) <= sealTarget(3n, 2)).toBe(true);
    await expect(verifySeal(penalised, ctx(2))).resolves.toBeUndefined();
  });

  it("rejects a seal signed by a key other than the header's miner", async () => {
    const sealed = await seal(makeHeader(MINER_A, 1n), KEY_A);
    const forged = resign(sealed, KEY_B);
    expect(await codeOf(verifySeal(forged, ctx()))).toBe(SealErrorCode.BAD_SIGNATURE);
    await expect(verifySeal(forged, ctx())).rejects.toThrow(`signed by ${MINER_B}, not by the header's miner ${MINER_A}`);
  });

  it("rejects malformed signatures: wrong v, zero r, high s, wrong length", async () => {
    const sealed = await seal(makeHeader(MINER_A, 1n), KEY_A);
    const sig = hexToBytes(sealed.sealSignature);
    const badV = Uint8Array.from(sig);
    badV[64] = 27;
    const zeroR = Uint8Array.from(sig);
    zeroR.fill(0, 0, 32);
    // The malleable twin (r, n - s, 1 - v) recovers the same key, but is refused.
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const highS = Uint8Array.from(sig);
    highS.set(hexToBytes(`0x${(n - BigInt(bytesToHex(sig.subarray(32, 64)))).toString(16).padStart(64, "0")}`), 32);
    highS[64] = 1 - (sig[64] as number);
    for (const bad of [badV, zeroR, highS, sig.subarray(0, 64)]) {
      const header = { ...sealed, sealSignature: bytesToHex(bad) as Hex };
      expect(await codeOf(verifySeal(header, ctx()))).toBe(SealErrorCode.BAD_SIGNATURE);
    }
  });

  it("rejects a miner that is not in the eligible list", async () => {
    const sealed = await seal(makeHeader(MINER_B, 1n), KEY_B);
    expect(await codeOf(verifySeal(sealed, ctx(0, [MINER_A])))).toBe(SealErrorCode.NOT_ELIGIBLE);
  });

  it("rejects a mixHash that is not the scrypt of the nonce, even when re-signed", async () => {
    const sealed = await seal(makeHeader(MINER_A, 1n), KEY_A);
    const tampered = resign({ ...sealed, mixHash: `0x${"00".repeat(31)}01` }, KEY_A);
    expect(await codeOf(verifySeal(tampered, ctx()))).toBe(SealErrorCode.BAD_MIX_HASH);
    // Changing the mixHash without re-signing breaks the signature instead.
    const unsigned = { ...sealed, mixHash: `0x${"00".repeat(31)}01` as Hex };
    expect(await codeOf(verifySeal(unsigned, ctx()))).toBe(SealErrorCode.BAD_SIGNATURE);
    // So does changing any sealed field.
    expect(await codeOf(verifySeal({ ...sealed, gasUsed: 1n }, ctx()))).toBe(SealErrorCode.BAD_SIGNATURE);
  });

  it("rejects a seal below the base difficulty", async () => {
    // mixHash >= 2^255 misses the difficulty-2 target 2^255.
    const weak = await sealWhere(makeHeader(MINER_A, 2n), KEY_A, (work) => work > 2n ** 255n);
    expect(await codeOf(verifySeal(weak, ctx(0)))).toBe(SealErrorCode.INSUFFICIENT_WORK);
  });

  it("rejects a seal that meets the base difficulty but not the streak penalty, naming the numbers", async () => {
    // Difficulty 4: base target 2^254; with r = 3 the target is 2^256 / 32 = 2^251.
    const header = await sealWhere(makeHeader(MINER_A, 4n), KEY_A, (w) => w <= 2n ** 254n && w > 2n ** 251n);
    await expect(verifySeal(header, ctx(0))).resolves.toBeUndefined();
    expect(await codeOf(verifySeal(header, ctx(3)))).toBe(SealErrorCode.STREAK_PENALTY_NOT_MET);
    await expect(verifySeal(header, ctx(3))).rejects.toThrow("seal meets difficulty 4 but the streak penalty requires 4 * 2^3 = 32");
  });

  it("refuses to seal with a key that is not the header's miner", async () => {
    await expect(
      sealHeader(makeHeader(MINER_A, 1n), hexToBytes(KEY_B), SCRYPT, 0, { startNonce: 0n, maxTries: 1 }),
    ).rejects.toMatchObject({ code: SealErrorCode.BAD_SIGNATURE });
  });

  it("gives up after maxTries and on abort", async () => {
    const hopeless = makeHeader(MINER_A, 2n ** 200n);
    const key = hexToBytes(KEY_A);
    expect(await sealHeader(hopeless, key, SCRYPT, 0, { startNonce: 0n, maxTries: 5 })).toBeNull();
    const controller = new AbortController();
    const search = sealHeader(hopeless, key, SCRYPT, 0, { startNonce: 0n, maxTries: 1e9, signal: controller.signal });
    setImmediate(() => controller.abort());
    expect(await search).toBeNull();
  });

  it("every sealed header verifies, whatever the start nonce and penalty", async () => {
    await fc.assert(
      fc.asyncProperty(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: 0, max: 3 }), async (start, r) => {
        const sealed = await seal(makeHeader(MINER_A, 2n), KEY_A, r, start);
        await verifySeal(sealed, ctx(r));
      }),
      { numRuns: 20 },
    );
  });
});
