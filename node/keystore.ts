import { chmod, mkdir, readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { SigningKey, computeAddress, decryptKeystoreJson, encryptKeystoreJson } from "ethers";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import { NodeError, type Hex } from "../chain/index.js";
import { writeNewSecretFile } from "./secretFile.js";

/** Error codes of reading and writing keystore files. */
export const KeystoreErrorCode = {
  /** The password does not open the keystore (its MAC does not match). */
  WRONG_PASSWORD: "KEYSTORE_WRONG_PASSWORD",
  /** The file is not a Web3 Secret Storage v3 keystore (bad JSON, missing or wrong fields). */
  MALFORMED: "KEYSTORE_MALFORMED",
  /** The file cannot be read or written. */
  FILE_UNREADABLE: "KEYSTORE_FILE_UNREADABLE",
  /** A private key or password given to store is not acceptable. */
  INVALID_KEY: "KEYSTORE_INVALID_KEY",
} as const;
/** One of KeystoreErrorCode. */
export type KeystoreErrorCode = (typeof KeystoreErrorCode)[keyof typeof KeystoreErrorCode];

/** A keystore that cannot be opened or written; the message names the file, never the key or password. */
export class KeystoreError extends NodeError<{ code: KeystoreErrorCode; file: string }> {}

/** Options of writing keystores. */
export interface KeystoreOptions {
  /** scrypt cost N (a power of two); lower it only in tests, since it is what protects the key. */
  scryptN: number;
}

/** Default keystore options: scrypt N = 2^17, r = 8, p = 1 (about 0.5 s per open, 128 MiB). */
export const defaultKeystoreOptions: KeystoreOptions = { scryptN: 2 ** 17 };

/** An opened keystore: the account it holds. */
export interface KeystoreKey {
  /** Lowercase 0x address. */
  address: Hex;
  /** The 32-byte secp256k1 private key. */
  privateKey: Uint8Array;
}

/** A keystore file found in a keystore folder. */
export interface KeystoreEntry {
  /** Full path of the file. */
  file: string;
  /** Lowercase 0x address the file claims (read without the password), or null when unreadable. */
  address: Hex | null;
  /** Why the file could not be read as a keystore, when `address` is null. */
  problem?: string;
}

// A keystore is a few hundred bytes; anything far bigger is not one (and is not read into memory).
const MAX_KEYSTORE_BYTES = 64 * 1024;

/** The keystore folder of a data folder: `<datadir>/keystore`. */
export function keystoreDir(datadir: string): string {
  return join(datadir, "keystore");
}

/** geth's file name for a keystore: `UTC--<ISO time with '-' for ':'>--<address without 0x>`. */
export function keystoreFileName(address: Hex, when: Date = new Date()): string {
  return `UTC--${when.toISOString().replace(/:/g, "-")}--${address.slice(2).toLowerCase()}`;
}

function checkPrivateKey(privateKey: Uint8Array, file: string): Hex {
  const hex = bytesToHex(privateKey) as Hex;
  try {
    if (privateKey.length !== 32) throw new Error("length");
    // SigningKey rejects zero and keys >= the curve order
    void new SigningKey(hex).publicKey;
  } catch {
    throw new KeystoreError({ code: KeystoreErrorCode.INVALID_KEY, file }, "private key is not a valid 32-byte secp256k1 key");
  }
  return hex;
}

/** Encrypts a private key into Web3 Secret Storage v3 JSON text (scrypt KDF, aes-128-ctr), as geth and ethers write it. */
export async function encryptKeystore(privateKey: Uint8Array, password: string, opts: Partial<KeystoreOptions> = {}): Promise<string> {
  const hex = checkPrivateKey(privateKey, "(new key)");
  const { scryptN } = { ...defaultKeystoreOptions, ...opts };
  return encryptKeystoreJson({ address: computeAddress(hex), privateKey: hex }, password, { scrypt: { N: scryptN, r: 8, p: 1 } });
}

/**
 * Writes a private key as a new keystore file in `dir` (created with mode 0700); the file, named as
 * geth names it, gets mode 0600 and is never written over. Returns its path and address.
 */
export async function writeKeystore(
  dir: string,
  privateKey: Uint8Array,
  password: string,
  opts: Partial<KeystoreOptions> = {},
): Promise<{ file: string; address: Hex }> {
  const json = await encryptKeystore(privateKey, password, opts);
  const address = computeAddress(bytesToHex(privateKey)).toLowerCase() as Hex;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const name = keystoreFileName(address);
  const file = join(dir, name);
  try {
    await writeNewSecretFile(file, json);
  } catch (e) {
    throw new KeystoreError({ code: KeystoreErrorCode.FILE_UNREADABLE, file }, `cannot write keystore ${file}: ${(e as Error).message}`);
  }
  return { file, address };
}

function malformed(file: string, problem: string): KeystoreError {
  return new KeystoreError({ code: KeystoreErrorCode.MALFORMED, file }, `keystore ${file} is malformed: ${problem}`);
}

function field(obj: Record<string, unknown>, key: string, path: string, file: string): unknown {
  if (!Object.hasOwn(obj, key)) throw malformed(file, `field ${path} is missing`);
  return obj[key];
}

function objectField(obj: Record<string, unknown>, key: string, path: string, file: string): Record<string, unknown> {
  const v = field(obj, key, path, file);
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw malformed(file, `field ${path} must be an object`);
  return v as Record<string, unknown>;
}

function hexField(obj: Record<string, unknown>, key: string, path: string, file: string, bytes?: number): void {
  const v = field(obj, key, path, file);
  if (typeof v !== "string" || !/^(0x)?([0-9a-fA-F]{2})+$/.test(v)) throw malformed(file, `field ${path} must be a hex string`);
  const len = (v.length - (v.startsWith("0x") ? 2 : 0)) / 2;
  if (bytes !== undefined && len !== bytes) throw malformed(file, `field ${path} must be ${bytes} bytes, got ${len}`);
}

/**
 * Checks the shape of a v3 keystore (the fields geth and ethers write) so a bad file gets a message
 * naming the field; returns the address it claims (lowercase 0x), or null when it names none.
 */
export function checkKeystoreJson(text: string, file: string): Hex | null {
  let json: unknown;
  try {
    json = JSON.parse(text.startsWith("\uFEFF") ? text.slice(1) : text);
  } catch (e) {
    throw malformed(file, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw malformed(file, "must be a JSON object");
  const obj = json as Record<string, unknown>;
  if (obj.version !== 3) throw malformed(file, `field version must be 3, got ${JSON.stringify(obj.version) ?? "nothing"}`);
  // geth writes "crypto", ethers writes "Crypto"; both read both
  const cryptoKey = Object.hasOwn(obj, "crypto") ? "crypto" : "Crypto";
  const crypto = objectField(obj, cryptoKey, "crypto", file);
  if (crypto.cipher !== "aes-128-ctr") throw malformed(file, "field crypto.cipher must be \"aes-128-ctr\"");
  hexField(objectField(crypto, "cipherparams", "crypto.cipherparams", file), "iv", "crypto.cipherparams.iv", file, 16);
  hexField(crypto, "ciphertext", "crypto.ciphertext", file, 32);
  hexField(crypto, "mac", "crypto.mac", file, 32);
  const kdf = field(crypto, "kdf", "crypto.kdf", file);
  const params = objectField(crypto, "kdfparams", "crypto.kdfparams", file);
  hexField(params, "salt", "crypto.kdfparams.salt", file);
  const int = (key: string): number => {
    const v = field(params, key, `crypto.kdfparams.${key}`, file);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) throw malformed(file, `field crypto.kdfparams.${key} must be a positive integer`);
    return v;
  };
  if (int("dklen") !== 32) throw malformed(file, "field crypto.kdfparams.dklen must be 32");
  if (kdf === "scrypt") {
    const n = int("n");
    if ((n & (n - 1)) !== 0 || n < 2) throw malformed(file, "field crypto.kdfparams.n must be a power of two");
    const memory = 128 * n * int("r") * int("p");
    // geth's strongest setting is N = 2^18, r = 8 (256 MiB); refuse files that would exhaust memory
    if (memory > 1024 * 1024 * 1024) throw malformed(file, "scrypt parameters need more than 1 GiB of memory");
  } else if (kdf === "pbkdf2") {
    int("c");
    if (params.prf !== "hmac-sha256") throw malformed(file, "field crypto.kdfparams.prf must be \"hmac-sha256\"");
  } else {
    throw malformed(file, "field crypto.kdf must be \"scrypt\" or \"pbkdf2\"");
  }
  if (obj.address === undefined) return null;
  if (typeof obj.address !== "string" || !/^(0x)?[0-9a-fA-F]{40}$/.test(obj.address)) {
    throw malformed(file, "field address must be a 20-byte hex address");
  }
  return `0x${obj.address.replace(/^0x/, "").toLowerCase()}`;
}

async function readKeystoreText(file: string): Promise<string> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new Error("not a regular file");
    if (s.size > MAX_KEYSTORE_BYTES) throw new Error(`${s.size} bytes is too large for a keystore`);
    return await readFile(file, "utf8");
  } catch (e) {
    throw new KeystoreError({ code: KeystoreErrorCode.FILE_UNREADABLE, file }, `cannot read keystore ${file}: ${(e as Error).message}`);
  }
}

/** Decrypts keystore JSON text (ours, geth's or ethers'); `file` names it in errors. */
export async function decryptKeystore(text: string, password: string, file: string): Promise<KeystoreKey> {
  checkKeystoreJson(text, file);
  let account: { address: string; privateKey: string };
  try {
    account = await decryptKeystoreJson(text, password);
  } catch (e) {
    const err = e as { argument?: unknown; shortMessage?: unknown; message?: unknown };
    if (err.argument === "password") {
      throw new KeystoreError({ code: KeystoreErrorCode.WRONG_PASSWORD, file }, `wrong password for keystore ${file}`);
    }
    // ethers' short messages name the problem without values ("keystore address/privateKey mismatch")
    const problem = typeof err.shortMessage === "string" ? err.shortMessage : "cannot be decrypted";
    throw malformed(file, problem);
  }
  return { address: account.address.toLowerCase() as Hex, privateKey: hexToBytes(account.privateKey as Hex) };
}

/** Opens a keystore file with its password; throws KeystoreError ("wrong password for keystore <file>", malformed, unreadable). */
export async function loadKeystore(file: string, password: string): Promise<KeystoreKey> {
  return decryptKeystore(await readKeystoreText(file), password, file);
}

/** The keystore files in `dir` (sorted by name, so oldest first for geth-named files); an absent folder is empty. */
export async function listKeystores(dir: string): Promise<KeystoreEntry[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new KeystoreError({ code: KeystoreErrorCode.FILE_UNREADABLE, file: dir }, `cannot read keystore folder ${dir}: ${(e as Error).message}`);
  }
  const entries: KeystoreEntry[] = [];
  // hidden files are editor backups and our own temporaries, as geth skips them
  for (const name of names.filter((n) => !n.startsWith(".")).sort()) {
    const file = join(dir, name);
    try {
      const s = await stat(file);
      if (!s.isFile()) continue;
      const address = checkKeystoreJson(await readKeystoreText(file), file);
      entries.push(address ? { file, address } : { file, address: null, problem: "names no address" });
    } catch (e) {
      entries.push({ file, address: null, problem: (e as Error).message });
    }
  }
  return entries;
}
