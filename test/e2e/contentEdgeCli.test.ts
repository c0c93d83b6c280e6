import { afterAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import { keccak256, type Hex } from "../../chain/index.js";
import { generateContentKey, keyCommitment } from "../../node/content/contentCipher.js";
import { eciesEncrypt } from "../../node/content/ecies.js";
import { keystoreDir, writeKeystore } from "../../node/keystore.js";
import { runCli, runToEnd, type CliProcess } from "../helpers/cli.js";
import { devWallet, keyOf, tempDir } from "../helpers/ledger.js";
import { registry, signModuleCall } from "../helpers/modules.js";

const running: CliProcess[] = [];
const cleanups: (() => void)[] = [];
afterAll(async () => {
  for (const p of running) await p.stop();
  for (const c of cleanups) c();
});

const vs1984 = (args: string[]): Promise<{ code: number | null; out: string }> => runToEnd(args, running);

describe("vs1984 content buy / get refuse what would waste a fee or a wait", () => {
  it("refuses an out-of-range id, buying one's own content, buying twice, and a --out folder that is not there; says what get waits for; names a payload that does not decrypt as bad content", async () => {
    const [dir, remove] = tempDir("vs1984-content-edge-");
    cleanups.push(remove);
    const pw = join(dir, "password.txt");
    await writeFile(pw, "content edge password\n", { mode: 0o600 });
    const ks = async (i: number): Promise<string> => (await writeKeystore(keystoreDir(join(dir, `account${i}`)), keyOf(devWallet(i)), "content edge password", { scryptN: 2 ** 10 })).file;
    const [author, buyer] = [await ks(0), await ks(1)];
    const node = runCli(["node", "--dev", "--datadir", join(dir, "node"), "--rpc.port", "0", "--p2p.port", "0"], { NODE_OPTIONS: "" });
    running.push(node);
    const rpc = (await node.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/, 60_000))[1]!;
    const common = ["--password-file", pw, "--rpc", rpc];

    // above uint256: an argument error, not an ABI encoder's "value out-of-bounds"
    const tooBig = await vs1984(["content", "buy", (2n ** 256n).toString(), "--keystore", buyer, ...common]);
    expect([tooBig.code, tooBig.out]).toEqual([1, expect.stringContaining("argument 'contentId'. must be a content id")]);

    const file = join(dir, "post.md");
    await writeFile(file, "# edge\n");
    const published = await vs1984(["content", "publish", file, "--price", "0.5", "--subchain", "posts", "--keystore", author, "--datadir", join(dir, "node"), ...common]);
    expect(published.out).toMatch(/Content id: +1\n/);

    // the registry takes an author's purchase of their own content: the CLI does not send it
    const own = await vs1984(["content", "buy", "1", "--keystore", author, ...common]);
    expect([own.code, own.out]).toEqual([1, expect.stringContaining("is the author of content 1")]);
    expect(own.out).not.toContain("Transaction:");

    const bought = await vs1984(["content", "buy", "1", "--keystore", buyer, ...common]);
    expect([bought.code, bought.out]).toEqual([0, expect.stringMatching(/Purchased in block (\d+)/)]);
    const block = /Purchased in block (\d+)/.exec(bought.out)![1]!;
    const twice = await vs1984(["content", "buy", "1", "--keystore", buyer, ...common]);
    expect([twice.code, twice.out]).toEqual([1, expect.stringContaining(`already bought content 1 in block ${block}: get it with vs1984 content get 1`)]);
    expect(twice.out).not.toContain("Buying");

    // no author's node delivers the key here: the wait says what it waits for, then ends with the deadline
    const undelivered = await vs1984(["content", "get", "1", "--out", join(dir, "post.out"), "--timeout", "2", "--keystore", buyer, ...common]);
    expect([undelivered.code, undelivered.out]).toEqual([1, expect.stringContaining("Waiting up to 2 s for the author's node to deliver the key")]);
    expect(undelivered.out).toMatch(new RegExp(`due by block ${BigInt(block) + 100n}\\)\\n[\\s\\S]*no key delivered after 2 s`));

    // without the check this waits the whole --timeout first
    const started = Date.now();
    const noFolder = await vs1984(["content", "get", "1", "--out", join(dir, "missing", "post.md"), "--timeout", "60", "--keystore", buyer, ...common]);
    expect([noFolder.code, noFolder.out]).toEqual([1, expect.stringContaining(`cannot write ${join(dir, "missing", "post.md")}: no folder ${join(dir, "missing")}`)]);
    expect(Date.now() - started).toBeLessThan(30_000);

    // an author who publishes bytes that are not a ciphertext of the committed key, and delivers that key:
    // the key checks out and the payload hashes right, so get names the content as bad instead of a bare cipher error
    const rpcCall = async (method: string, params: unknown[]): Promise<unknown> => {
      const res = (await (await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) })).json()) as { result?: unknown; error?: unknown };
      if (res.error) throw new Error(JSON.stringify(res.error));
      return res.result;
    };
    const nonce = async (): Promise<number> => Number(BigInt((await rpcCall("eth_getTransactionCount", [devWallet(0).address, "pending"])) as string));
    const receipt = async (hash: unknown): Promise<void> => {
      for (let i = 0; i < 100 && !(await rpcCall("eth_getTransactionReceipt", [hash])); i++) await new Promise((r) => setTimeout(r, 200));
    };
    const badKey = generateContentKey();
    const garbage = new Uint8Array(randomBytes(300));
    const publishBad = registry.encodeFunctionData("publish", [bytesToHex(keccak256(garbage)), 1, 0n, keyCommitment(badKey), 100n]);
    const raw = await signModuleCall(1984n, 0, { data: publishBad, nonce: await nonce(), gasLimit: 1_000_000n });
    await receipt(await rpcCall("vs_sendRawTransactionWithPayload", [bytesToHex(raw), bytesToHex(garbage)]));
    expect((await vs1984(["content", "buy", "2", "--keystore", buyer, ...common])).code).toBe(0);
    const box = eciesEncrypt(hexToBytes(devWallet(1).signingKey.publicKey as Hex), badKey);
    const deliver = await signModuleCall(1984n, 0, { data: registry.encodeFunctionData("deliverKey", [2n, devWallet(1).address, box]), nonce: await nonce() });
    await receipt(await rpcCall("eth_sendRawTransaction", [bytesToHex(deliver)]));
    const bad = await vs1984(["content", "get", "2", "--out", join(dir, "bad.out"), "--timeout", "20", "--keystore", buyer, ...common]);
    expect([bad.code, bad.out]).toEqual([1, expect.stringContaining("bad content: the published payload does not decrypt with the committed key (not a readable content ciphertext")]);
  }, 180_000);
});
