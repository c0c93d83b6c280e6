import { afterAll, describe, expect, it } from "@jest/globals";
import { JsonRpcProvider, WebSocketProvider, Wallet, parseEther } from "ethers";
import { createPublicClient, http } from "viem";
import { runCli, type CliProcess } from "../helpers/cli.js";
import { devWallet, tempDir } from "../helpers/ledger.js";

const running: CliProcess[] = [];
const cleanups: (() => void)[] = [];
afterAll(async () => {
  for (const p of running) await p.stop();
  for (const c of cleanups) c();
});

/** Starts `vs1984 node --dev` on a random port and returns its RPC URL. */
async function startDevNode(extra: string[] = []): Promise<{ proc: CliProcess; url: string }> {
  const [dir, remove] = tempDir();
  cleanups.push(remove);
  const proc = runCli(["node", "--dev", "--datadir", dir, "--rpc.port", "0", "--p2p.port", "0", ...extra]);
  running.push(proc);
  const m = await proc.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/);
  return { proc, url: m[1]! };
}

describe("real clients against `vs1984 node --dev`", () => {
  it("ethers sends a transfer from dev account 0, sees the receipt, both balances and the block event; viem reads the block", async () => {
    const { url } = await startDevNode();
    const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 250 });
    const ws = new WebSocketProvider(url.replace("http", "ws"));
    try {
      expect((await provider.getNetwork()).chainId).toBe(1984n);
      const sender = new Wallet(devWallet(0).privateKey, provider);
      const to = Wallet.createRandom().address;
      const before = await provider.getBalance(sender.address);
      const blockSeen = new Promise<number>((resolve) => ws.once("block", (n: number) => resolve(n)));
      const tx = await sender.sendTransaction({ to, value: parseEther("1.5") });
      const receipt = (await tx.wait(1, 60_000))!;
      expect(receipt.status).toBe(1);
      expect(receipt.hash).toBe(tx.hash);
      expect(await provider.getBalance(to)).toBe(parseEther("1.5"));
      const after = await provider.getBalance(sender.address);
      expect(before - after).toBe(parseEther("1.5") + receipt.gasUsed * receipt.gasPrice);
      expect(await blockSeen).toBeGreaterThan(0);

      const viem = createPublicClient({ transport: http(url) });
      const block = await viem.getBlock({ blockNumber: BigInt(receipt.blockNumber) });
      expect(block.hash).toBe(receipt.blockHash);
      expect(block.transactions).toContain(tx.hash);
      expect(await viem.getChainId()).toBe(1984);
    } finally {
      await ws.destroy();
      provider.destroy();
    }
  });
});

describe("`vs1984 node --dev` lifecycle", () => {
  it("stops cleanly on Ctrl-C and a restart continues from the same head", async () => {
    const [dir, remove] = tempDir();
    cleanups.push(remove);
    const first = runCli(["node", "--dev", "--datadir", dir, "--rpc.port", "0", "--p2p.port", "0"]);
    running.push(first);
    await first.waitFor(/"number":"3"/, 60_000);
    expect(await first.stop()).toBe(0);
    expect(first.output()).toMatch(/Stopped cleanly/);
    const heads = [...first.output().matchAll(/"number":"(\d+)"/g)].map((m) => Number(m[1]));
    const last = Math.max(...heads);

    const second = runCli(["node", "--dev", "--datadir", dir, "--rpc.port", "0", "--p2p.port", "0", "--no-mine"]);
    running.push(second);
    const started = await second.waitFor(/"head":"(\d+)"[^\n]*"msg":"Node started"/);
    expect(Number(started[1])).toBe(last);
    const url = (await second.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/))[1]!;
    const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true });
    expect(await provider.getBlockNumber()).toBe(last);
    provider.destroy();
    expect(await second.stop()).toBe(0);
  });
});
