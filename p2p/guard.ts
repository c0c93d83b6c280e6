import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { chmod, link, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { inspect } from "node:util";
import { generateKeyPair, generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { Ed25519PrivateKey, PeerId } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { NodeError } from "../chain/index.js";
import { GUARD_KEY_FILE, ONION_KEY_FILE } from "./defaults.js";

// The Guard identity: the node's network identity, kept apart from every Real ID (wallet key).
// Both keys are made from fresh randomness here and from nothing else; this module imports no
// wallet or keystore code, so no Guard key can be derived from a Real ID or the reverse.
//
// Files (in the data dir, each mode 0600, the data dir created with mode 0700):
//   guard.key  the Ed25519 libp2p peer key as libp2p's PrivateKey protobuf
//              (privateKeyToProtobuf: type Ed25519, 64 bytes seed || public key), 68 bytes.
//   onion.key  the X25519 onion key as PKCS#8 DER (48 bytes; `openssl pkey -inform DER` reads it).
// A key file readable or writable by group or others is refused (like ssh does), never fixed
// silently: a key that others could read may be known to them, and only its owner can judge that.

/** Error codes of loading and writing the Guard identity. */
export const GuardErrorCode = {
  /** A key file is not what it should be: bad encoding, truncated, trailing bytes, inconsistent key. */
  MALFORMED: "GUARD_KEY_MALFORMED",
  /** A key file holds a key of another type (guard.key not Ed25519, onion.key not X25519). */
  WRONG_KEY_TYPE: "GUARD_KEY_WRONG_TYPE",
  /** A key file is readable or writable by group or others. */
  LOOSE_PERMISSIONS: "GUARD_KEY_LOOSE_PERMISSIONS",
  /** onion.key exists without guard.key: creating a Guard key beside it would link two identities. */
  ONION_WITHOUT_GUARD: "GUARD_ONION_WITHOUT_GUARD",
  /** A key file or the data dir cannot be read or written. */
  FILE_ERROR: "GUARD_FILE_ERROR",
} as const;
/** One of GuardErrorCode. */
export type GuardErrorCode = (typeof GuardErrorCode)[keyof typeof GuardErrorCode];

/** The Guard identity cannot be loaded or written; the message names the file, never key bytes. */
export class GuardError extends NodeError<{ code: GuardErrorCode; file: string }> {}

/** Paths of the Guard identity's files in a data dir. */
export interface GuardFiles {
  /** `<datadir>/guard.key`: the Ed25519 libp2p peer key. */
  guard: string;
  /** `<datadir>/onion.key`: the X25519 onion key. */
  onion: string;
}

/** Where the Guard identity of a data dir lives. */
export function guardFiles(datadir: string): GuardFiles {
  return { guard: join(datadir, GUARD_KEY_FILE), onion: join(datadir, ONION_KEY_FILE) };
}

/**
 * A node's Guard identity: the libp2p peer key (its Guard ID) and the X25519 onion key. Only public
 * parts show in JSON (so in logs) and in `util.inspect`; the private keys are there for libp2p and
 * the onion layer.
 */
export class GuardIdentity {
  /** The Ed25519 libp2p private key, to give libp2p as `privateKey`. */
  readonly privateKey: Ed25519PrivateKey;
  /** The libp2p peer id of `privateKey`. */
  readonly peerId: PeerId;
  /** The Guard ID: the peer id as text (`12D3KooW…`). */
  readonly guardId: string;
  /** The X25519 onion public key, 32 raw bytes. */
  readonly onionPublicKey: Uint8Array;
  /** The X25519 onion private key, 32 raw bytes (RFC 7748 scalar, as @noble/curves takes it). */
  readonly onionPrivateKey: Uint8Array;
  /** The same onion private key as a node:crypto KeyObject (for `diffieHellman`). */
  readonly onionKeyObject: KeyObject;
  /** The files it was read from or written to. */
  readonly files: GuardFiles;

  constructor(privateKey: Ed25519PrivateKey, onionKeyObject: KeyObject, files: GuardFiles) {
    this.privateKey = privateKey;
    this.peerId = peerIdFromPrivateKey(privateKey);
    this.guardId = this.peerId.toString();
    const jwk = onionKeyObject.export({ format: "jwk" });
    this.onionPrivateKey = new Uint8Array(Buffer.from(jwk.d!, "base64url"));
    this.onionPublicKey = new Uint8Array(Buffer.from(jwk.x!, "base64url"));
    this.onionKeyObject = onionKeyObject;
    this.files = files;
  }

  /** The onion public key as 64 lowercase hex digits (no 0x). */
  get onionPublicKeyHex(): string {
    return Buffer.from(this.onionPublicKey).toString("hex");
  }

  /** Public parts only, so logging the identity never writes a private key. */
  toJSON(): { guardId: string; onionPublicKey: string; files: GuardFiles } {
    return { guardId: this.guardId, onionPublicKey: this.onionPublicKeyHex, files: this.files };
  }

  [inspect.custom](): string {
    return `GuardIdentity ${this.guardId}`;
  }
}

/** The result of loading the Guard identity of a data dir. */
export interface LoadedGuard {
  identity: GuardIdentity;
  /** True when the Guard key did not exist and was created now (first start). */
  created: boolean;
}

/** The result of rotating the Guard identity. */
export interface RotatedGuard {
  identity: GuardIdentity;
  /** The Guard ID before rotation, or null when there was no readable Guard key. */
  previousGuardId: string | null;
  /** Where the old files were kept (`<file>.<time>.bak`, mode 0600); empty when there were none. */
  backups: string[];
}

// Both files are well under a kilobyte; anything bigger is not a key file and is not read.
const MAX_KEY_FILE_BYTES = 4096;

function fileError(file: string, action: string, e: unknown): GuardError {
  return new GuardError({ code: GuardErrorCode.FILE_ERROR, file }, `cannot ${action} ${file}: ${(e as Error).message}`);
}

function malformed(file: string, problem: string): GuardError {
  return new GuardError({ code: GuardErrorCode.MALFORMED, file }, `key file ${file} is malformed: ${problem}`);
}

function wrongType(file: string, problem: string): GuardError {
  return new GuardError({ code: GuardErrorCode.WRONG_KEY_TYPE, file }, `key file ${file} holds the wrong kind of key: ${problem}`);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The bytes of a key file, or null when it does not exist; refuses non-files, huge files and loose modes. */
async function readKeyFile(file: string): Promise<Uint8Array | null> {
  let fh;
  try {
    // non-blocking: opening a named pipe for reading would otherwise wait for a writer forever
    fh = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw fileError(file, "read", e);
  }
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw malformed(file, "not a regular file");
    // Windows has no POSIX modes to check
    if (process.platform !== "win32" && (s.mode & 0o077) !== 0) {
      throw new GuardError(
        { code: GuardErrorCode.LOOSE_PERMISSIONS, file },
        `key file ${file} has mode ${(s.mode & 0o777).toString(8).padStart(4, "0")}, readable or writable by others; ` +
          `if nobody else could have read it, run: chmod 600 ${file} (otherwise: vs1984 guard rotate)`,
      );
    }
    if (s.size > MAX_KEY_FILE_BYTES) throw malformed(file, `${s.size} bytes is too large for a key file`);
    return new Uint8Array(await fh.readFile());
  } catch (e) {
    throw e instanceof GuardError ? e : fileError(file, "read", e);
  } finally {
    await fh.close();
  }
}

/** Decodes guard.key: a libp2p PrivateKey protobuf of an Ed25519 key whose public half matches its seed. */
async function decodeGuardKey(bytes: Uint8Array, file: string): Promise<Ed25519PrivateKey> {
  if (bytes.length === 0) throw malformed(file, "the file is empty");
  let key;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (e) {
    const message = (e as Error).message;
    if ((e as Error).name === "UnsupportedKeyTypeError") throw wrongType(file, "not an Ed25519 libp2p key");
    throw malformed(file, `not a libp2p private key protobuf (${message})`);
  }
  if (key.type !== "Ed25519") throw wrongType(file, `a ${key.type} key, the Guard key must be Ed25519`);
  // protobuf decoding skips unknown fields and libp2p takes the stored public half as it is:
  // demand the exact encoding we write and a public key that belongs to the seed
  if (!equalBytes(privateKeyToProtobuf(key), bytes)) throw malformed(file, "extra or non-canonical bytes");
  const fromSeed = await generateKeyPairFromSeed("Ed25519", key.raw.subarray(0, 32));
  if (!fromSeed.publicKey.equals(key.publicKey)) throw malformed(file, "its public key does not belong to its private key");
  return key;
}

/** Decodes onion.key: PKCS#8 DER of an X25519 private key. */
function decodeOnionKey(bytes: Uint8Array, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(bytes), format: "der", type: "pkcs8" });
  } catch {
    throw malformed(file, "not a PKCS#8 DER private key");
  }
  if (key.asymmetricKeyType !== "x25519") throw wrongType(file, `a ${key.asymmetricKeyType ?? "unknown"} key, the onion key must be X25519`);
  if (!equalBytes(key.export({ format: "der", type: "pkcs8" }), bytes)) throw malformed(file, "extra or non-canonical bytes");
  return key;
}

function encodeOnionKey(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: "der", type: "pkcs8" }));
}

function newOnionKey(): KeyObject {
  return generateKeyPairSync("x25519").privateKey;
}

/**
 * Writes a key file atomically: a hidden temporary file with mode 0600, synced, then put in place.
 * With `replace` it is renamed over the old file; without, it is linked and an existing file wins
 * (returns false), so two processes creating the identity at once end up with the same one.
 */
async function writeKeyFile(file: string, bytes: Uint8Array, replace: boolean): Promise<boolean> {
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.chmod(0o600); // the umask may only clear bits, but be explicit
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (replace) {
      await rename(tmp, file);
      return true;
    }
    try {
      await link(tmp, file);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e;
    }
  } catch (e) {
    throw fileError(file, "write", e);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function ensureDatadir(datadir: string): Promise<void> {
  try {
    // mode applies only to folders created now; an existing data dir keeps the mode its owner gave it
    await mkdir(datadir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw fileError(datadir, "create the data dir", e);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw fileError(file, "read", e);
  }
}

/**
 * Loads the Guard identity of `datadir`, creating it on first use (the data dir too, mode 0700).
 * A missing onion.key beside an existing guard.key is created; an onion.key without guard.key is
 * refused. A corrupt, wrong-type or loosely-permitted key file is refused, never replaced.
 */
export async function loadOrCreateGuard(datadir: string): Promise<LoadedGuard> {
  const files = guardFiles(datadir);
  await ensureDatadir(datadir);
  let created = false;
  let guardBytes = await readKeyFile(files.guard);
  if (guardBytes === null) {
    if (await exists(files.onion)) {
      throw new GuardError(
        { code: GuardErrorCode.ONION_WITHOUT_GUARD, file: files.onion },
        `${files.onion} exists but ${files.guard} does not: a new Guard key beside an old onion key would link two identities; ` +
          `move ${files.onion} away or run vs1984 guard rotate`,
      );
    }
    created = await writeKeyFile(files.guard, privateKeyToProtobuf(await generateKeyPair("Ed25519")), false);
    // when another process created it first, use theirs
    guardBytes = await readKeyFile(files.guard);
    if (guardBytes === null) throw fileError(files.guard, "read", new Error("it disappeared right after it was written"));
  }
  const privateKey = await decodeGuardKey(guardBytes, files.guard);
  let onionBytes = await readKeyFile(files.onion);
  if (onionBytes === null) {
    await writeKeyFile(files.onion, encodeOnionKey(newOnionKey()), false);
    onionBytes = await readKeyFile(files.onion);
    if (onionBytes === null) throw fileError(files.onion, "read", new Error("it disappeared right after it was written"));
  }
  return { identity: new GuardIdentity(privateKey, decodeOnionKey(onionBytes, files.onion), files), created };
}

/** A backup name for `file` at `when`: `<file>.<ISO time with '-' for ':'>.bak`. */
function backupName(file: string, when: Date): string {
  return `${file}.${when.toISOString().replace(/:/g, "-")}.bak`;
}

/**
 * Makes a new Guard identity for `datadir` (new Guard key and new onion key): peers see a new node.
 * The old files, readable or not, are kept as `<file>.<time>.bak` (mode 0600), never overwritten.
 * The caller makes sure no node runs on the data dir (it would keep using the old identity).
 */
export async function rotateGuard(datadir: string, now: Date = new Date()): Promise<RotatedGuard> {
  const files = guardFiles(datadir);
  await ensureDatadir(datadir);
  let previousGuardId: string | null = null;
  try {
    const old = await readKeyFile(files.guard);
    if (old) previousGuardId = peerIdFromPrivateKey(await decodeGuardKey(old, files.guard)).toString();
  } catch (e) {
    // a broken old key is one more reason to rotate; it is still kept in the backup
    if (!(e instanceof GuardError) || e.code === GuardErrorCode.FILE_ERROR) throw e;
  }
  const backups: string[] = [];
  for (const file of [files.guard, files.onion]) {
    if (!(await exists(file))) continue;
    const backup = backupName(file, now);
    try {
      await link(file, backup); // refuses to overwrite an older backup
      await chmod(backup, 0o600);
    } catch (e) {
      throw fileError(backup, "keep a backup at", e);
    }
    backups.push(backup);
  }
  // The onion key first: a crash in between leaves the old Guard ID with a new onion key (a rotation
  // to finish by running it again), never a new Guard ID still tied to the old onion key.
  const onion = newOnionKey();
  await writeKeyFile(files.onion, encodeOnionKey(onion), true);
  const privateKey = await generateKeyPair("Ed25519");
  await writeKeyFile(files.guard, privateKeyToProtobuf(privateKey), true);
  return { identity: new GuardIdentity(privateKey, onion, files), previousGuardId, backups };
}
