import type { GenesisConfig, Hex } from "../../chain/index.js";
import { devAccount } from "../../node/devAccounts.js";
import type { NodeOptions, VsNode } from "../../node/node.js";
import type { NetworkOptions } from "../../p2p/index.js";
import { testGenesis } from "./ledger.js";
import { startTestNode } from "./node.js";

/** Unix seconds now, from the wall clock: nodes of one test network must share a clock. */
export const wallClock = (): bigint => BigInt(Math.floor(Date.now() / 1000));

/**
 * The test genesis for networks: tiny scrypt, but a starting difficulty that makes a block take
 * tens of milliseconds, so that two miners do not fork at every height.
 */
export function netGenesis(): Promise<GenesisConfig> {
  return testGenesis({ initialDifficulty: 100n });
}

/** Options of one node of a test network. */
export interface NetNodeOptions {
  genesis: GenesisConfig;
  /** Dev account index to mine as (7, 8 or 9 are the genesis miners); none: no mining. */
  mineAs?: number;
  bootnodes?: string[];
  datadir?: string;
  p2p?: Partial<NetworkOptions>;
  /** Sub-chains whose payloads the node stores besides pins (`--subchains`). */
  subchains?: string[];
  /** The author's key-delivery service. */
  contentDelivery?: NodeOptions["contentDelivery"];
}

/** A node on 127.0.0.1 with P2P on a free port, RPC on a free port, real RocksDB, the wall clock. */
export async function startNetNode(opts: NetNodeOptions): Promise<[VsNode, () => Promise<void>]> {
  const miner = opts.mineAs !== undefined ? devAccount(opts.mineAs) : null;
  return startTestNode({
    genesis: opts.genesis,
    mine: miner !== null,
    minerKey: miner?.privateKey ?? null,
    coinbase: miner?.address ?? null,
    now: wallClock,
    ...(opts.datadir ? { datadir: opts.datadir } : {}),
    ...(opts.subchains ? { subchains: opts.subchains } : {}),
    ...(opts.contentDelivery ? { contentDelivery: opts.contentDelivery } : {}),
    p2p: { addr: "127.0.0.1", port: 0, maxPeers: 25, nat: "none", bootnodes: opts.bootnodes ?? [], maintenanceMs: 300, ...opts.p2p },
  });
}

/** The node's first P2P address with its Guard ID. */
export function addrOf(node: VsNode): string {
  const a = node.network?.addresses()[0];
  if (!a) throw new Error("node has no P2P address");
  return a;
}

/** Polls `check` every 50 ms until it is true; throws `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Head hashes of the nodes. */
export function heads(nodes: VsNode[]): Hex[] {
  return nodes.map((n) => n.ledger.chain.head.hash);
}
