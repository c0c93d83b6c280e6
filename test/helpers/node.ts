import { pino } from "pino";
import type { GenesisConfig } from "../../chain/index.js";
import { devAccount } from "../../node/devAccounts.js";
import { VsNode, type NodeOptions } from "../../node/node.js";
import { tempDir, testGenesis } from "./ledger.js";

/**
 * A full node in-process on real RocksDB in a temp folder, RPC on 127.0.0.1 at a random port,
 * dev accounts served; mining as dev account 9 unless `mine: false`; no P2P unless `p2p` is given. Its clock runs with the chain
 * (each block one blockTime after its parent) so difficulty stays put however fast tests mine.
 */
export async function startTestNode(
  opts: Partial<NodeOptions> & { mine?: boolean; genesis?: GenesisConfig } = {},
): Promise<[VsNode, () => Promise<void>]> {
  const genesis = opts.genesis ?? (await testGenesis());
  const [dir, removeDir] = opts.datadir ? [opts.datadir, () => undefined] : tempDir();
  const miner = devAccount(9);
  let node: VsNode | null = null;
  const chainClock = (): bigint =>
    (node ? node.ledger.chain.head.header.timestamp : genesis.timestamp) + BigInt(genesis.consensus.blockTime);
  node = new VsNode(
    {
      datadir: dir,
      genesis,
      minerKey: opts.mine === false ? null : miner.privateKey,
      coinbase: miner.address,
      devAccounts: Array.from({ length: 10 }, (_, i) => devAccount(i)),
      rpc: { host: "127.0.0.1", port: 0 },
      metrics: true,
      p2p: null,
      now: chainClock,
      ...opts,
    },
    pino({ level: process.env.VS1984_TEST_LOG ?? "silent" }),
  );
  await node.start();
  const n = node;
  return [
    n,
    async () => {
      await n.stop();
      removeDir();
    },
  ];
}
