import { describe, expect, it } from "@jest/globals";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fc from "fast-check";
import { Wallet, getBytes } from "ethers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ContentErrorCode } from "../../../../node/content/contentError.js";
import { ECIES_OVERHEAD, eciesBackend, eciesDecrypt, eciesEncrypt } from "../../../../node/content/ecies.js";
import { thrownCode } from "./thrownCode.js";

const wallet = Wallet.createRandom();
const PRIVATE = getBytes(wallet.privateKey);
const UNCOMPRESSED = getBytes(wallet.signingKey.publicKey);
const COMPRESSED = getBytes(wallet.signingKey.compressedPublicKey);
const INFO = new TextEncoder().encode("vs1984 ecies v1 secp256k1 aes-256-gcm");

/** An x coordinate with no point on secp256k1 (x^3 + 7 is not a square mod p). */
function offCurveCompressed(): Uint8Array {
  for (let x = 1; ; x++) {
    const bytes = new Uint8Array(33);
    bytes[0] = 2;
    bytes[32] = x;
    try {
      secp256k1.Point.fromBytes(bytes);
    } catch {
      return bytes;
    }
  }
}

// The documented format, written again from docs/content-crypto.md with noble's ECDH and HKDF, so
// the module is checked against the document and not only against itself.
function referenceSeal(recipient: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const ephemeralPrivate = secp256k1.utils.randomSecretKey();
  const ephemeral = secp256k1.getPublicKey(ephemeralPrivate, true);
  const x = secp256k1.getSharedSecret(ephemeralPrivate, recipient, true).subarray(1);
  const salt = Buffer.concat([ephemeral, secp256k1.Point.fromBytes(recipient).toBytes(true)]);
  const key = hkdf(sha256, x, salt, INFO, 32);
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.concat([Buffer.from([1]), ephemeral]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), ephemeral, nonce, body, cipher.getAuthTag()]);
}

function referenceOpen(privateKey: Uint8Array, sealed: Uint8Array): Uint8Array {
  const ephemeral = sealed.subarray(1, 34);
  const x = secp256k1.getSharedSecret(privateKey, ephemeral, true).subarray(1);
  const salt = Buffer.concat([ephemeral, secp256k1.getPublicKey(privateKey, true)]);
  const key = hkdf(sha256, x, salt, INFO, 32);
  const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(34, 46));
  decipher.setAAD(sealed.subarray(0, 34));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(46, sealed.length - 16)), decipher.final()]);
}

describe("ECIES", () => {
  it("runs on the native secp256k1 binding here", () => {
    expect(eciesBackend).toBe("native");
  });

  it("seals a content key to an ethers wallet's uncompressed or compressed public key", () => {
    const contentKey = randomBytes(32);
    for (const publicKey of [UNCOMPRESSED, COMPRESSED]) {
      const sealed = eciesEncrypt(publicKey, contentKey);
      expect(sealed.length).toBe(32 + ECIES_OVERHEAD);
      expect(sealed[0]).toBe(1);
      expect(Buffer.from(eciesDecrypt(PRIVATE, sealed)).equals(contentKey)).toBe(true);
    }
  });

  it("follows the documented format: boxes open both ways with an independent implementation", () => {
    const message = randomBytes(77);
    expect(Buffer.from(eciesDecrypt(PRIVATE, referenceSeal(UNCOMPRESSED, message))).equals(message)).toBe(true);
    expect(Buffer.from(referenceOpen(PRIVATE, eciesEncrypt(COMPRESSED, message))).equals(message)).toBe(true);
  });

  it("seals the same plaintext differently each time (fresh ephemeral key and nonce)", () => {
    const a = eciesEncrypt(COMPRESSED, new Uint8Array(32));
    const b = eciesEncrypt(COMPRESSED, new Uint8Array(32));
    expect(Buffer.from(a.subarray(1, 34)).equals(b.subarray(1, 34))).toBe(false);
  });

  it("round-trips an empty plaintext", () => {
    expect(eciesDecrypt(PRIVATE, eciesEncrypt(UNCOMPRESSED, new Uint8Array(0))).length).toBe(0);
  });

  it("refuses to open a box sealed to someone else", () => {
    const sealed = eciesEncrypt(UNCOMPRESSED, randomBytes(32));
    expect(thrownCode(() => eciesDecrypt(getBytes(Wallet.createRandom().privateKey), sealed))).toBe(ContentErrorCode.ECIES_AUTH_FAILED);
  });

  it("names the problem of malformed boxes", () => {
    const sealed = Buffer.from(eciesEncrypt(COMPRESSED, randomBytes(32)));
    expect(thrownCode(() => eciesDecrypt(PRIVATE, new Uint8Array(0)))).toBe(ContentErrorCode.ECIES_TOO_SHORT);
    expect(thrownCode(() => eciesDecrypt(PRIVATE, sealed.subarray(0, ECIES_OVERHEAD - 1)))).toBe(ContentErrorCode.ECIES_TOO_SHORT);
    expect(() => eciesDecrypt(PRIVATE, sealed.subarray(0, 10))).toThrow("10 bytes, a sealed box has at least 62");
    const v2 = Buffer.from(sealed);
    v2[0] = 2;
    expect(thrownCode(() => eciesDecrypt(PRIVATE, v2))).toBe(ContentErrorCode.ECIES_UNKNOWN_VERSION);
    expect(() => eciesDecrypt(PRIVATE, v2)).toThrow("version 2");
    const offCurve = Buffer.from(sealed);
    offCurve.set(offCurveCompressed(), 1);
    expect(thrownCode(() => eciesDecrypt(PRIVATE, offCurve))).toBe(ContentErrorCode.ECIES_BAD_EPHEMERAL_KEY);
    const uncompressedPrefix = Buffer.from(sealed);
    uncompressedPrefix[1] = 4;
    expect(thrownCode(() => eciesDecrypt(PRIVATE, uncompressedPrefix))).toBe(ContentErrorCode.ECIES_BAD_EPHEMERAL_KEY);
  });

  it("refuses recipient public keys that are not secp256k1 points in 33 or 65 bytes", () => {
    const bad = [
      UNCOMPRESSED.subarray(1), // 64 bytes without the 0x04 prefix
      Uint8Array.from([2, ...UNCOMPRESSED.subarray(1)]), // 65 bytes with a compressed prefix
      offCurveCompressed(),
      new Uint8Array(33),
      new Uint8Array(65),
    ];
    for (const publicKey of bad) expect(thrownCode(() => eciesEncrypt(publicKey, new Uint8Array(32)))).toBe(ContentErrorCode.ECIES_BAD_PUBLIC_KEY);
  });

  it("refuses private keys outside [1, n-1]", () => {
    const sealed = eciesEncrypt(COMPRESSED, new Uint8Array(32));
    const n = Buffer.from("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", "hex");
    for (const key of [new Uint8Array(32), n, PRIVATE.subarray(1)]) {
      expect(thrownCode(() => eciesDecrypt(key, sealed))).toBe(ContentErrorCode.ECIES_BAD_PRIVATE_KEY);
    }
  });

  describe("properties", () => {
    const privateKeys = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => secp256k1.utils.isValidSecretKey(k));

    it("open(seal(x)) = x for random recipients and plaintexts, with either public key form", () => {
      fc.assert(
        fc.property(privateKeys, fc.uint8Array({ maxLength: 300 }), fc.boolean(), (privateKey, plaintext, compressed) => {
          const sealed = eciesEncrypt(secp256k1.getPublicKey(privateKey, compressed), plaintext);
          expect(Buffer.from(eciesDecrypt(privateKey, sealed)).equals(plaintext)).toBe(true);
        }),
        { numRuns: 100 },
      );
    });

    it("any flipped bit is detected with a typed error", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (plaintext, where, bit) => {
          const sealed = eciesEncrypt(UNCOMPRESSED, plaintext);
          const at = where % sealed.length;
          sealed[at]! ^= 1 << bit;
          const code = thrownCode(() => eciesDecrypt(PRIVATE, sealed));
          if (at === 0) expect(code).toBe(ContentErrorCode.ECIES_UNKNOWN_VERSION);
          else if (at <= 33) expect([ContentErrorCode.ECIES_BAD_EPHEMERAL_KEY, ContentErrorCode.ECIES_AUTH_FAILED]).toContain(code);
          else expect(code).toBe(ContentErrorCode.ECIES_AUTH_FAILED);
        }),
        { numRuns: 300 },
      );
    });
  });
});
