import { describe, expect, it } from "@jest/globals";
import { PassThrough } from "node:stream";
import { readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Wallet, encryptKeystoreJson } from "ethers";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import type { Hex } from "../../../chain/index.js";
import {
  KeystoreErrorCode,
  checkKeystoreJson,
  keystoreDir,
  keystoreFileName,
  listKeystores,
  loadKeystore,
  writeKeystore,
} from "../../../node/keystore.js";
import { promptHidden, readPassword, readSecretFile } from "../../../node/cli/password.js";
import { withTempDir } from "../../helpers/ledger.js";
import { rejection } from "../../helpers/rejection.js";

// Low scrypt cost: these tests check the format, not the key stretching.
const FAST = { scryptN: 1024 };
const KEY = hexToBytes("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
const ADDRESS = new Wallet(bytesToHex(KEY)).address.toLowerCase() as Hex;

const withDir = <T>(fn: (dir: string) => Promise<T>): Promise<T> => withTempDir("vs1984-keystore-", fn);

describe("keystore", () => {
  it("writes a keystore that ethers opens, named like geth's, in a 0700 folder with mode 0600", () =>
    withDir(async (datadir) => {
      const dir = keystoreDir(datadir);
      const { file, address } = await writeKeystore(dir, KEY, "correct horse", FAST);
      expect(address).toBe(ADDRESS);
      expect(file).toBe(join(dir, (await readdir(dir))[0]!));
      expect(file).toMatch(new RegExp(`/UTC--\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d\\.\\d{3}Z--${ADDRESS.slice(2)}$`));
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      const text = await readFile(file, "utf8");
      expect(JSON.parse(text)).toMatchObject({ version: 3, address: ADDRESS.slice(2) });
      const opened = await Wallet.fromEncryptedJson(text, "correct horse");
      expect(opened.address.toLowerCase()).toBe(ADDRESS);
      expect(opened.privateKey).toBe(bytesToHex(KEY));
    }));

  it("opens a keystore that ethers wrote with its default scrypt cost", () =>
    withDir(async (dir) => {
      const file = join(dir, "ethers.json");
      await writeFile(file, await new Wallet(bytesToHex(KEY)).encrypt("pässwörd"));
      const key = await loadKeystore(file, "pässwörd");
      expect(key.address).toBe(ADDRESS);
      expect(key.privateKey).toEqual(KEY);
    }));

  it("opens a geth-style keystore (lowercase crypto, no address field, pbkdf2)", () =>
    withDir(async (dir) => {
      // Web3 Secret Storage test vector (password "testpassword")
      const file = join(dir, "vector.json");
      await writeFile(
        file,
        JSON.stringify({
          crypto: {
            cipher: "aes-128-ctr",
            cipherparams: { iv: "6087dab2f9fdbbfaddc31a909735c1e6" },
            ciphertext: "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
            kdf: "pbkdf2",
            kdfparams: { c: 262144, dklen: 32, prf: "hmac-sha256", salt: "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd" },
            mac: "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
          },
          id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
          version: 3,
        }),
      );
      const key = await loadKeystore(file, "testpassword");
      expect(bytesToHex(key.privateKey)).toBe("0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d");
      expect(key.address).toBe(new Wallet(bytesToHex(key.privateKey)).address.toLowerCase());
    }));

  it("refuses a wrong password with a message naming the file and neither key nor password", () =>
    withDir(async (dir) => {
      const { file } = await writeKeystore(dir, KEY, "right password", FAST);
      const err = await rejection(loadKeystore(file, "wrong password"));
      expect(err.code).toBe(KeystoreErrorCode.WRONG_PASSWORD);
      expect(err.message).toBe(`wrong password for keystore ${file}`);
    }));

  it.each([
    ["not JSON", "{nope", /not valid JSON/],
    ["a JSON array", "[]", /must be a JSON object/],
    ["version 1", JSON.stringify({ version: 1, crypto: {} }), /field version must be 3/],
    ["no crypto", JSON.stringify({ version: 3 }), /field crypto is missing/],
    ["another cipher", "cipher:aes-256-cbc", /field crypto\.cipher/],
    ["a short iv", "iv:00", /crypto\.cipherparams\.iv must be 16 bytes/],
    ["a mac that is not hex", "mac:zz", /crypto\.mac must be a hex string/],
    ["an unknown kdf", "kdf:argon2", /crypto\.kdf must be "scrypt" or "pbkdf2"/],
    ["an n that is not a power of two", "n:1000", /crypto\.kdfparams\.n must be a power of two/],
    ["a bad address", "address:0x12", /field address must be a 20-byte hex address/],
  ])("refuses a malformed keystore: %s", async (_name, mutation, problem) => {
    await withDir(async (dir) => {
      const good = JSON.parse(await encryptKeystoreJson({ address: ADDRESS, privateKey: bytesToHex(KEY) }, "pw", { scrypt: { N: 16 } })) as {
        Crypto: Record<string, unknown> & { cipherparams: Record<string, unknown>; kdfparams: Record<string, unknown> };
        address: string;
      };
      let text = mutation;
      if (mutation.includes(":") && !mutation.startsWith("{")) {
        const [k, v] = mutation.split(/:(.*)/s) as [string, string];
        if (k === "iv") good.Crypto.cipherparams.iv = v;
        else if (k === "n") good.Crypto.kdfparams.n = Number(v);
        else if (k === "address") good.address = v;
        else good.Crypto[k] = v;
        text = JSON.stringify(good);
      }
      const file = join(dir, "bad.json");
      await writeFile(file, text);
      const err = await rejection(loadKeystore(file, "pw"));
      expect(err.code).toBe(KeystoreErrorCode.MALFORMED);
      expect(err.message).toContain(`keystore ${file} is malformed`);
      expect(err.message).toMatch(problem);
      expect(() => checkKeystoreJson(text, file)).toThrow(problem);
    });
  });

  it("names a missing file", async () => {
    const err = await rejection(loadKeystore("/nonexistent/keystore.json", "pw"));
    expect(err.code).toBe(KeystoreErrorCode.FILE_UNREADABLE);
    expect(err.message).toContain("cannot read keystore /nonexistent/keystore.json");
  });

  it("refuses to store an invalid private key", () =>
    withDir(async (dir) => {
      const err = await rejection(writeKeystore(dir, new Uint8Array(32), "pw", FAST));
      expect(err.code).toBe(KeystoreErrorCode.INVALID_KEY);
      expect(await readdir(dir)).toEqual([]);
    }));

  it("lists keystores by file name, skipping hidden files and flagging unreadable ones", () =>
    withDir(async (datadir) => {
      const dir = keystoreDir(datadir);
      expect(await listKeystores(dir)).toEqual([]);
      const a = await writeKeystore(dir, KEY, "pw", FAST);
      const other = Wallet.createRandom();
      const b = await writeKeystore(dir, hexToBytes(other.privateKey as Hex), "pw", FAST);
      await writeFile(join(dir, ".hidden"), "{}");
      await writeFile(join(dir, "zz-junk"), "junk");
      const list = await listKeystores(dir);
      expect(list.slice(0, 2)).toEqual([a, b].sort((x, y) => x.file.localeCompare(y.file)));
      expect(list[2]).toMatchObject({ file: join(dir, "zz-junk"), address: null, problem: expect.stringContaining("not valid JSON") });
      expect(list).toHaveLength(3);
    }));

  it("names files as geth does", () => {
    expect(keystoreFileName("0xABCDEF0123456789abcdef0123456789ABCDEF01", new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)))).toBe(
      "UTC--2024-01-02T03-04-05.006Z--abcdef0123456789abcdef0123456789abcdef01",
    );
  });
});

// node/cli/password.ts: the prompt and the password file (no password ever comes from an argument).
describe("password input", () => {
  function fakeTerminal(isTTY = true): { input: PassThrough & { isTTY: boolean; setRawMode: (raw: boolean) => void; raw: boolean[] }; output: PassThrough; shown: () => string } {
    const input = Object.assign(new PassThrough(), { isTTY, raw: [] as boolean[], setRawMode: (r: boolean) => void input.raw.push(r) });
    const output = new PassThrough();
    let shown = "";
    output.on("data", (d: Buffer) => (shown += d.toString()));
    return { input, output, shown: () => shown };
  }

  it("reads the first line of a password file, without its line ending", () =>
    withDir(async (dir) => {
      await writeFile(join(dir, "a"), "secret one\r\nsecond line\n");
      await writeFile(join(dir, "b"), "no newline");
      expect(await readSecretFile(join(dir, "a"))).toBe("secret one");
      expect(await readPassword(join(dir, "b"))).toBe("no newline");
      await expect(readSecretFile(join(dir, "missing"))).rejects.toThrow(/cannot read password file .*missing/);
    }));

  it("prompts without echo in raw mode, handling backspace and a paste", async () => {
    const t = fakeTerminal();
    const answer = promptHidden("Password: ", "password", t);
    t.input.write("ab");
    t.input.write("x\u007fc d\r");
    expect(await answer).toBe("abc d");
    expect(t.input.raw).toEqual([true, false]);
    expect(t.shown()).toBe("Password: \n");
  });

  it("asks twice for a new password and refuses a mismatch", async () => {
    const t = fakeTerminal();
    const answer = readPassword(undefined, { confirm: true }, t);
    t.input.write("one\r");
    await new Promise((r) => setImmediate(r));
    t.input.write("two\r");
    await expect(answer).rejects.toThrow("the two passwords do not match");
  });

  it("stops on Ctrl-C", async () => {
    const t = fakeTerminal();
    const answer = promptHidden("Password: ", "password", t);
    t.input.write("abc\u0003");
    await expect(answer).rejects.toThrow("cancelled");
    expect(t.input.raw).toEqual([true, false]);
  });

  it("without a terminal and without a file, asks for --password-file", async () => {
    await expect(readPassword(undefined, {}, fakeTerminal(false))).rejects.toThrow("no password: give --password-file FILE");
  });
});
