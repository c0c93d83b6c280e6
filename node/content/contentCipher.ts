// Content encryption: a file's bytes under a 32-byte content key, AES-256-GCM in fixed-size chunks
// (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár: a per-chunk nonce holding the
// chunk's index and a final-chunk flag), so a large file streams and no chunk can be reordered,
// dropped, duplicated or cut off unnoticed. The exact format is in docs/content-crypto.md.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { keccak256, type Hex } from "../../chain/index.js";
import { ContentError, ContentErrorCode } from "./contentError.js";

/** Length of a content key in bytes. */
export const CONTENT_KEY_BYTES = 32;
/** Format version this node writes and reads. */
export const CONTENT_CIPHER_VERSION = 1;
/** Length of the header before the first chunk, in bytes. */
export const CONTENT_HEADER_BYTES = 52;
/** Length of each chunk's authentication tag, in bytes. */
export const CONTENT_TAG_BYTES = 16;
/** Smallest and largest chunk size (plaintext bytes per chunk) the format allows. */
export const MIN_CHUNK_SIZE = 256;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

/** The magic bytes that open every content ciphertext: ASCII "VSEC" (VS1984 encrypted content). */
const MAGIC = Buffer.from("VSEC", "latin1");
const SALT_BYTES = 16;
const KEY_CHECK_BYTES = 16;
/** HKDF-SHA256 info of the per-file keys; a new format version gets a new string. */
const HKDF_INFO = Buffer.from("vs1984 content cipher v1", "utf8");

/** Options of encrypting content. */
export interface ContentCipherOptions {
  /** Plaintext bytes per chunk, from {@link MIN_CHUNK_SIZE} to {@link MAX_CHUNK_SIZE}; each chunk adds a 16-byte tag. */
  chunkSize: number;
}

/** Default content cipher options: 64 KiB chunks (0.024 % overhead; AES-GCM runs at full speed from 16 KiB). */
export const defaultContentCipherOptions: ContentCipherOptions = { chunkSize: 64 * 1024 };

/** The header of a content ciphertext, as read. */
export interface ContentHeader {
  version: number;
  /** Plaintext bytes per chunk (the last chunk may hold fewer). */
  chunkSize: number;
  /** Length of the whole plaintext in bytes. */
  plainLength: number;
  /** Random per-file salt of the key derivation. */
  salt: Uint8Array;
  /** Lets a reader tell a wrong key from altered chunks; derived from the key, reveals nothing of it. */
  keyCheck: Uint8Array;
}

/** A fresh random content key. */
export function generateContentKey(): Uint8Array {
  return new Uint8Array(randomBytes(CONTENT_KEY_BYTES));
}

/** The key commitment published with content: keccak256(contentKey), as 0x hex. */
export function keyCommitment(key: Uint8Array): Hex {
  checkKey(key);
  return `0x${Buffer.from(keccak256(key)).toString("hex")}`;
}

/** Throws CONTENT_KEY_COMMITMENT_MISMATCH unless keccak256(key) is `commitment` (any hex case). */
export function checkKeyCommitment(key: Uint8Array, commitment: Hex): void {
  if (keyCommitment(key) !== commitment.toLowerCase()) {
    throw new ContentError(
      ContentErrorCode.KEY_COMMITMENT_MISMATCH,
      "keccak256 of the key is not the published key commitment",
      "wrong content key: its keccak256 is not the key commitment published with the content",
    );
  }
}

/** Number of chunks of a plaintext: at least one, so that empty content still carries a tag. */
export function contentChunkCount(plainLength: number, chunkSize: number): number {
  return plainLength === 0 ? 1 : Math.ceil(plainLength / chunkSize);
}

/** Exact length of the ciphertext of `plainLength` bytes: header, plaintext, and a tag per chunk. */
export function contentCipherLength(plainLength: number, chunkSize = defaultContentCipherOptions.chunkSize): number {
  return CONTENT_HEADER_BYTES + plainLength + CONTENT_TAG_BYTES * contentChunkCount(plainLength, chunkSize);
}

/** Reads and checks the header at the start of a content ciphertext; throws CONTENT_MALFORMED naming the field. */
export function parseContentHeader(bytes: Uint8Array): ContentHeader {
  if (bytes.length < CONTENT_HEADER_BYTES) {
    throw malformed(`${bytes.length} bytes is shorter than the ${CONTENT_HEADER_BYTES}-byte header`);
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, CONTENT_HEADER_BYTES);
  if (!b.subarray(0, 4).equals(MAGIC)) throw malformed("it does not start with the magic bytes \"VSEC\"");
  const version = b[4] as number;
  if (version !== CONTENT_CIPHER_VERSION) throw malformed(`version ${version}, this node reads version ${CONTENT_CIPHER_VERSION}`);
  if (b[5] !== 0 || b[6] !== 0 || b[7] !== 0) throw malformed("reserved header bytes 5-7 are not zero");
  const chunkSize = b.readUInt32BE(8);
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw malformed(`chunk size ${chunkSize} is outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`);
  }
  const plainLength = b.readBigUInt64BE(12);
  if (plainLength > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`plaintext length ${plainLength} is above 2^53 - 1`);
  return {
    version,
    chunkSize,
    plainLength: Number(plainLength),
    salt: new Uint8Array(b.subarray(20, 20 + SALT_BYTES)),
    keyCheck: new Uint8Array(b.subarray(36, 36 + KEY_CHECK_BYTES)),
  };
}

/** Encrypts a whole plaintext with a content key; see {@link ContentEncryptStream} for files too large for memory. */
export function encryptContent(plain: Uint8Array, key: Uint8Array, opts: Partial<ContentCipherOptions> = {}): Uint8Array {
  const sealer = new ChunkSealer(key, plain.length, opts);
  return asUint8Array(Buffer.concat([sealer.header, ...sealer.update(plain), ...sealer.finish()]));
}

/** Decrypts and authenticates a whole content ciphertext; throws ContentError BAD_KEY, TAMPERED or MALFORMED. */
export function decryptContent(cipher: Uint8Array, key: Uint8Array): Uint8Array {
  checkKey(key);
  // The header is checked first so a short or foreign input is called malformed, not tampered.
  parseContentHeader(cipher);
  const opener = new ChunkOpener(key);
  const parts = opener.update(cipher);
  opener.finish();
  return asUint8Array(Buffer.concat(parts));
}

/**
 * Encrypts a stream of exactly `plainLength` bytes (announced up front: the header carries it).
 * Writing more, or ending with fewer, fails the stream with CONTENT_INVALID_ARGUMENT.
 */
export class ContentEncryptStream extends Transform {
  private readonly sealer: ChunkSealer;

  constructor(key: Uint8Array, plainLength: number, opts: Partial<ContentCipherOptions> = {}) {
    super();
    this.sealer = new ChunkSealer(key, plainLength, opts);
    this.push(this.sealer.header);
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    pushAll(this, callback, () => this.sealer.update(data));
  }

  override _flush(callback: TransformCallback): void {
    pushAll(this, callback, () => this.sealer.finish());
  }
}

/**
 * Decrypts a content ciphertext stream, emitting each chunk's plaintext only once the chunk is
 * authenticated. A cut-off stream fails only at its end (CONTENT_TAMPERED), so the reader must treat
 * what it received as incomplete until the stream finishes without error (write to a temporary file,
 * rename on success).
 */
export class ContentDecryptStream extends Transform {
  private readonly opener: ChunkOpener;

  constructor(key: Uint8Array) {
    super();
    checkKey(key);
    this.opener = new ChunkOpener(key);
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    pushAll(this, callback, () => this.opener.update(data));
  }

  override _flush(callback: TransformCallback): void {
    pushAll(this, callback, () => this.opener.finish());
  }
}

/** A plain Uint8Array of a Buffer's bytes: a view when it owns its memory, a copy when it is a slice of Node's shared pool. */
function asUint8Array(b: Buffer): Uint8Array {
  // small Buffers live in an 8 KiB pool shared with unrelated data, reachable through `.buffer`
  return b.byteOffset === 0 && b.length === b.buffer.byteLength ? new Uint8Array(b.buffer) : new Uint8Array(b);
}

function pushAll(stream: Transform, callback: TransformCallback, produce: () => Buffer[]): void {
  let parts: Buffer[];
  try {
    parts = produce();
  } catch (e) {
    callback(e as Error);
    return;
  }
  for (const part of parts) if (part.length > 0) stream.push(part);
  callback();
}

// ---------------------------------------------------------------------------------------------
// chunk layer, shared by the whole-buffer functions and the streams

interface FileKeys {
  /** The AES-256-GCM key of this file's chunks. */
  readonly aesKey: Buffer;
  readonly keyCheck: Buffer;
}

// The per-file key comes from the content key and a random salt, so chunk nonces (which count from
// zero in every file) never repeat under one AES key, even if a content key were used twice.
function deriveFileKeys(key: Uint8Array, salt: Uint8Array): FileKeys {
  const okm = Buffer.from(hkdfSync("sha256", key, salt, HKDF_INFO, 32 + KEY_CHECK_BYTES));
  return { aesKey: okm.subarray(0, 32), keyCheck: okm.subarray(32) };
}

/** Nonce of chunk `index`: three zero bytes, the index as a big-endian uint64, the final flag (1 on the last chunk). */
function chunkNonce(index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(Math.floor(index / 2 ** 32), 3);
  nonce.writeUInt32BE(index >>> 0, 7);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== CONTENT_KEY_BYTES) {
    const got = key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
    throw new ContentError(ContentErrorCode.INVALID_ARGUMENT, `a content key must be ${CONTENT_KEY_BYTES} bytes, got ${got}`);
  }
}

function malformed(problem: string): ContentError {
  return new ContentError(ContentErrorCode.MALFORMED, problem, `not a readable content ciphertext: ${problem}`);
}

function tampered(problem: string): ContentError {
  return new ContentError(ContentErrorCode.TAMPERED, problem, `content ciphertext was altered or cut: ${problem}`);
}

/** Splits a plaintext of known length into chunks as bytes arrive and seals each one. */
class ChunkSealer {
  readonly header: Buffer;
  private readonly keys: FileKeys;
  private readonly chunkSize: number;
  private readonly plainLength: number;
  private readonly chunks: number;
  private readonly pending: Buffer;
  private filled = 0;
  private index = 0;
  private received = 0;

  constructor(key: Uint8Array, plainLength: number, opts: Partial<ContentCipherOptions>) {
    checkKey(key);
    const { chunkSize } = { ...defaultContentCipherOptions, ...opts };
    if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
      throw new ContentError(ContentErrorCode.INVALID_ARGUMENT, `chunk size must be an integer in ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}, got ${chunkSize}`);
    }
    if (!Number.isSafeInteger(plainLength) || plainLength < 0) {
      throw new ContentError(ContentErrorCode.INVALID_ARGUMENT, `plaintext length must be a non-negative safe integer, got ${plainLength}`);
    }
    const salt = randomBytes(SALT_BYTES);
    this.keys = deriveFileKeys(key, salt);
    this.chunkSize = chunkSize;
    this.plainLength = plainLength;
    this.chunks = contentChunkCount(plainLength, chunkSize);
    this.pending = Buffer.allocUnsafe(Math.min(chunkSize, plainLength));

    const header = Buffer.alloc(CONTENT_HEADER_BYTES);
    MAGIC.copy(header, 0);
    header[4] = CONTENT_CIPHER_VERSION;
    header.writeUInt32BE(chunkSize, 8);
    header.writeBigUInt64BE(BigInt(plainLength), 12);
    salt.copy(header, 20);
    this.keys.keyCheck.copy(header, 36);
    this.header = header;
  }

  update(data: Uint8Array): Buffer[] {
    if (this.received + data.length > this.plainLength) {
      throw new ContentError(
        ContentErrorCode.INVALID_ARGUMENT,
        `got more than the announced ${this.plainLength} plaintext bytes`,
      );
    }
    this.received += data.length;
    const out: Buffer[] = [];
    let at = 0;
    while (at < data.length) {
      const take = Math.min(this.chunkSize - this.filled, data.length - at);
      if (this.filled === 0 && take === this.chunkSize) {
        // a whole chunk in the input: sealed where it lies, without a copy
        this.seal(data.subarray(at, at + take), out);
      } else {
        this.pending.set(data.subarray(at, at + take), this.filled);
        this.filled += take;
        if (this.filled === this.chunkSize) {
          this.seal(this.pending, out);
          this.filled = 0;
        }
      }
      at += take;
    }
    return out;
  }

  finish(): Buffer[] {
    if (this.received !== this.plainLength) {
      throw new ContentError(
        ContentErrorCode.INVALID_ARGUMENT,
        `got ${this.received} plaintext bytes, ${this.plainLength} were announced`,
      );
    }
    const out: Buffer[] = [];
    // the last chunk when it is short, or the single empty chunk of empty content
    if (this.index < this.chunks) this.seal(this.pending.subarray(0, this.filled), out);
    return out;
  }

  private seal(plain: Uint8Array, out: Buffer[]): void {
    const final = this.index === this.chunks - 1;
    const cipher = createCipheriv("aes-256-gcm", this.keys.aesKey, chunkNonce(this.index, final));
    // the whole header is authenticated with every chunk: chunk size, length and salt cannot change
    cipher.setAAD(this.header);
    const body = cipher.update(plain);
    cipher.final(); // GCM has no block left over: final() only completes the tag
    out.push(body, cipher.getAuthTag());
    this.index++;
  }
}

/** Reads the header, then opens chunks as their bytes (body and tag) arrive. */
class ChunkOpener {
  private readonly key: Uint8Array;
  private header: Buffer | null = null;
  private keys: FileKeys | null = null;
  private chunkSize = 0;
  private plainLength = 0;
  private chunks = 0;
  private index = 0;
  /** Header bytes, then the current chunk's bytes, gathered across writes. */
  private pending = Buffer.allocUnsafe(CONTENT_HEADER_BYTES);
  private filled = 0;

  constructor(key: Uint8Array) {
    this.key = key;
  }

  update(data: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    if (this.header === null) {
      const take = Math.min(CONTENT_HEADER_BYTES - this.filled, data.length);
      this.pending.set(data.subarray(0, take), this.filled);
      this.filled += take;
      at = take;
      if (this.filled < CONTENT_HEADER_BYTES) return out;
      this.readHeader();
    }
    while (at < data.length) {
      if (this.index === this.chunks) throw tampered(`${data.length - at} bytes follow the final chunk`);
      const need = this.chunkCipherLength(this.index);
      const take = Math.min(need - this.filled, data.length - at);
      if (this.filled === 0 && take === need) {
        out.push(this.open(data.subarray(at, at + need)));
      } else {
        this.pending.set(data.subarray(at, at + take), this.filled);
        this.filled += take;
        if (this.filled === need) {
          out.push(this.open(this.pending.subarray(0, need)));
          this.filled = 0;
        }
      }
      at += take;
    }
    return out;
  }

  finish(): Buffer[] {
    if (this.header === null) throw malformed(`it ends after ${this.filled} bytes, inside the ${CONTENT_HEADER_BYTES}-byte header`);
    if (this.index < this.chunks) {
      throw tampered(`it ends inside chunk ${this.index} of ${this.chunks} (${this.plainLength} plaintext bytes announced)`);
    }
    return [];
  }

  private readHeader(): void {
    const header = Buffer.from(this.pending);
    const parsed = parseContentHeader(header);
    const keys = deriveFileKeys(this.key, parsed.salt);
    if (!timingSafeEqual(keys.keyCheck, parsed.keyCheck)) {
      throw new ContentError(
        ContentErrorCode.BAD_KEY,
        "the header's key check does not match this key",
        "wrong content key: this content was not encrypted with it (or its header was altered)",
      );
    }
    this.header = header;
    this.keys = keys;
    this.chunkSize = parsed.chunkSize;
    this.plainLength = parsed.plainLength;
    this.chunks = contentChunkCount(parsed.plainLength, parsed.chunkSize);
    // never more than the longest chunk the header announces (which may be shorter than a chunk)
    this.pending = Buffer.allocUnsafe(Math.min(parsed.chunkSize, parsed.plainLength) + CONTENT_TAG_BYTES);
    this.filled = 0;
  }

  private chunkCipherLength(index: number): number {
    const plain = index < this.chunks - 1 ? this.chunkSize : this.plainLength - this.chunkSize * (this.chunks - 1);
    return plain + CONTENT_TAG_BYTES;
  }

  private open(chunk: Uint8Array): Buffer {
    const final = this.index === this.chunks - 1;
    const body = chunk.subarray(0, chunk.length - CONTENT_TAG_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", (this.keys as FileKeys).aesKey, chunkNonce(this.index, final));
    decipher.setAAD(this.header as Buffer);
    decipher.setAuthTag(chunk.subarray(chunk.length - CONTENT_TAG_BYTES));
    // update() returns unauthenticated bytes: they leave here only after final() checked the tag
    const plain = decipher.update(body);
    try {
      decipher.final();
    } catch {
      throw tampered(`chunk ${this.index} of ${this.chunks} fails authentication`);
    }
    this.index++;
    return plain;
  }
}
