// ECIES over secp256k1: seals a content key to a buyer's Real ID public key, so the author's node can
// write it on chain for a buyer who is not online. secp256k1 ECDH, HKDF-SHA256, AES-256-GCM; the
// exact layout and parameters are in docs/content-crypto.md.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { secp256k1 as noble } from "@noble/curves/secp256k1.js";
import { ContentError, ContentErrorCode } from "./contentError.js";

/** The format version this node writes and reads (first byte of a sealed box). */
export const ECIES_VERSION = 1;
const EPHEMERAL_KEY_BYTES = 33;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes a sealed box adds to its plaintext: version, ephemeral key, nonce and tag (62). */
export const ECIES_OVERHEAD = 1 + EPHEMERAL_KEY_BYTES + NONCE_BYTES + TAG_BYTES;
/** HKDF-SHA256 info string; the salt is ephemeralPubKey(33) || recipientPubKey(33), both compressed. */
const HKDF_INFO = Buffer.from("vs1984 ecies v1 secp256k1 aes-256-gcm", "utf8");

/** Length of the box that seals `plaintextLength` bytes. */
export function eciesSealedLength(plaintextLength: number): number {
  return ECIES_OVERHEAD + plaintextLength;
}

// ---------------------------------------------------------------------------------------------
// secp256k1 backend

interface Secp256k1Ops {
  isValidPrivateKey(privateKey: Uint8Array): boolean;
  /** Compressed public key of a valid private key. */
  publicKeyOf(privateKey: Uint8Array): Uint8Array;
  /** The 33-byte compressed form of a 33- or 65-byte public key; throws if it is not a curve point. */
  compress(publicKey: Uint8Array): Uint8Array;
  /** The x coordinate of privateKey * publicKey; throws if the public key is not a curve point. */
  sharedX(publicKey: Uint8Array, privateKey: Uint8Array): Uint8Array;
}

type Secp256k1Native = typeof import("secp256k1");

// The native binding (libsecp256k1) runs ECDH about 20 times faster here than node:crypto's
// createECDH("secp256k1") (16k against 800 per s: OpenSSL has no optimized code for this curve) and
// than noble; noble stays as the fallback for a platform the package ships no prebuilt binary for.
function nativeOps(): Secp256k1Ops | null {
  let lib: Secp256k1Native;
  try {
    lib = createRequire(import.meta.url)("secp256k1/bindings.js") as Secp256k1Native;
  } catch {
    return null;
  }
  const xOnly = { hashfn: (x: Uint8Array) => x };
  return {
    isValidPrivateKey: (k) => lib.privateKeyVerify(k),
    publicKeyOf: (k) => lib.publicKeyCreate(k, true),
    compress: (p) => lib.publicKeyConvert(p, true),
    sharedX: (p, k) => lib.ecdh(p, k, xOnly, new Uint8Array(32)),
  };
}

const nobleOps: Secp256k1Ops = {
  isValidPrivateKey: (k) => noble.utils.isValidSecretKey(k),
  publicKeyOf: (k) => noble.getPublicKey(k, true),
  compress: (p) => noble.Point.fromBytes(p).toBytes(true),
  sharedX: (p, k) => noble.getSharedSecret(k, p, true).subarray(1),
};

const native = nativeOps();
const ops: Secp256k1Ops = native ?? nobleOps;

/** Which secp256k1 implementation runs ECDH: the native binding, or noble when it could not load. */
export const eciesBackend: "native" | "noble" = native ? "native" : "noble";

// ---------------------------------------------------------------------------------------------
// seal and open

/**
 * Seals `plaintext` to the holder of `recipientPublicKey` (33-byte compressed or 65-byte
 * uncompressed secp256k1): `version(1) || ephemeralPubKey(33) || nonce(12) || ciphertext || tag(16)`.
 */
export function eciesEncrypt(recipientPublicKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const recipient = compressRecipient(recipientPublicKey);
  let ephemeralPrivate: Uint8Array;
  do ephemeralPrivate = new Uint8Array(randomBytes(32));
  while (!ops.isValidPrivateKey(ephemeralPrivate));
  const ephemeral = ops.publicKeyOf(ephemeralPrivate);
  const shared = ops.sharedX(recipient, ephemeralPrivate);
  ephemeralPrivate.fill(0);
  const key = boxKey(shared, ephemeral, recipient);

  // not allocUnsafe: small ones are slices of Node's shared pool, whose other bytes `.buffer` would show
  const out = Buffer.alloc(eciesSealedLength(plaintext.length));
  out[0] = ECIES_VERSION;
  out.set(ephemeral, 1);
  const nonce = randomBytes(NONCE_BYTES);
  nonce.copy(out, 1 + EPHEMERAL_KEY_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  key.fill(0);
  cipher.setAAD(out.subarray(0, 1 + EPHEMERAL_KEY_BYTES));
  const body = cipher.update(plaintext);
  cipher.final();
  body.copy(out, 1 + EPHEMERAL_KEY_BYTES + NONCE_BYTES);
  cipher.getAuthTag().copy(out, out.length - TAG_BYTES);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * Opens a box sealed by {@link eciesEncrypt} with the recipient's 32-byte private key. Throws
 * ContentError ECIES_TOO_SHORT, ECIES_UNKNOWN_VERSION, ECIES_BAD_EPHEMERAL_KEY, ECIES_BAD_PRIVATE_KEY,
 * or ECIES_AUTH_FAILED (sealed to another key, or any byte altered: AES-GCM cannot tell them apart).
 */
export function eciesDecrypt(recipientPrivateKey: Uint8Array, sealed: Uint8Array): Uint8Array {
  if (!(recipientPrivateKey instanceof Uint8Array) || recipientPrivateKey.length !== 32 || !ops.isValidPrivateKey(recipientPrivateKey)) {
    throw new ContentError(ContentErrorCode.ECIES_BAD_PRIVATE_KEY, "the private key is not 32 bytes in [1, n-1] of secp256k1");
  }
  if (sealed.length > 0 && sealed[0] !== ECIES_VERSION) {
    throw new ContentError(ContentErrorCode.ECIES_UNKNOWN_VERSION, `version ${sealed[0]}, this node reads version ${ECIES_VERSION}`);
  }
  if (sealed.length < ECIES_OVERHEAD) {
    throw new ContentError(
      ContentErrorCode.ECIES_TOO_SHORT,
      `${sealed.length} bytes, a sealed box has at least ${ECIES_OVERHEAD} (version, ephemeral key, nonce, tag)`,
    );
  }
  const ephemeral = sealed.subarray(1, 1 + EPHEMERAL_KEY_BYTES);
  const prefix = ephemeral[0];
  let shared: Uint8Array;
  try {
    if (prefix !== 2 && prefix !== 3) throw new Error("prefix");
    shared = ops.sharedX(ephemeral, recipientPrivateKey);
  } catch {
    throw new ContentError(ContentErrorCode.ECIES_BAD_EPHEMERAL_KEY, "the ephemeral public key is not a compressed secp256k1 point");
  }
  const key = boxKey(shared, ephemeral, ops.publicKeyOf(recipientPrivateKey));
  const nonce = sealed.subarray(1 + EPHEMERAL_KEY_BYTES, 1 + EPHEMERAL_KEY_BYTES + NONCE_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  key.fill(0);
  decipher.setAAD(sealed.subarray(0, 1 + EPHEMERAL_KEY_BYTES));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  // update() returns unauthenticated bytes: they leave here only after final() checked the tag
  const plaintext = decipher.update(sealed.subarray(1 + EPHEMERAL_KEY_BYTES + NONCE_BYTES, sealed.length - TAG_BYTES));
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    throw new ContentError(
      ContentErrorCode.ECIES_AUTH_FAILED,
      "the box does not open with this private key: it was sealed to another key, or altered",
    );
  }
  return new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.length);
}

function compressRecipient(publicKey: Uint8Array): Uint8Array {
  const ok =
    publicKey instanceof Uint8Array &&
    ((publicKey.length === 33 && (publicKey[0] === 2 || publicKey[0] === 3)) || (publicKey.length === 65 && publicKey[0] === 4));
  if (ok) {
    try {
      return ops.compress(publicKey);
    } catch {
      // not on the curve: reported below
    }
  }
  const what = publicKey instanceof Uint8Array ? `${publicKey.length} bytes` : typeof publicKey;
  throw new ContentError(
    ContentErrorCode.ECIES_BAD_PUBLIC_KEY,
    `the recipient public key (${what}) is not a 33-byte compressed or 65-byte uncompressed secp256k1 point`,
  );
}

/** AES-256-GCM key of one box: HKDF-SHA256(ikm = shared x, salt = ephemeral || recipient, info). */
function boxKey(sharedX: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Buffer {
  const salt = Buffer.concat([ephemeral, recipient]);
  const key = Buffer.from(hkdfSync("sha256", sharedX, salt, HKDF_INFO, 32));
  sharedX.fill(0);
  return key;
}
