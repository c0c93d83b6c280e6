import { describe, expect, it } from "@jest/globals";
import { createDecipheriv, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import fc from "fast-check";
import { keccak256 } from "ethers";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  CONTENT_HEADER_BYTES,
  CONTENT_TAG_BYTES,
  ContentDecryptStream,
  ContentEncryptStream,
  checkKeyCommitment,
  contentCipherLength,
  decryptContent,
  encryptContent,
  generateContentKey,
  keyCommitment,
  parseContentHeader,
} from "../../../../node/content/contentCipher.js";
import { ContentErrorCode } from "../../../../node/content/contentError.js";
import { thrownCode } from "./thrownCode.js";

const KIB = 1024;

async function collect(source: Iterable<Uint8Array>, transform: ContentEncryptStream | ContentDecryptStream): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  await pipeline(Readable.from(source, { objectMode: false }), transform, async (out: AsyncIterable<Buffer>) => {
    for await (const part of out) parts.push(part);
  });
  return new Uint8Array(Buffer.concat(parts));
}

/** Cuts bytes into pieces of the given sizes (the rest as one last piece). */
function pieces(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= bytes.length) break;
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  if (at < bytes.length) out.push(bytes.subarray(at));
  return out;
}

// The documented format, read again from docs/content-crypto.md with noble's HKDF, so the module is
// checked against the document and not only against itself.
function referenceDecrypt(cipher: Buffer, key: Uint8Array): Buffer {
  const header = cipher.subarray(0, 52);
  const chunkSize = header.readUInt32BE(8);
  const plainLength = Number(header.readBigUInt64BE(12));
  const okm = hkdf(sha256, key, header.subarray(20, 36), new TextEncoder().encode("vs1984 content cipher v1"), 48);
  expect(Buffer.from(okm.subarray(32)).equals(header.subarray(36, 52))).toBe(true);
  const chunks = plainLength === 0 ? 1 : Math.ceil(plainLength / chunkSize);
  const out: Buffer[] = [];
  let at = 52;
  for (let i = 0; i < chunks; i++) {
    const length = i < chunks - 1 ? chunkSize : plainLength - chunkSize * (chunks - 1);
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64BE(BigInt(i), 3);
    nonce[11] = i === chunks - 1 ? 1 : 0;
    const decipher = createDecipheriv("aes-256-gcm", okm.subarray(0, 32), nonce);
    decipher.setAAD(header);
    decipher.setAuthTag(cipher.subarray(at + length, at + length + 16));
    out.push(decipher.update(cipher.subarray(at, at + length)), decipher.final());
    at += length + 16;
  }
  expect(at).toBe(cipher.length);
  return Buffer.concat(out);
}

describe("content cipher", () => {
  it("follows the documented format: an independent reader decrypts it", () => {
    const key = generateContentKey();
    for (const [size, chunkSize] of [[0, 256], [256, 256], [1000, 256], [200_000, 65_536]] as const) {
      const plain = randomBytes(size);
      expect(referenceDecrypt(Buffer.from(encryptContent(plain, key, { chunkSize })), key).equals(plain)).toBe(true);
    }
  });

  it("round-trips a 300 KiB file with 64 KiB chunks and has the documented length", () => {
    const key = generateContentKey();
    const plain = randomBytes(300 * KIB);
    const cipher = encryptContent(plain, key);
    // 5 chunks: 4 full, one of 44 KiB
    expect(cipher.length).toBe(CONTENT_HEADER_BYTES + plain.length + 5 * CONTENT_TAG_BYTES);
    expect(cipher.length).toBe(contentCipherLength(plain.length));
    expect(Buffer.from(decryptContent(cipher, key)).equals(plain)).toBe(true);
  });

  it("writes the documented header", () => {
    const cipher = encryptContent(new Uint8Array(1000), generateContentKey(), { chunkSize: 256 });
    expect(Buffer.from(cipher.subarray(0, 8)).toString("hex")).toBe("5653454301000000"); // "VSEC", 1, reserved
    const header = parseContentHeader(cipher);
    expect(header).toMatchObject({ version: 1, chunkSize: 256, plainLength: 1000 });
    expect(header.salt.length).toBe(16);
    expect(header.keyCheck.length).toBe(16);
  });

  it("encrypts the same plaintext differently each time (random per-file salt)", () => {
    const key = generateContentKey();
    const plain = new Uint8Array(100);
    expect(Buffer.from(encryptContent(plain, key)).equals(encryptContent(plain, key))).toBe(false);
  });

  it("round-trips empty content as one final chunk of only a tag", () => {
    const key = generateContentKey();
    const cipher = encryptContent(new Uint8Array(0), key);
    expect(cipher.length).toBe(CONTENT_HEADER_BYTES + CONTENT_TAG_BYTES);
    expect(decryptContent(cipher, key).length).toBe(0);
  });

  it("commits to the key with keccak256", () => {
    const key = generateContentKey();
    expect(keyCommitment(key)).toBe(keccak256(key));
    expect(() => checkKeyCommitment(key, keccak256(key).toUpperCase().replace("0X", "0x") as `0x${string}`)).not.toThrow();
    expect(thrownCode(() => checkKeyCommitment(generateContentKey(), keyCommitment(key)))).toBe(ContentErrorCode.KEY_COMMITMENT_MISMATCH);
  });

  it("refuses a wrong key as CONTENT_BAD_KEY", () => {
    const cipher = encryptContent(randomBytes(5000), generateContentKey());
    expect(thrownCode(() => decryptContent(cipher, generateContentKey()))).toBe(ContentErrorCode.BAD_KEY);
  });

  it("refuses a key that is not 32 bytes, and a chunk size out of range", () => {
    expect(thrownCode(() => encryptContent(new Uint8Array(1), new Uint8Array(16)))).toBe(ContentErrorCode.INVALID_ARGUMENT);
    expect(thrownCode(() => decryptContent(new Uint8Array(100), new Uint8Array(31)))).toBe(ContentErrorCode.INVALID_ARGUMENT);
    expect(thrownCode(() => encryptContent(new Uint8Array(1), generateContentKey(), { chunkSize: 255 }))).toBe(ContentErrorCode.INVALID_ARGUMENT);
    expect(thrownCode(() => keyCommitment(new Uint8Array(33)))).toBe(ContentErrorCode.INVALID_ARGUMENT);
  });

  it("detects dropped, reordered, duplicated and cut-off chunks", () => {
    const key = generateContentKey();
    const chunk = 256;
    const plain = randomBytes(4 * chunk);
    const cipher = Buffer.from(encryptContent(plain, key, { chunkSize: chunk }));
    const header = cipher.subarray(0, CONTENT_HEADER_BYTES);
    const sealed = (i: number): Buffer => cipher.subarray(CONTENT_HEADER_BYTES + i * (chunk + 16), CONTENT_HEADER_BYTES + (i + 1) * (chunk + 16));
    const build = (order: number[]): Uint8Array => Buffer.concat([header, ...order.map(sealed)]);
    expect(Buffer.from(decryptContent(build([0, 1, 2, 3]), key)).equals(plain)).toBe(true);
    expect(thrownCode(() => decryptContent(build([0, 2, 1, 3]), key))).toBe(ContentErrorCode.TAMPERED); // reordered
    expect(thrownCode(() => decryptContent(build([0, 1, 3]), key))).toBe(ContentErrorCode.TAMPERED); // dropped
    expect(thrownCode(() => decryptContent(build([0, 1, 2]), key))).toBe(ContentErrorCode.TAMPERED); // last chunk cut off
    expect(thrownCode(() => decryptContent(build([0, 1, 2, 3, 3]), key))).toBe(ContentErrorCode.TAMPERED); // extended
    expect(thrownCode(() => decryptContent(cipher.subarray(0, cipher.length - 1), key))).toBe(ContentErrorCode.TAMPERED);
  });

  it("detects a header that claims a shorter length, so a non-final chunk would pass as final", () => {
    const key = generateContentKey();
    const cipher = Buffer.from(encryptContent(randomBytes(3 * 256), key, { chunkSize: 256 }));
    // claim two chunks and drop the third: lengths then agree, the header (AAD) and final flag do not
    const forged = Buffer.concat([cipher.subarray(0, CONTENT_HEADER_BYTES + 2 * 272)]);
    forged.writeBigUInt64BE(512n, 12);
    expect(thrownCode(() => decryptContent(forged, key))).toBe(ContentErrorCode.TAMPERED);
  });

  it("calls foreign or short input malformed, naming the problem", () => {
    const key = generateContentKey();
    const cipher = Buffer.from(encryptContent(randomBytes(10), key));
    const withByte = (at: number, value: number): Buffer => {
      const copy = Buffer.from(cipher);
      copy[at] = value;
      return copy;
    };
    const messageOf = (bytes: Uint8Array): string => {
      try {
        decryptContent(bytes, key);
      } catch (e) {
        expect((e as { code?: string }).code).toBe(ContentErrorCode.MALFORMED);
        return (e as Error).message;
      }
      throw new Error("expected a throw");
    };
    expect(messageOf(cipher.subarray(0, 51))).toMatch(/51 bytes is shorter than the 52-byte header/);
    expect(messageOf(withByte(0, 0x41))).toMatch(/magic/);
    expect(messageOf(withByte(4, 2))).toMatch(/version 2/);
    expect(messageOf(withByte(6, 1))).toMatch(/reserved/);
    expect(messageOf(withByte(8, 0xff))).toMatch(/chunk size/);
    expect(messageOf(withByte(12, 0xff))).toMatch(/plaintext length/);
  });

  it("streams: encrypts and decrypts across arbitrary write boundaries, equal to the whole-buffer functions", async () => {
    const key = generateContentKey();
    const plain = randomBytes(300 * KIB + 7);
    const cipher = await collect(pieces(plain, [1, 65535, 65537, 3, 100_000]), new ContentEncryptStream(key, plain.length));
    expect(cipher.length).toBe(contentCipherLength(plain.length));
    expect(Buffer.from(decryptContent(cipher, key)).equals(plain)).toBe(true);
    const back = await collect(pieces(cipher, [10, 42, 1, 65551, 7, 70_000]), new ContentDecryptStream(key));
    expect(Buffer.from(back).equals(plain)).toBe(true);
  });

  it("streams: fails on more or fewer bytes than announced, and on a cut-off ciphertext", async () => {
    const key = generateContentKey();
    await expect(collect([new Uint8Array(10)], new ContentEncryptStream(key, 11))).rejects.toMatchObject({ code: ContentErrorCode.INVALID_ARGUMENT });
    await expect(collect([new Uint8Array(12)], new ContentEncryptStream(key, 11))).rejects.toMatchObject({ code: ContentErrorCode.INVALID_ARGUMENT });
    const cipher = encryptContent(randomBytes(1000), key, { chunkSize: 256 });
    await expect(collect([cipher.subarray(0, 600)], new ContentDecryptStream(key))).rejects.toMatchObject({ code: ContentErrorCode.TAMPERED });
    await expect(collect([cipher.subarray(0, 20)], new ContentDecryptStream(key))).rejects.toMatchObject({ code: ContentErrorCode.MALFORMED });
    await expect(collect([cipher], new ContentDecryptStream(generateContentKey()))).rejects.toMatchObject({ code: ContentErrorCode.BAD_KEY });
  });

  describe("properties", () => {
    // sizes around chunk boundaries of a small chunk size, plus anything up to 300 KiB
    const chunkSizes = fc.constantFrom(256, 1000, 4096, 64 * KIB);
    const sizeNear = (chunk: number): fc.Arbitrary<number> =>
      fc.oneof(
        fc.constantFrom(0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk - 1, 300 * KIB),
        fc.integer({ min: 0, max: 300 * KIB }),
      );
    const cases = chunkSizes.chain((chunkSize) =>
      fc.record({
        chunkSize: fc.constant(chunkSize),
        size: sizeNear(chunkSize),
        key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        seed: fc.integer({ min: 0, max: 255 }),
      }),
    );
    const plainOf = (size: number, seed: number): Uint8Array => {
      const plain = new Uint8Array(size);
      for (let i = 0; i < size; i++) plain[i] = (i * 31 + seed) & 0xff;
      return plain;
    };

    it("decrypt(encrypt(x)) = x for random keys, sizes (0 and chunk boundaries up to 300 KiB) and chunk sizes", () => {
      fc.assert(
        fc.property(cases, ({ chunkSize, size, key, seed }) => {
          const plain = plainOf(size, seed);
          const cipher = encryptContent(plain, key, { chunkSize });
          expect(cipher.length).toBe(contentCipherLength(size, chunkSize));
          expect(Buffer.from(decryptContent(cipher, key)).equals(plain)).toBe(true);
        }),
        { numRuns: 60 },
      );
    });

    it("any flipped bit anywhere is detected", () => {
      fc.assert(
        fc.property(cases, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 0, max: 7 }), ({ chunkSize, size, key, seed }, where, bit) => {
          const cipher = encryptContent(plainOf(size, seed), key, { chunkSize });
          const at = Math.floor(where * cipher.length);
          cipher[at]! ^= 1 << bit;
          const code = thrownCode(() => decryptContent(cipher, key));
          // a flip in the header's salt or key check reads as a wrong key; in its fixed fields as
          // malformed; anywhere else (length, chunks, tags) as tampered
          expect([ContentErrorCode.TAMPERED, ContentErrorCode.BAD_KEY, ContentErrorCode.MALFORMED]).toContain(code);
          if (at >= CONTENT_HEADER_BYTES) expect(code).toBe(ContentErrorCode.TAMPERED);
        }),
        { numRuns: 200 },
      );
    });
  });
});
