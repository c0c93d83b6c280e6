import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Hex } from "../../../../chain/index.js";
import { KeystoreErrorCode } from "../../../../node/keystore.js";
import { generateContentKey, keyCommitment } from "../../../../node/content/contentCipher.js";
import { ContentErrorCode } from "../../../../node/content/contentError.js";
import {
  contentKeyFile,
  contentKeysDir,
  decryptContentKeyJson,
  encryptContentKeyJson,
  hasContentKey,
  loadContentKey,
  storeContentKey,
} from "../../../../node/content/keyStore.js";
import { tempDir } from "../../../helpers/ledger.js";

// Low scrypt cost: these tests check the format, not the key stretching.
const FAST = { scryptN: 1024 };
const PASSWORD = "correct horse";

function contentHash(): Hex {
  return `0x${randomBytes(32).toString("hex")}`;
}

/** What a rejection must match: its code, and its message matching `message`. */
function failure(code: string, message: RegExp | string): Record<string, unknown> {
  return { code, message: typeof message === "string" ? expect.stringContaining(message) : expect.stringMatching(message) };
}

describe("content key store", () => {
  let datadir = "";
  let remove = (): void => undefined;
  beforeEach(() => {
    [datadir, remove] = tempDir("vs1984-content-keys-");
  });
  afterEach(() => remove());

  it("stores a key in <datadir>/content-keys/<hash>.json (folder 0700, file 0600) and loads it back", async () => {
    const key = generateContentKey();
    const hash = contentHash();
    expect(await hasContentKey(datadir, hash)).toBe(false);
    const file = await storeContentKey(datadir, hash, key, PASSWORD, FAST);
    expect(file).toBe(join(datadir, "content-keys", `${hash.slice(2)}.json`));
    expect(file).toBe(contentKeyFile(datadir, hash));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(contentKeysDir(datadir))).mode & 0o777).toBe(0o700);
    expect(await readdir(contentKeysDir(datadir))).toEqual([`${hash.slice(2)}.json`]); // no temporary left
    expect(await hasContentKey(datadir, hash)).toBe(true);
    expect(await loadContentKey(datadir, hash, PASSWORD)).toEqual(key);
    // upper-case hex names the same content
    expect(await loadContentKey(datadir, hash.toUpperCase().replace("0X", "0x") as Hex, PASSWORD)).toEqual(key);
  });

  it("writes the documented JSON, with the key nowhere in clear", async () => {
    const key = generateContentKey();
    const hash = contentHash();
    const text = await encryptContentKeyJson(key, hash, PASSWORD, FAST);
    const json = JSON.parse(text) as Record<string, unknown>;
    expect(json).toMatchObject({
      version: 1,
      kind: "vs1984-content-key",
      contentHash: hash,
      keyCommitment: keyCommitment(key),
      crypto: { cipher: "aes-256-gcm", kdf: "scrypt", kdfparams: { n: 1024, r: 8, p: 1, dklen: 32 } },
    });
    expect(text).not.toContain(Buffer.from(key).toString("hex"));
  });

  it("uses the account keystores' scrypt cost by default (N = 2^17)", async () => {
    const json = JSON.parse(await encryptContentKeyJson(generateContentKey(), contentHash(), PASSWORD)) as { crypto: { kdfparams: { n: number } } };
    expect(json.crypto.kdfparams.n).toBe(2 ** 17);
  });

  it("refuses a wrong password as KEYSTORE_WRONG_PASSWORD", async () => {
    const hash = contentHash();
    await storeContentKey(datadir, hash, generateContentKey(), PASSWORD, FAST);
    await expect(loadContentKey(datadir, hash, "wrong")).rejects.toMatchObject(failure(KeystoreErrorCode.WRONG_PASSWORD, /^wrong password for content key file /));
  });

  it("never writes over a stored key", async () => {
    const hash = contentHash();
    const key = generateContentKey();
    await storeContentKey(datadir, hash, key, PASSWORD, FAST);
    await expect(storeContentKey(datadir, hash, generateContentKey(), PASSWORD, FAST)).rejects.toMatchObject(failure(KeystoreErrorCode.FILE_UNREADABLE, /already stored/));
    expect(await loadContentKey(datadir, hash, PASSWORD)).toEqual(key);
    expect(await readdir(contentKeysDir(datadir))).toHaveLength(1);
  });

  it("says when no key is stored for a content", async () => {
    const hash = contentHash();
    await expect(loadContentKey(datadir, hash, PASSWORD)).rejects.toMatchObject(failure(KeystoreErrorCode.FILE_UNREADABLE, `no key stored for content ${hash}`));
  });

  it("refuses a content hash that is not 32 bytes of hex (it becomes a file name)", async () => {
    for (const bad of ["0x../../etc/passwd", "0x1234", `${"ab".repeat(32)}`]) {
      await expect(storeContentKey("unused-datadir", bad as Hex, generateContentKey(), PASSWORD, FAST)).rejects.toMatchObject({ code: ContentErrorCode.INVALID_ARGUMENT });
    }
    await expect(encryptContentKeyJson(new Uint8Array(31), contentHash(), PASSWORD, FAST)).rejects.toMatchObject({ code: ContentErrorCode.INVALID_ARGUMENT });
  });

  it("does not open a key file copied under another content's name", async () => {
    const [a, b] = [contentHash(), contentHash()];
    await storeContentKey(datadir, a, generateContentKey(), PASSWORD, FAST);
    await writeFile(contentKeyFile(datadir, b), await readFile(contentKeyFile(datadir, a)));
    await expect(loadContentKey(datadir, b, PASSWORD)).rejects.toMatchObject(failure(KeystoreErrorCode.MALFORMED, /holds the key of content/));
  });

  it("calls a corrupt file malformed, naming the field", async () => {
    const hash = contentHash();
    const good = JSON.parse(await encryptContentKeyJson(generateContentKey(), hash, PASSWORD, FAST)) as Record<string, Record<string, unknown>>;
    const edit = (fn: (j: Record<string, Record<string, unknown>>) => void): string => {
      const copy = structuredClone(good);
      fn(copy);
      return JSON.stringify(copy);
    };
    const cases: [string, RegExp][] = [
      ["{not json", /not valid JSON/],
      ["[]", /must be a JSON object/],
      [edit((j) => ((j as Record<string, unknown>).version = 3)), /field version must be 1/],
      [edit((j) => ((j as Record<string, unknown>).kind = "other")), /field kind/],
      [edit((j) => ((j as Record<string, unknown>).keyCommitment = "0x12")), /field keyCommitment/],
      [edit((j) => (j.crypto!.cipher = "aes-128-ctr")), /field crypto.cipher/],
      [edit((j) => (j.crypto!.ciphertext = "abcd")), /field crypto.ciphertext must be 32 bytes, got 2/],
      [edit((j) => (j.crypto!.tag = "zz")), /field crypto.tag must be a hex string/],
      [edit((j) => ((j.crypto!.cipherparams as Record<string, unknown>).iv = "00")), /field crypto.cipherparams.iv/],
      [edit((j) => ((j.crypto!.kdfparams as Record<string, unknown>).n = 1000)), /power of two/],
      [edit((j) => ((j.crypto!.kdfparams as Record<string, unknown>).n = 2 ** 22)), /more than 1 GiB/],
      [edit((j) => delete (j.crypto!.kdfparams as Record<string, unknown>).salt), /field crypto.kdfparams.salt/],
      // a well-formed file whose key does not hash to its commitment
      [edit((j) => ((j as Record<string, unknown>).keyCommitment = `0x${"00".repeat(32)}`)), /does not match its field keyCommitment/],
    ];
    for (const [text, problem] of cases) {
      const e = decryptContentKeyJson(text, PASSWORD, hash, "k.json");
      await expect(e).rejects.toMatchObject(failure(KeystoreErrorCode.MALFORMED, problem));
      await expect(e).rejects.toThrow(/^content key file k\.json is malformed: /);
    }
  });

  it("refuses a file too large to be a content key file", async () => {
    const hash = contentHash();
    await storeContentKey(datadir, hash, generateContentKey(), PASSWORD, FAST);
    await writeFile(contentKeyFile(datadir, hash), " ".repeat(20_000));
    await expect(loadContentKey(datadir, hash, PASSWORD)).rejects.toMatchObject(failure(KeystoreErrorCode.FILE_UNREADABLE, /too large/));
  });
});
