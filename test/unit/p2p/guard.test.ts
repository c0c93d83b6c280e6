import { describe, expect, it } from "@jest/globals";
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmod, readFile, readdir, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { inspect } from "node:util";
import fc from "fast-check";
import { generateKeyPair, generateKeyPairFromSeed, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak256 } from "../../../chain/index.js";
import { GUARD_KEY_FILE, GuardErrorCode, ONION_KEY_FILE, guardFiles, loadOrCreateGuard, rotateGuard } from "../../../p2p/index.js";
import { keystoreDir, writeKeystore } from "../../../node/keystore.js";
import { devWallet, keyOf, tempDir, withTempDir } from "../../helpers/ledger.js";
import { rejection } from "../../helpers/rejection.js";

const SOURCE = join(new URL(".", import.meta.url).pathname, "../../../p2p/guard.ts");

const withDir = <T>(fn: (dir: string) => Promise<T>): Promise<T> => withTempDir("vs1984-guard-", fn);

async function mode(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** A valid guard.key of a fresh Ed25519 key. */
async function guardKeyBytes(): Promise<Uint8Array> {
  return privateKeyToProtobuf(await generateKeyPair("Ed25519"));
}

describe("Guard identity files", () => {
  it("creates guard.key and onion.key with mode 0600 on first load, in a new 0700 data dir", () =>
    withDir(async (root) => {
      const datadir = join(root, "new", "datadir");
      const { identity, created } = await loadOrCreateGuard(datadir);
      expect(created).toBe(true);
      expect(await mode(datadir)).toBe(0o700);
      const files = guardFiles(datadir);
      expect(files).toEqual({ guard: join(datadir, GUARD_KEY_FILE), onion: join(datadir, ONION_KEY_FILE) });
      expect(await mode(files.guard)).toBe(0o600);
      expect(await mode(files.onion)).toBe(0o600);
      expect((await readdir(datadir)).sort()).toEqual(["guard.key", "onion.key"]); // no temporaries left

      // guard.key: libp2p's protobuf of an Ed25519 key whose peer id is the Guard ID
      const guardBytes = await readFile(files.guard);
      expect(guardBytes.length).toBe(68);
      const key = privateKeyFromProtobuf(guardBytes);
      expect(key.type).toBe("Ed25519");
      expect(peerIdFromPrivateKey(key).toString()).toBe(identity.guardId);
      expect(identity.guardId).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/);
      expect(identity.privateKey.equals(key)).toBe(true);
      expect(identity.peerId.toString()).toBe(identity.guardId);

      // onion.key: PKCS#8 DER of an X25519 key whose public half is the one exported
      const onion = createPrivateKey({ key: await readFile(files.onion), format: "der", type: "pkcs8" });
      expect(onion.asymmetricKeyType).toBe("x25519");
      const x = createPublicKey(onion).export({ format: "jwk" }).x!;
      expect(hex(identity.onionPublicKey)).toBe(Buffer.from(x, "base64url").toString("hex"));
      expect(identity.onionPublicKeyHex).toMatch(/^[0-9a-f]{64}$/);
      expect(identity.onionPrivateKey).toHaveLength(32);
      expect(identity.onionKeyObject.asymmetricKeyType).toBe("x25519");
    }));

  it("loads the same Guard ID and onion key again, without rewriting the files", () =>
    withDir(async (datadir) => {
      const first = await loadOrCreateGuard(datadir);
      const before = await readFile(guardFiles(datadir).guard);
      const second = await loadOrCreateGuard(datadir);
      expect(second.created).toBe(false);
      expect(second.identity.guardId).toBe(first.identity.guardId);
      expect(second.identity.onionPublicKeyHex).toBe(first.identity.onionPublicKeyHex);
      expect(hex(second.identity.onionPrivateKey)).toBe(hex(first.identity.onionPrivateKey));
      expect(await readFile(guardFiles(datadir).guard)).toEqual(before);
    }));

  it("creates a missing onion key beside an existing Guard key, keeping the Guard ID", () =>
    withDir(async (datadir) => {
      const { identity } = await loadOrCreateGuard(datadir);
      await unlink(guardFiles(datadir).onion);
      const again = await loadOrCreateGuard(datadir);
      expect(again.created).toBe(false);
      expect(again.identity.guardId).toBe(identity.guardId);
      expect(again.identity.onionPublicKeyHex).not.toBe(identity.onionPublicKeyHex);
      expect(await mode(guardFiles(datadir).onion)).toBe(0o600);
    }));

  it("refuses an onion key without a Guard key instead of tying a new Guard ID to it", () =>
    withDir(async (datadir) => {
      await loadOrCreateGuard(datadir);
      const files = guardFiles(datadir);
      await unlink(files.guard);
      const err = await rejection(loadOrCreateGuard(datadir));
      expect(err.code).toBe(GuardErrorCode.ONION_WITHOUT_GUARD);
      expect(err.message).toContain(files.onion);
      expect(await readdir(datadir)).toEqual(["onion.key"]);
    }));

  it("keeps private keys out of JSON and util.inspect", () =>
    withDir(async (datadir) => {
      const { identity } = await loadOrCreateGuard(datadir);
      const json = JSON.stringify({ identity });
      const shown = inspect(identity, { depth: 5 });
      for (const text of [json, shown]) {
        expect(text).toContain(identity.guardId);
        expect(text).not.toContain(hex(identity.onionPrivateKey));
        expect(text).not.toContain(hex(identity.privateKey.raw.subarray(0, 32)));
      }
      expect(JSON.parse(json).identity).toEqual({ guardId: identity.guardId, onionPublicKey: identity.onionPublicKeyHex, files: guardFiles(datadir) });
    }));
});

describe("bad Guard key files", () => {
  const secp = async (): Promise<Uint8Array> => privateKeyToProtobuf(await generateKeyPair("secp256k1"));
  const mismatched = async (): Promise<Uint8Array> => {
    const bytes = await guardKeyBytes();
    const other = await guardKeyBytes();
    bytes.set(other.subarray(36), 36); // another key's public half
    return bytes;
  };
  const guardCases: [string, () => Promise<Uint8Array>, string, RegExp][] = [
    ["an empty file", async () => new Uint8Array(), GuardErrorCode.MALFORMED, /is malformed: the file is empty/],
    ["a truncated key", async () => (await guardKeyBytes()).subarray(0, 40), GuardErrorCode.MALFORMED, /is malformed/],
    ["a key with a trailing byte", async () => Uint8Array.from([...(await guardKeyBytes()), 0]), GuardErrorCode.MALFORMED, /is malformed/],
    ["text", async () => new TextEncoder().encode("not a key at all\n"), GuardErrorCode.MALFORMED, /is malformed/],
    ["a public key that is not the private key's", mismatched, GuardErrorCode.MALFORMED, /public key does not belong to its private key/],
    ["a secp256k1 libp2p key", secp, GuardErrorCode.WRONG_KEY_TYPE, /holds the wrong kind of key: a secp256k1 key, the Guard key must be Ed25519/],
  ];
  it.each(guardCases)("refuses guard.key holding %s, naming the file and leaving it as it was", (_, make, code, message) =>
    withDir(async (datadir) => {
      await loadOrCreateGuard(datadir);
      const file = guardFiles(datadir).guard;
      const bytes = await make();
      await writeFile(file, bytes);
      const err = await rejection(loadOrCreateGuard(datadir));
      expect(err.name).toBe("NodeError");
      expect(err.code).toBe(code);
      expect(err.message).toContain(file);
      expect(err.message).toMatch(message);
      expect(new Uint8Array(await readFile(file))).toEqual(bytes);
    }),
  );

  const ed25519Pkcs8 = (): Uint8Array => new Uint8Array(generateKeyPairSync("ed25519").privateKey.export({ format: "der", type: "pkcs8" }));
  const x25519Pkcs8 = (): Uint8Array => new Uint8Array(generateKeyPairSync("x25519").privateKey.export({ format: "der", type: "pkcs8" }));
  const onionCases: [string, () => Uint8Array, string, RegExp][] = [
    ["an empty file", () => new Uint8Array(), GuardErrorCode.MALFORMED, /is malformed: not a PKCS#8 DER private key/],
    ["a truncated key", () => x25519Pkcs8().subarray(0, 30), GuardErrorCode.MALFORMED, /is malformed/],
    ["a PEM file", () => new TextEncoder().encode(generateKeyPairSync("x25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string), GuardErrorCode.MALFORMED, /is malformed/],
    ["a key with trailing bytes", () => Uint8Array.from([...x25519Pkcs8(), 0, 0]), GuardErrorCode.MALFORMED, /is malformed/],
    ["an Ed25519 key", ed25519Pkcs8, GuardErrorCode.WRONG_KEY_TYPE, /a ed25519 key, the onion key must be X25519/],
  ];
  it.each(onionCases)("refuses onion.key holding %s, naming the file and leaving it as it was", (_, make, code, message) =>
    withDir(async (datadir) => {
      await loadOrCreateGuard(datadir);
      const file = guardFiles(datadir).onion;
      const bytes = make();
      await writeFile(file, bytes);
      const err = await rejection(loadOrCreateGuard(datadir));
      expect(err.code).toBe(code);
      expect(err.message).toContain(file);
      expect(err.message).toMatch(message);
      expect(new Uint8Array(await readFile(file))).toEqual(bytes);
    }),
  );

  it("refuses every guard.key with one byte changed", async () => {
    const [datadir, remove] = tempDir("vs1984-guard-");
    try {
      const good = await guardKeyBytes();
      const file = guardFiles(datadir).guard;
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), async (i, delta) => {
          const bad = Uint8Array.from(good);
          bad[i] = (bad[i]! + delta) & 0xff;
          await writeFile(file, bad, { mode: 0o600 });
          const err = await rejection(loadOrCreateGuard(datadir));
          expect([GuardErrorCode.MALFORMED, GuardErrorCode.WRONG_KEY_TYPE]).toContain(err.code);
          expect(new Uint8Array(await readFile(file))).toEqual(bad);
        }),
        { numRuns: 100 },
      );
    } finally {
      remove();
    }
  });

  it("refuses random bytes as guard.key with a GuardError, never another error", async () => {
    const [datadir, remove] = tempDir("vs1984-guard-");
    try {
      const file = guardFiles(datadir).guard;
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
          await writeFile(file, bytes, { mode: 0o600 });
          const err = await rejection(loadOrCreateGuard(datadir));
          expect([GuardErrorCode.MALFORMED, GuardErrorCode.WRONG_KEY_TYPE]).toContain(err.code);
        }),
        { numRuns: 100 },
      );
    } finally {
      remove();
    }
  });

  it("refuses a key file readable by others, leaving its mode alone", () =>
    withDir(async (datadir) => {
      const { identity } = await loadOrCreateGuard(datadir);
      const { guard, onion } = guardFiles(datadir);
      for (const [file, loose] of [[guard, 0o644], [onion, 0o660]] as const) {
        await chmod(file, loose);
        const err = await rejection(loadOrCreateGuard(datadir));
        expect(err.code).toBe(GuardErrorCode.LOOSE_PERMISSIONS);
        expect(err.message).toContain(`key file ${file} has mode 0${loose.toString(8)}`);
        expect(err.message).toContain(`chmod 600 ${file}`);
        expect(await mode(file)).toBe(loose);
        await chmod(file, 0o600);
      }
      await chmod(guard, 0o400); // stricter than 0600 is fine
      expect((await loadOrCreateGuard(datadir)).identity.guardId).toBe(identity.guardId);
    }));
});

describe("rotateGuard", () => {
  it("makes a new Guard ID and onion key and keeps the old files as 0600 backups", () =>
    withDir(async (datadir) => {
      const { identity: old } = await loadOrCreateGuard(datadir);
      const files = guardFiles(datadir);
      const oldGuard = await readFile(files.guard);
      const oldOnion = await readFile(files.onion);
      const now = new Date("2026-01-02T03:04:05.006Z");
      const rotated = await rotateGuard(datadir, now);
      expect(rotated.previousGuardId).toBe(old.guardId);
      expect(rotated.identity.guardId).not.toBe(old.guardId);
      expect(rotated.identity.onionPublicKeyHex).not.toBe(old.onionPublicKeyHex);
      expect(rotated.backups).toEqual([`${files.guard}.2026-01-02T03-04-05.006Z.bak`, `${files.onion}.2026-01-02T03-04-05.006Z.bak`]);
      expect(await readFile(rotated.backups[0]!)).toEqual(oldGuard);
      expect(await readFile(rotated.backups[1]!)).toEqual(oldOnion);
      for (const f of [...rotated.backups, files.guard, files.onion]) expect(await mode(f)).toBe(0o600);
      expect((await readdir(datadir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);

      const loaded = await loadOrCreateGuard(datadir);
      expect(loaded.created).toBe(false);
      expect(loaded.identity.guardId).toBe(rotated.identity.guardId);
      expect(loaded.identity.onionPublicKeyHex).toBe(rotated.identity.onionPublicKeyHex);
    }));

  it("never overwrites an older backup", () =>
    withDir(async (datadir) => {
      const now = new Date("2026-01-02T03:04:05.006Z");
      await loadOrCreateGuard(datadir);
      const first = await rotateGuard(datadir, now);
      const backup = await readFile(first.backups[0]!);
      const current = await readFile(guardFiles(datadir).guard);
      const err = await rejection(rotateGuard(datadir, now));
      expect(err.code).toBe(GuardErrorCode.FILE_ERROR);
      expect(err.message).toContain(`cannot keep a backup at ${first.backups[0]}`);
      expect(await readFile(first.backups[0]!)).toEqual(backup);
      expect(await readFile(guardFiles(datadir).guard)).toEqual(current);
    }));

  it("replaces a corrupt Guard key, keeping it in the backup", () =>
    withDir(async (datadir) => {
      await loadOrCreateGuard(datadir);
      await writeFile(guardFiles(datadir).guard, "garbage");
      const rotated = await rotateGuard(datadir);
      expect(rotated.previousGuardId).toBeNull();
      expect(await readFile(rotated.backups[0]!, "utf8")).toBe("garbage");
      expect((await loadOrCreateGuard(datadir)).identity.guardId).toBe(rotated.identity.guardId);
    }));

  it("creates an identity where there was none, with no backups", () =>
    withDir(async (datadir) => {
      const rotated = await rotateGuard(join(datadir, "fresh"));
      expect(rotated.previousGuardId).toBeNull();
      expect(rotated.backups).toEqual([]);
      expect((await loadOrCreateGuard(join(datadir, "fresh"))).identity.guardId).toBe(rotated.identity.guardId);
    }));
});

describe("Guard ID and Real ID are never linked", () => {
  it("p2p/guard.ts imports no wallet, keystore or secp256k1 code", async () => {
    const source = await readFile(SOURCE, "utf8");
    const imports = [...source.matchAll(/^import[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]!);
    expect(imports.length).toBeGreaterThan(0);
    const allowed = /^(node:[a-z/]+|@libp2p\/(crypto\/keys|interface|peer-id)|\.\.\/chain\/index\.js|\.\/defaults\.js)$/;
    expect(imports.filter((m) => !allowed.test(m))).toEqual([]);
  });

  it("gives a data dir holding a wallet keystore a Guard key unrelated to the wallet key", () =>
    withDir(async (datadir) => {
      const wallet = devWallet(0);
      const walletKey = keyOf(wallet);
      await writeKeystore(keystoreDir(datadir), walletKey, "pw", { scryptN: 1024 });
      const { identity } = await loadOrCreateGuard(datadir);
      const seed = identity.privateKey.raw.subarray(0, 32);
      // no obvious derivation: the key itself, or its hashes, as the Ed25519 seed or the onion key
      for (const candidate of [walletKey, sha256(walletKey), keccak256(walletKey)]) {
        expect(hex(seed)).not.toBe(hex(candidate));
        expect(hex(identity.onionPrivateKey)).not.toBe(hex(candidate));
        const derived = await generateKeyPairFromSeed("Ed25519", candidate);
        expect(peerIdFromPrivateKey(derived).toString()).not.toBe(identity.guardId);
      }
      expect(identity.guardId).not.toContain(wallet.address.slice(2).toLowerCase());
    }));

  it("gives two fresh data dirs different Guard IDs and onion keys", () =>
    withDir(async (root) => {
      const a = (await loadOrCreateGuard(join(root, "a"))).identity;
      const b = (await loadOrCreateGuard(join(root, "b"))).identity;
      expect(a.guardId).not.toBe(b.guardId);
      expect(a.onionPublicKeyHex).not.toBe(b.onionPublicKeyHex);
    }));
});
