// The author's content keys at rest: one JSON file per content in `<datadir>/content-keys/`, the key
// encrypted with AES-256-GCM under a key stretched from a password by scrypt (the cost of the
// account keystores). `vs1984 content publish` stores a key; the key-delivery service loads it when
// a purchase is to be served. The file format is in docs/content-crypto.md.
import { createCipheriv, createDecipheriv, randomBytes, scrypt, type ScryptOptions } from "node:crypto";
import { chmod, mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Hex } from "../../chain/index.js";
import { KeystoreError, KeystoreErrorCode, defaultKeystoreOptions, type KeystoreOptions } from "../keystore.js";
import { writeNewSecretFile } from "../secretFile.js";
import { CONTENT_KEY_BYTES, keyCommitment } from "./contentCipher.js";
import { ContentError, ContentErrorCode } from "./contentError.js";

/** Value of the `kind` field of a content key file. */
const KIND = "vs1984-content-key";
const VERSION = 1;
const SALT_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// A content key file is under a kilobyte; anything far bigger is not one (and is not read into memory).
const MAX_FILE_BYTES = 16 * 1024;
// The strongest cost geth writes is N = 2^18, r = 8 (256 MiB); files asking for more are refused.
const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024;

/** The folder of content keys in a data folder: `<datadir>/content-keys`. */
export function contentKeysDir(datadir: string): string {
  return join(datadir, "content-keys");
}

/** The file of one content's key: `<datadir>/content-keys/<content hash, 64 lowercase hex digits>.json`. */
export function contentKeyFile(datadir: string, contentHash: Hex): string {
  return join(contentKeysDir(datadir), `${checkContentHash(contentHash).slice(2)}.json`);
}

/** Encrypts a content key into the JSON text of a content key file (scrypt cost from `opts`, default 2^17). */
export async function encryptContentKeyJson(
  key: Uint8Array,
  contentHash: Hex,
  password: string,
  opts: Partial<KeystoreOptions> = {},
): Promise<string> {
  const hash = checkContentHash(contentHash);
  if (!(key instanceof Uint8Array) || key.length !== CONTENT_KEY_BYTES) {
    throw new ContentError(ContentErrorCode.INVALID_ARGUMENT, `a content key must be ${CONTENT_KEY_BYTES} bytes`);
  }
  const kdfparams = { n: { ...defaultKeystoreOptions, ...opts }.scryptN, r: 8, p: 1, dklen: 32, salt: randomBytes(SALT_BYTES).toString("hex") };
  const iv = randomBytes(IV_BYTES);
  const wrapKey = await stretch(password, kdfparams);
  const cipher = createCipheriv("aes-256-gcm", wrapKey, iv);
  wrapKey.fill(0);
  cipher.setAAD(associatedData(hash));
  const ciphertext = cipher.update(key);
  cipher.final();
  const json = {
    version: VERSION,
    kind: KIND,
    contentHash: hash,
    keyCommitment: keyCommitment(key),
    crypto: {
      cipher: "aes-256-gcm",
      ciphertext: ciphertext.toString("hex"),
      cipherparams: { iv: iv.toString("hex") },
      tag: cipher.getAuthTag().toString("hex"),
      kdf: "scrypt",
      kdfparams,
    },
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/**
 * Decrypts the JSON text of a content key file, expected to hold the key of `contentHash`; `file`
 * names it in errors. Throws KeystoreError WRONG_PASSWORD or MALFORMED (naming the field).
 */
export async function decryptContentKeyJson(text: string, password: string, contentHash: Hex, file: string): Promise<Uint8Array> {
  const hash = checkContentHash(contentHash);
  const parsed = parseContentKeyJson(text, file);
  if (parsed.contentHash !== hash) throw malformed(file, `it holds the key of content ${parsed.contentHash}, not of ${hash}`);
  const wrapKey = await stretch(password, parsed.kdfparams);
  const decipher = createDecipheriv("aes-256-gcm", wrapKey, parsed.iv);
  wrapKey.fill(0);
  decipher.setAAD(associatedData(hash));
  decipher.setAuthTag(parsed.tag);
  const key = decipher.update(parsed.ciphertext);
  try {
    decipher.final();
  } catch {
    key.fill(0);
    // AES-GCM cannot tell a wrong password from an altered ciphertext; a wrong password is by far
    // the likelier, and the fields were checked above
    throw new KeystoreError({ code: KeystoreErrorCode.WRONG_PASSWORD, file }, `wrong password for content key file ${file}`);
  }
  if (keyCommitment(key) !== parsed.keyCommitment) {
    key.fill(0);
    throw malformed(file, "the decrypted key does not match its field keyCommitment");
  }
  return new Uint8Array(key.buffer, key.byteOffset, key.length);
}

/**
 * Stores a content key under `<datadir>/content-keys/` (folder mode 0700, file mode 0600). Never
 * writes over a stored key: a key whose commitment is on chain must not be lost. Returns the file.
 */
export async function storeContentKey(
  datadir: string,
  contentHash: Hex,
  key: Uint8Array,
  password: string,
  opts: Partial<KeystoreOptions> = {},
): Promise<string> {
  const file = contentKeyFile(datadir, contentHash);
  const json = await encryptContentKeyJson(key, contentHash, password, opts);
  const dir = contentKeysDir(datadir);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  } catch (e) {
    throw unreadable(dir, `cannot create content key folder ${dir}: ${(e as Error).message}`);
  }
  // written once, never replaced: a second key for the same content is refused (EEXIST)
  try {
    await writeNewSecretFile(file, json);
  } catch (e) {
    const exists = (e as NodeJS.ErrnoException).code === "EEXIST";
    const why = exists ? `a key for content ${contentHash.toLowerCase()} is already stored there` : (e as Error).message;
    throw unreadable(file, `cannot write content key file ${file}: ${why}`);
  }
  return file;
}

/** Loads the key of `contentHash` from `<datadir>/content-keys/`; throws KeystoreError (absent, wrong password, malformed). */
export async function loadContentKey(datadir: string, contentHash: Hex, password: string): Promise<Uint8Array> {
  const file = contentKeyFile(datadir, contentHash);
  let text: string;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new Error("not a regular file");
    if (s.size > MAX_FILE_BYTES) throw new Error(`${s.size} bytes is too large for a content key file`);
    text = await readFile(file, "utf8");
  } catch (e) {
    const absent = (e as NodeJS.ErrnoException).code === "ENOENT";
    throw unreadable(file, absent ? `no key stored for content ${contentHash.toLowerCase()} (${file})` : `cannot read content key file ${file}: ${(e as Error).message}`);
  }
  return decryptContentKeyJson(text, password, contentHash, file);
}

/** True when a key file for `contentHash` exists under `<datadir>/content-keys/` (not opened). */
export async function hasContentKey(datadir: string, contentHash: Hex): Promise<boolean> {
  try {
    return (await stat(contentKeyFile(datadir, contentHash))).isFile();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------

interface KdfParams {
  n: number;
  r: number;
  p: number;
  dklen: number;
  salt: string;
}

interface ContentKeyJson {
  contentHash: Hex;
  keyCommitment: Hex;
  kdfparams: KdfParams;
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

function checkContentHash(contentHash: Hex): Hex {
  // it becomes a file name: nothing but 32 bytes of hex may pass
  if (typeof contentHash !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(contentHash)) {
    throw new ContentError(ContentErrorCode.INVALID_ARGUMENT, "a content hash must be 0x and 64 hex digits");
  }
  return contentHash.toLowerCase() as Hex;
}

/** The file's content hash is authenticated with the key, so a file copied under another name does not open. */
function associatedData(contentHash: Hex): Buffer {
  return Buffer.from(`${KIND} v${VERSION} ${contentHash}`, "utf8");
}

async function stretch(password: string, params: KdfParams): Promise<Buffer> {
  const options: ScryptOptions = { N: params.n, r: params.r, p: params.p, maxmem: 2 * 128 * params.n * params.r * params.p };
  // NFKC as ethers and geth-compatible wallets do, so a password typed on another system still opens
  const secret = Buffer.from(password.normalize("NFKC"), "utf8");
  return new Promise((resolve, reject) => {
    scrypt(secret, Buffer.from(params.salt, "hex"), params.dklen, options, (err, derived) => (err ? reject(err) : resolve(derived)));
  });
}

function malformed(file: string, problem: string): KeystoreError {
  return new KeystoreError({ code: KeystoreErrorCode.MALFORMED, file }, `content key file ${file} is malformed: ${problem}`);
}

function unreadable(file: string, message: string): KeystoreError {
  return new KeystoreError({ code: KeystoreErrorCode.FILE_UNREADABLE, file }, message);
}

/** Checks every field of a content key file, naming the first that is wrong. */
function parseContentKeyJson(text: string, file: string): ContentKeyJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw malformed(file, `not valid JSON (${(e as Error).message})`);
  }
  const obj = asObject(json, "the file", file);
  if (obj.version !== VERSION) throw malformed(file, `field version must be ${VERSION}, got ${JSON.stringify(obj.version) ?? "nothing"}`);
  if (obj.kind !== KIND) throw malformed(file, `field kind must be "${KIND}"`);
  const contentHash = hashField(obj.contentHash, "contentHash", file);
  const commitment = hashField(obj.keyCommitment, "keyCommitment", file);
  const crypto = asObject(obj.crypto, "field crypto", file);
  if (crypto.cipher !== "aes-256-gcm") throw malformed(file, "field crypto.cipher must be \"aes-256-gcm\"");
  if (crypto.kdf !== "scrypt") throw malformed(file, "field crypto.kdf must be \"scrypt\"");
  const cipherparams = asObject(crypto.cipherparams, "field crypto.cipherparams", file);
  const params = asObject(crypto.kdfparams, "field crypto.kdfparams", file);
  const int = (key: string): number => {
    const v = params[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) throw malformed(file, `field crypto.kdfparams.${key} must be a positive integer`);
    return v;
  };
  const kdfparams: KdfParams = { n: int("n"), r: int("r"), p: int("p"), dklen: int("dklen"), salt: "" };
  if (kdfparams.n < 2 || (kdfparams.n & (kdfparams.n - 1)) !== 0) throw malformed(file, "field crypto.kdfparams.n must be a power of two");
  if (kdfparams.dklen !== 32) throw malformed(file, "field crypto.kdfparams.dklen must be 32");
  if (128 * kdfparams.n * kdfparams.r * kdfparams.p > MAX_SCRYPT_MEMORY) throw malformed(file, "scrypt parameters need more than 1 GiB of memory");
  kdfparams.salt = bytesField(params.salt, "crypto.kdfparams.salt", file, 16, 64).toString("hex");
  return {
    contentHash,
    keyCommitment: commitment,
    kdfparams,
    iv: bytesField(cipherparams.iv, "crypto.cipherparams.iv", file, IV_BYTES, IV_BYTES),
    tag: bytesField(crypto.tag, "crypto.tag", file, TAG_BYTES, TAG_BYTES),
    ciphertext: bytesField(crypto.ciphertext, "crypto.ciphertext", file, CONTENT_KEY_BYTES, CONTENT_KEY_BYTES),
  };
}

function asObject(v: unknown, what: string, file: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw malformed(file, `${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

function hashField(v: unknown, name: string, file: string): Hex {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(v)) throw malformed(file, `field ${name} must be 0x and 64 hex digits`);
  return v.toLowerCase() as Hex;
}

function bytesField(v: unknown, name: string, file: string, min: number, max: number): Buffer {
  if (typeof v !== "string" || !/^([0-9a-fA-F]{2})*$/.test(v)) throw malformed(file, `field ${name} must be a hex string without 0x`);
  const length = v.length / 2;
  if (length < min || length > max) {
    throw malformed(file, `field ${name} must be ${min === max ? min : `${min} to ${max}`} bytes, got ${length}`);
  }
  return Buffer.from(v, "hex");
}
