import { afterAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { keystoreDir, writeKeystore } from "../../node/keystore.js";
import { runCli, runToEnd, type CliProcess } from "../helpers/cli.js";
import { devWallet, keyOf, tempDir } from "../helpers/ledger.js";

const running: CliProcess[] = [];
const cleanups: (() => void)[] = [];
afterAll(async () => {
  for (const p of running) await p.stop();
  for (const c of cleanups) c();
});

const vs1984 = (args: string[]): Promise<{ code: number | null; out: string }> => runToEnd(args, running);

describe("vs1984 content against `vs1984 node --dev --content.keystore`", () => {
  it("publishes a file, buys it, gets it once the author's node delivered the key, and refunds an undelivered purchase", async () => {
    const [dir, remove] = tempDir("vs1984-content-");
    cleanups.push(remove);
    const pw = join(dir, "password.txt");
    await writeFile(pw, "content e2e password\n", { mode: 0o600 });
    const ks = async (i: number): Promise<string> => (await writeKeystore(keystoreDir(join(dir, `account${i}`)), keyOf(devWallet(i)), "content e2e password", { scryptN: 2 ** 10 })).file;
    const [author, buyer, otherAuthor] = [await ks(0), await ks(1), await ks(2)];
    const datadir = join(dir, "node");

    const node = runCli(["node", "--dev", "--datadir", datadir, "--rpc.port", "0", "--p2p.port", "0", "--content.keystore", author, "--content.password-file", pw], { NODE_OPTIONS: "" });
    running.push(node);
    const rpc = (await node.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/, 60_000))[1]!;
    const common = ["--password-file", pw, "--rpc", rpc];
    // without --subchains a --dev node keeps the payloads of every sub-chain
    const subchains = (await (await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "vs_getSubchains", params: [] }) })).json()) as {
      result: { name: string; followed: boolean }[];
    };
    expect(subchains.result.map((d) => [d.name, d.followed])).toEqual([["pins", true], ["posts", true], ["bt", true], ["comments", true]]);

    const file = join(dir, "post.bin");
    const plain = randomBytes(200_000);
    await writeFile(file, plain);
    const payload = join(dir, "post.vsec");
    // a sub-chain the node's genesis does not declare: named, with the declared ones, before anything is stored
    const unknown = await vs1984(["content", "publish", file, "--price", "1.5", "--subchain", "videos", "--keystore", author, "--datadir", datadir, ...common]);
    expect([unknown.code, unknown.out]).toEqual([1, expect.stringContaining('unknown sub-chain "videos": the node\'s genesis declares pins (0), posts (1), bt (2), comments (3)')]);
    const published = await vs1984(["content", "publish", file, "--price", "1.5", "--subchain", "posts", "--keystore", author, "--datadir", datadir, "--save-payload", payload, ...common]);
    expect(published.out).toMatch(/Content id: +1\n/);
    expect(published.out).toMatch(/subRef: +0x1[0-9a-f]{24} \(sub-chain 1, /);

    const bought = await vs1984(["content", "buy", "1", "--keystore", buyer, ...common]);
    expect([bought.code, bought.out]).toEqual([0, expect.stringMatching(/Buying content 1 by 0x[0-9a-fA-F]{40} for 1\.500000000000000000 VS[\s\S]*Purchased in block \d+/)]);

    const out = join(dir, "post.out");
    const got = await vs1984(["content", "get", "1", "--out", out, "--payload", payload, "--keystore", buyer, ...common]);
    expect([got.code, got.out]).toEqual([0, expect.stringContaining("Key checked against the commitment; wrote 200000 bytes")]);
    expect((await readFile(out)).equals(plain)).toBe(true);
    expect(node.output()).toContain('"msg":"Key delivered"');
    // without --payload the payload comes from the node's sub-chain store (vs_getPayload; a --dev node follows posts)
    const fromNode = await vs1984(["content", "get", "1", "--out", `${out}.2`, "--keystore", buyer, ...common]);
    expect([fromNode.code, fromNode.out]).toEqual([0, expect.stringContaining("wrote 200000 bytes")]);
    expect((await readFile(`${out}.2`)).equals(plain)).toBe(true);

    // content of an author whose node does not run: no key by the deadline, then the refund
    const other = await vs1984(["content", "publish", file, "--price", "0.25", "--subchain", "posts", "--delivery-blocks", "1", "--keystore", otherAuthor, "--datadir", join(dir, "other"), ...common]);
    expect(other.out).toMatch(/Content id: +2\n/);
    expect((await vs1984(["content", "buy", "2", "--keystore", buyer, ...common])).code).toBe(0);
    const late = await vs1984(["content", "get", "2", "--out", join(dir, "never"), "--payload", payload, "--keystore", buyer, ...common]);
    expect([late.code, late.out]).toEqual([2, expect.stringContaining("vs1984 content refund 2 --keystore")]);
    const refunded = await vs1984(["content", "refund", "2", "--keystore", buyer, ...common]);
    expect([refunded.code, refunded.out]).toEqual([0, expect.stringContaining("Refunded 0.250000000000000000 VS")]);
    const again = await vs1984(["content", "refund", "2", "--keystore", buyer, ...common]);
    expect([again.code, again.out]).toEqual([1, expect.stringContaining("purchase refunded")]);
  }, 240_000);
});
