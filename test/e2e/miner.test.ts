import { afterAll, describe, expect, it } from "@jest/globals";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { JsonRpcProvider } from "ethers";
import { runCli, type CliProcess } from "../helpers/cli.js";
import { devWallet, tempDir } from "../helpers/ledger.js";

const running: CliProcess[] = [];
const cleanups: (() => void)[] = [];
afterAll(async () => {
  for (const p of running) await p.stop();
  for (const c of cleanups) c();
});

describe("`vs1984 mine` against `vs1984 node --dev --no-mine`, both started as a user would", () => {
  it("imports a dev miner key into a keystore, mines blocks over eth_getWork / eth_submitWork, and they carry its address", async () => {
    const [dir, remove] = tempDir();
    cleanups.push(remove);
    const miner = devWallet(8);
    writeFileSync(join(dir, "key"), `${miner.privateKey}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "password"), "correct horse battery staple\n", { mode: 0o600 });
    const walletDir = join(dir, "wallet");
    const imported = runCli(["wallet", "import", "--datadir", walletDir, "--key-file", join(dir, "key"), "--password-file", join(dir, "password")]);
    running.push(imported);
    expect(await imported.exited()).toBe(0);
    const file = imported.output().match(/(\/\S*UTC--[0-9a-zA-Z.:-]+)/)![1]!;

    const node = runCli(["node", "--dev", "--no-mine", "--datadir", join(dir, "node"), "--rpc.port", "0", "--p2p.port", "0"]);
    running.push(node);
    const url = (await node.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/))[1]!;
    await node.waitFor(/"mining":false/);

    const mine = runCli(["mine", "--rpc", url, "--keystore", file, "--password-file", join(dir, "password")]);
    running.push(mine);
    const provider = new JsonRpcProvider(url, 1984, { staticNetwork: true });
    try {
      const deadline = Date.now() + 90_000;
      while ((await provider.getBlockNumber()) < 2) {
        if (Date.now() > deadline) throw new Error(`no blocks from the external miner:\n${mine.output().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const block = (await provider.getBlock(1))!;
      expect(block.miner.toLowerCase()).toBe(miner.address.toLowerCase());
      expect(mine.output()).toMatch(/block 1 accepted/);
    } finally {
      provider.destroy();
    }
    expect(await mine.stop()).toBe(0);
  });
});
