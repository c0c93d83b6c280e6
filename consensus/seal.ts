import { scrypt, scryptSync, type ScryptOptions } from "node:crypto";
import { createRequire } from "node:module";
import { bytesToBigInt, bytesToHex, hexToBytes } from "@ethereumjs/util";
import type * as Secp256k1 from "secp256k1";
import { NodeError, isNodeError, keccak256, recoverAddress, sealHash, type BlockHeader, type Hex, type ScryptParams } from "../chain/index.js";

// The genesis file owns the scrypt parameters; consensus re-exports the one definition.
export type { ScryptParams } from "../chain/index.js";

// Signing needs the native libsecp256k1 binding directly (chain/transaction.ts only recovers); recovery goes
// through chain/transaction.ts's recoverAddress so the low-s and range rules live in one place.
const secp256k1 = createRequire(import.meta.url)("secp256k1/bindings.js") as typeof Secp256k1;

/** Error codes of seal verification. */
export const SealErrorCode = {
  /** The header's miner is not in the eligible miner list. */
  NOT_ELIGIBLE: "SEAL_NOT_ELIGIBLE",
  /** The seal signature is malformed, high-s, or signed by someone other than `header.miner`. */
  BAD_SIGNATURE: "SEAL_BAD_SIGNATURE",
  /** `mixHash` (or the nonce it is computed from) does not match the recomputed scrypt output. */
  BAD_MIX_HASH: "SEAL_BAD_MIX_HASH",
  /** The seal does not meet even the base difficulty of the header. */
  INSUFFICIENT_WORK: "SEAL_INSUFFICIENT_WORK",
  /** The seal meets the base difficulty but not the target the miner's streak penalty requires. */
  STREAK_PENALTY_NOT_MET: "SEAL_STREAK_PENALTY_NOT_MET",
} as const;
/** One of SealErrorCode. */
export type SealErrorCode = (typeof SealErrorCode)[keyof typeof SealErrorCode];

/** A block seal that fails the restricted proof-of-work rules. */
export class SealError extends NodeError<{ code: SealErrorCode }> {}

/** What `verifySeal` needs besides the header: the genesis scrypt cost, who may mine, and the miner's streak. */
export interface SealContext {
  /** Scrypt cost parameters from genesis. */
  scrypt: ScryptParams;
  /** Eligible miners (lowercase addresses). */
  miners: ReadonlySet<Hex>;
  /** r: how many of the previous W blocks this miner authored; the seal must meet difficulty * 2^r. */
  penaltyExponent: number;
}

/** Options of `sealHeader`'s nonce search. */
export interface SealSearchOptions {
  /** First nonce to try; later tries count up from it (modulo 2^64). */
  startNonce: bigint;
  /** Nonces to try before giving up with null. */
  maxTries: number;
  /** Stops the search (checked before every try); the search then returns null. */
  signal?: AbortSignal;
  /** Called after every scrypt computed (hashrate accounting). */
  onAttempt?: () => void;
}

const TWO_POW_256 = 1n << 256n;
const NONCE_MASK = (1n << 64n) - 1n;
const MAX_PENALTY_EXPONENT = 256;

function scryptOptions(params: ScryptParams): ScryptOptions {
  // Node rejects scrypt when 128 * N * r exceeds maxmem (default 32 MiB); allow twice that plus room for p blocks.
  return { N: params.N, r: params.r, p: params.p, maxmem: 2 * 128 * params.N * params.r + 128 * params.r * params.p + (1 << 20) };
}

function scryptInputs(sealHashBytes: Uint8Array, nonce: Uint8Array, miner: Hex): [Uint8Array, Uint8Array] {
  if (sealHashBytes.length !== 32) throw new RangeError(`seal hash must be 32 bytes, got ${sealHashBytes.length}`);
  if (nonce.length !== 8) throw new RangeError(`seal nonce must be 8 bytes, got ${nonce.length}`);
  if (!/^0x[0-9a-fA-F]{40}$/.test(miner)) throw new RangeError(`miner must be a 20-byte 0x address, got ${miner}`);
  const password = new Uint8Array(40);
  password.set(sealHashBytes, 0);
  password.set(nonce, 32);
  return [password, hexToBytes(miner)];
}

/** The memory-hard work of a seal: scrypt(sealHash || nonce, salt = miner address, N, r, p, 32), off the event loop. */
export function computeMixHash(sealHashBytes: Uint8Array, nonce: Uint8Array, miner: Hex, params: ScryptParams): Promise<Uint8Array> {
  const [password, salt] = scryptInputs(sealHashBytes, nonce, miner);
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 32, scryptOptions(params), (err, key) => {
      if (err) reject(err);
      else resolve(new Uint8Array(key.buffer, key.byteOffset, key.length));
    });
  });
}

/**
 * `computeMixHash` on the calling thread. Only ~5% faster than the async form (N=1024 r=8: 1.97 ms vs 2.1 ms)
 * while it blocks the event loop for the whole hash, so the node verifies with the async form; this is for tools.
 */
export function computeMixHashSync(sealHashBytes: Uint8Array, nonce: Uint8Array, miner: Hex, params: ScryptParams): Uint8Array {
  const [password, salt] = scryptInputs(sealHashBytes, nonce, miner);
  const key = scryptSync(password, salt, 32, scryptOptions(params));
  return new Uint8Array(key.buffer, key.byteOffset, key.length);
}

/** The largest mixHash (as a 256-bit number) that meets `difficulty * 2^penaltyExponent`: floor(2^256 / (difficulty * 2^r)). */
export function sealTarget(difficulty: bigint, penaltyExponent: number): bigint {
  if (difficulty < 1n) throw new RangeError(`difficulty must be at least 1, got ${difficulty}`);
  if (!Number.isSafeInteger(penaltyExponent) || penaltyExponent < 0 || penaltyExponent > MAX_PENALTY_EXPONENT) {
    throw new RangeError(`penalty exponent must be an integer between 0 and ${MAX_PENALTY_EXPONENT}, got ${penaltyExponent}`);
  }
  return TWO_POW_256 / (difficulty << BigInt(penaltyExponent));
}

/** The digest the miner signs: keccak256(sealHash || nonce || mixHash). */
export function sealMessage(sealHashBytes: Uint8Array, nonce: Uint8Array, mixHash: Uint8Array): Uint8Array {
  if (sealHashBytes.length !== 32) throw new RangeError(`seal hash must be 32 bytes, got ${sealHashBytes.length}`);
  if (nonce.length !== 8) throw new RangeError(`seal nonce must be 8 bytes, got ${nonce.length}`);
  if (mixHash.length !== 32) throw new RangeError(`mixHash must be 32 bytes, got ${mixHash.length}`);
  const data = new Uint8Array(72);
  data.set(sealHashBytes, 0);
  data.set(nonce, 32);
  data.set(mixHash, 40);
  return keccak256(data);
}

/** Signs a seal message: 65 bytes r || s || v, v in {0, 1}, s always in the low half (no malleable twin). */
export function signSeal(message: Uint8Array, privateKey: Uint8Array): Hex {
  if (!secp256k1.privateKeyVerify(privateKey)) throw new RangeError("private key is not a valid secp256k1 key");
  // libsecp256k1 signs with RFC 6979 nonces and normalises s to the low half.
  const { signature, recid } = secp256k1.ecdsaSign(message, privateKey);
  const out = new Uint8Array(65);
  out.set(signature, 0);
  out[64] = recid;
  return bytesToHex(out) as Hex;
}

function addressOfPublicKey(uncompressed: Uint8Array): Hex {
  return bytesToHex(keccak256(uncompressed.subarray(1)).subarray(12)) as Hex;
}

/** The address of a secp256k1 private key (the miner address a sealing key seals for). */
export function minerAddress(privateKey: Uint8Array): Hex {
  if (!secp256k1.privateKeyVerify(privateKey)) throw new RangeError("private key is not a valid secp256k1 key");
  return addressOfPublicKey(secp256k1.publicKeyCreate(privateKey, false));
}

function headerBytes(value: Hex, length: number, field: string, code: SealErrorCode): Uint8Array {
  if (!/^0x[0-9a-fA-F]*$/.test(value) || value.length !== 2 + 2 * length) {
    throw new SealError({ code }, `block header ${field} must be ${length} bytes of 0x hex`);
  }
  return hexToBytes(value);
}

/** The address that signed the header's seal; throws SealError BAD_SIGNATURE if the signature is malformed or high-s. */
export function recoverSealSigner(header: BlockHeader): Hex {
  const sig = headerBytes(header.sealSignature, 65, "sealSignature", SealErrorCode.BAD_SIGNATURE);
  const nonce = headerBytes(header.nonce, 8, "nonce", SealErrorCode.BAD_MIX_HASH);
  const mixHash = headerBytes(header.mixHash, 32, "mixHash", SealErrorCode.BAD_MIX_HASH);
  const message = sealMessage(sealHash(header), nonce, mixHash);
  try {
    // recoverAddress refuses v outside {0, 1}, r or s out of range, and high s: a high-s twin would give every
    // sealed header a second valid encoding (another block hash for one seal), with which anyone could make an
    // honest miner look like an equivocator.
    return recoverAddress(message, bytesToBigInt(sig.subarray(0, 32)), bytesToBigInt(sig.subarray(32, 64)), sig[64] ?? -1);
  } catch (e) {
    if (!isNodeError(e)) throw e;
    throw new SealError({ code: SealErrorCode.BAD_SIGNATURE }, `seal signature: ${e.message}`);
  }
}

/**
 * Checks a header's seal against the restricted proof-of-work rules; throws SealError. Cheap checks come first
 * (eligibility, signature, the claimed mixHash against the targets) so a bad seal costs no scrypt.
 */
export async function verifySeal(header: BlockHeader, ctx: SealContext): Promise<void> {
  const miner = header.miner.toLowerCase() as Hex;
  if (!ctx.miners.has(miner)) {
    throw new SealError({ code: SealErrorCode.NOT_ELIGIBLE }, `miner ${miner} is not an eligible miner`);
  }
  if (header.difficulty < 1n) {
    throw new SealError({ code: SealErrorCode.INSUFFICIENT_WORK }, `header difficulty ${header.difficulty} is below 1`);
  }
  const signer = recoverSealSigner(header);
  if (signer !== miner) {
    throw new SealError({ code: SealErrorCode.BAD_SIGNATURE }, `seal is signed by ${signer}, not by the header's miner ${miner}`);
  }

  const mixHash = headerBytes(header.mixHash, 32, "mixHash", SealErrorCode.BAD_MIX_HASH);
  const work = bytesToBigInt(mixHash);
  const d = header.difficulty;
  const r = ctx.penaltyExponent;
  if (work > sealTarget(d, 0)) {
    throw new SealError({ code: SealErrorCode.INSUFFICIENT_WORK }, `seal does not meet difficulty ${d} (mixHash ${header.mixHash})`);
  }
  if (work > sealTarget(d, r)) {
    throw new SealError(
      { code: SealErrorCode.STREAK_PENALTY_NOT_MET },
      `seal meets difficulty ${d} but the streak penalty requires ${d} * 2^${r} = ${d << BigInt(r)}`,
    );
  }

  const nonce = headerBytes(header.nonce, 8, "nonce", SealErrorCode.BAD_MIX_HASH);
  const expected = await computeMixHash(sealHash(header), nonce, miner, ctx.scrypt);
  if (bytesToBigInt(expected) !== work) {
    throw new SealError(
      { code: SealErrorCode.BAD_MIX_HASH },
      `seal mixHash ${header.mixHash} does not match scrypt of nonce ${header.nonce}, which is ${bytesToHex(expected)}`,
    );
  }
}

function nonceBytes(nonce: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, nonce & NONCE_MASK);
  return out;
}

/**
 * Searches nonces (one scrypt at a time, on the thread pool) for a seal meeting difficulty * 2^penaltyExponent and
 * returns the header with mixHash, nonce and sealSignature filled, or null after maxTries or on abort.
 */
export async function sealHeader(
  header: BlockHeader,
  privateKey: Uint8Array,
  params: ScryptParams,
  penaltyExponent: number,
  opts: SealSearchOptions,
): Promise<BlockHeader | null> {
  const miner = header.miner.toLowerCase() as Hex;
  const keyAddress = minerAddress(privateKey);
  if (keyAddress !== miner) {
    throw new SealError({ code: SealErrorCode.BAD_SIGNATURE }, `sealing key belongs to ${keyAddress}, not to the header's miner ${miner}`);
  }
  const hash = sealHash(header);
  const target = sealTarget(header.difficulty, penaltyExponent);
  for (let i = 0; i < opts.maxTries; i++) {
    if (opts.signal?.aborted) return null;
    const nonce = nonceBytes(opts.startNonce + BigInt(i));
    const mixHash = await computeMixHash(hash, nonce, miner, params);
    opts.onAttempt?.();
    if (bytesToBigInt(mixHash) <= target) {
      return {
        ...header,
        mixHash: bytesToHex(mixHash) as Hex,
        nonce: bytesToHex(nonce) as Hex,
        sealSignature: signSeal(sealMessage(hash, nonce, mixHash), privateKey),
      };
    }
  }
  return null;
}
