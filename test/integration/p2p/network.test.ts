import { describe, expect, it } from "@jest/globals";
import { hexToBytes } from "@ethereumjs/util";
import type { GenesisConfig, Hex } from "../../../chain/index.js";
import type { VsNode } from "../../../node/node.js";
import { devWallet, keyOf, openLedger, tempDir, testGenesis } from "../../helpers/ledger.js";
import { mineBlock } from "../../helpers/mine.js";
import { httpCall } from "../../helpers/rpcClient.js";
import { addrOf, heads, netGenesis, startNetNode, waitFor, wallClock } from "../../helpers/net.js";
import { useNetNodes } from "../../helpers/netNodes.js";

// Several real nodes in this process: libp2p on 127.0.0.1, RocksDB in temp folders, in-process
// miners on the wall clock. Each test bounds its own time.

const { start, onStop } = useNetNodes();

async function stopNode(node: VsNode): Promise<void> {
  await node.stop();
}

/** Signs a type 2 transfer from dev account `from`; returns the raw bytes and the hash ethers computes. */
async function transfer(genesis: GenesisConfig, from: number, to: string, value: bigint, nonce: number): Promise<{ raw: Uint8Array; hash: Hex }> {
  const w = devWallet(from);
  const signed = await w.signTransaction({
    type: 2,
    chainId: Number(genesis.chainId),
    nonce,
    to,
    value,
    gasLimit: 21000,
    maxFeePerGas: 3n * 10n ** 9n,
    maxPriorityFeePerGas: 10n ** 9n,
  });
  const { keccak256 } = await import("ethers");
  return { raw: hexToBytes(signed as Hex), hash: keccak256(signed) as Hex };
}

async function balance(node: VsNode, address: string): Promise<bigint> {
  return (await node.ledger.chain.headState().getAccount(address.toLowerCase() as Hex)).balance;
}

async function stopMiners(nodes: VsNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.ledger.miner?.stop()));
}

describe("a network of five nodes with two miners", () => {
  it("agrees on one head after 30 blocks, and a transfer sent to node 4 is mined and visible on node 1", async () => {
    const genesis = await netGenesis();
    const n0 = await start({ genesis, mineAs: 9 });
    const boot = [addrOf(n0)];
    const nodes = [n0, await start({ genesis, mineAs: 8, bootnodes: boot })];
    for (let i = 2; i < 5; i++) nodes.push(await start({ genesis, bootnodes: boot }));
    // peer exchange: each node finds more than the bootnode
    await waitFor("peers found through peer exchange", () => nodes.every((n) => n.network!.peerCount >= 3), 20_000);

    const to = "0x00000000000000000000000000000000000a11ce";
    const tx = await transfer(genesis, 0, to, 12345n, 0);
    expect(await nodes[4]!.submitRawTransaction(tx.raw)).toBe(tx.hash);

    await waitFor("30 blocks everywhere", () => nodes.every((n) => n.ledger.chain.head.header.number >= 30n), 60_000);
    await waitFor("the transfer mined, seen by node 1", async () => (await nodes[1]!.ledger.chain.getTxLocation(tx.hash)) !== undefined, 20_000);
    await stopMiners(nodes);
    await waitFor("one head on every node", () => new Set(heads(nodes)).size === 1, 20_000);

    const head = nodes[0]!.ledger.chain.head;
    expect(head.header.number).toBeGreaterThanOrEqual(30n);
    const location = await nodes[1]!.ledger.chain.getTxLocation(tx.hash);
    expect(location).toBeDefined();
    expect(await nodes[1]!.ledger.chain.getCanonicalHash(location!.blockNumber)).toBe(location!.blockHash);
    for (const n of nodes) expect(await balance(n, to)).toBe(12345n);
    // both genesis miners sealed blocks of the agreed chain
    const miners = new Set<string>();
    for (let i = 1n; i <= head.header.number; i++) miners.add((await nodes[2]!.ledger.chain.getBlockByNumber(i))!.header.miner);
    expect(miners).toEqual(new Set([devWallet(9).address.toLowerCase(), devWallet(8).address.toLowerCase()]));
    // net_peerCount and vs_peers see the network over JSON-RPC
    const rpc = httpCall(nodes[2]!.rpc!.url);
    expect(Number(await rpc("net_peerCount"))).toBeGreaterThanOrEqual(3);
    const peers = (await rpc("vs_peers")) as Array<{ guardId: string; direction: string; score: number; head: { number: string } | null }>;
    expect(peers.length).toBeGreaterThanOrEqual(3);
    expect(peers.map((p) => p.guardId)).toContain(nodes[0]!.network!.peerId);
    for (const p of peers) {
      expect(["inbound", "outbound"]).toContain(p.direction);
      expect(p.score).toBe(0);
      expect(p.head).not.toBeNull();
    }
    expect(await rpc("eth_syncing")).toBe(false);
    await Promise.all(nodes.map(stopNode));
  }, 120_000);
});

describe("a partition of six nodes", () => {
  it("converges on the heavier branch after healing, with the balances of that branch alone", async () => {
    const genesis = await netGenesis();
    const n0 = await start({ genesis, mineAs: 9 });
    await n0.ledger.miner!.stop();
    const boot = [addrOf(n0)];
    const nodes = [n0];
    for (let i = 1; i < 6; i++) nodes.push(await start({ genesis, bootnodes: boot, ...(i === 3 ? { mineAs: 8 } : {}) }));
    await nodes[3]!.ledger.miner!.stop();
    await waitFor("everyone connected", () => nodes.every((n) => n.network!.peerCount >= 3), 20_000);

    // partition {0,1,2} | {3,4,5}: each side bans the other (the gater refuses it from then on)
    const left = nodes.slice(0, 3);
    const right = nodes.slice(3);
    const ids = (side: VsNode[]): string[] => side.map((n) => n.network!.peerId);
    for (const n of left) for (const id of ids(right)) n.network!.ban(id, "test partition", 600_000);
    for (const n of right) for (const id of ids(left)) n.network!.ban(id, "test partition", 600_000);
    const crossLinks = (): number =>
      left.reduce((k, n) => k + n.network!.peers().filter((p) => ids(right).includes(p.id)).length, 0);
    await waitFor("no link between the sides", () => crossLinks() === 0, 10_000);

    // the same nonce of account 0 spent differently on each side, and one more transfer on the right
    const a = await transfer(genesis, 0, "0x000000000000000000000000000000000000aaaa", 1000n, 0);
    const b = await transfer(genesis, 0, "0x000000000000000000000000000000000000bbbb", 2000n, 0);
    const c = await transfer(genesis, 1, "0x000000000000000000000000000000000000cccc", 3000n, 0);
    await nodes[1]!.submitRawTransaction(a.raw);
    await nodes[4]!.submitRawTransaction(b.raw);
    await nodes[5]!.submitRawTransaction(c.raw);

    n0.ledger.miner!.start();
    nodes[3]!.ledger.miner!.start();
    await waitFor("both sides mine 8 blocks", () => nodes.every((n) => n.ledger.chain.head.header.number >= 8n), 60_000);
    await stopMiners(nodes);
    await waitFor("each side agrees within itself", () => new Set(heads(left)).size === 1 && new Set(heads(right)).size === 1, 20_000);
    expect(heads(left)[0]).not.toBe(heads(right)[0]);
    const leftTd = left[0]!.ledger.chain.headTotalDifficulty;
    const rightTd = right[0]!.ledger.chain.headTotalDifficulty;
    const leftHead = left[0]!.ledger.chain.head.hash;
    const rightHead = right[0]!.ledger.chain.head.hash;
    const winner = leftTd > rightTd || (leftTd === rightTd && leftHead < rightHead) ? leftHead : rightHead;

    // heal
    for (const n of left) for (const id of ids(right)) n.network!.unban(id);
    for (const n of right) for (const id of ids(left)) n.network!.unban(id);
    await n0.network!.dial(addrOf(nodes[3]!));
    await waitFor("one head everywhere", () => new Set(heads(nodes)).size === 1, 30_000);
    expect(nodes[0]!.ledger.chain.head.hash).toBe(winner);

    // replay the winning branch alone on a fresh ledger: every node's balances equal its result
    const [replay, closeReplay] = await openLedger(genesis, { now: wallClock });
    try {
      const chain = nodes[2]!.ledger.chain;
      for (let i = 1n; i <= chain.head.header.number; i++) await replay.importBlock((await chain.getBlockByNumber(i))!);
      expect(replay.chain.head.hash).toBe(winner);
      const accounts = [
        ...Array.from({ length: 10 }, (_, i) => devWallet(i).address),
        "0x000000000000000000000000000000000000aaaa",
        "0x000000000000000000000000000000000000bbbb",
        "0x000000000000000000000000000000000000cccc",
      ];
      const expected = await Promise.all(accounts.map(async (a) => (await replay.chain.headState().getAccount(a.toLowerCase() as Hex)).balance));
      for (const n of nodes) expect(await Promise.all(accounts.map((a) => balance(n, a)))).toEqual(expected);
      // exactly one of the two conflicting spends survived
      const spent = [expected[10], expected[11]].filter((x) => x !== 0n);
      expect(spent).toHaveLength(1);
    } finally {
      await closeReplay();
    }
    await Promise.all(nodes.map(stopNode));
  }, 150_000);
});

describe("a node that joins late", () => {
  it("syncs 200 blocks, follows the head, and resumes a sync after a restart", async () => {
    // blocks are sealed here one by one, no miners race: a low difficulty keeps 200 of them quick
    const genesis = await testGenesis({ initialDifficulty: 4n });
    const source = await start({ genesis });
    // three genesis miners in turn keep the streak penalty low, so 200 blocks seal in seconds
    const mineOne = (i: number): ReturnType<typeof mineBlock> => {
      const w = devWallet(7 + (i % 3));
      return mineBlock(source.ledger, keyOf(w), w.address.toLowerCase() as Hex);
    };
    for (let i = 0; i < 200; i++) await mineOne(i);
    const target = source.ledger.chain.head;

    const late = await start({ genesis, bootnodes: [addrOf(source)] });
    let sawProgress = false;
    late.network!.on("syncProgress", (p) => {
      if (p !== false && p.highestBlock >= target.header.number) sawProgress = true;
    });
    await waitFor("the late node at the source's head", () => late.ledger.chain.head.hash === target.hash, 60_000);
    expect(sawProgress).toBe(true);
    await waitFor("sync reported as finished", () => late.network!.syncProgress() === false, 10_000);

    // it follows new blocks by gossip
    for (let i = 0; i < 3; i++) await mineOne(200 + i);
    await waitFor("3 more blocks on the late node", () => late.ledger.chain.head.header.number >= target.header.number + 3n, 30_000);
    await waitFor("same head", () => late.ledger.chain.head.hash === source.ledger.chain.head.hash, 20_000);

    // restart mid-sync: a third node syncs with small requests, is stopped part-way, reopened on its data dir
    const [datadir, removeDatadir] = tempDir();
    const small = { sync: { headersPerRequest: 16, bodiesPerRequest: 4 } };
    const [third] = await startNetNode({ genesis, bootnodes: [addrOf(source)], datadir, p2p: small });
    await waitFor("the third node part-way", () => third.ledger.chain.head.header.number >= 40n, 60_000);
    const reached = third.ledger.chain.head.header.number;
    await third.stop();
    expect(reached).toBeLessThan(source.ledger.chain.head.header.number);
    const [again, stopAgain] = await startNetNode({ genesis, bootnodes: [addrOf(source)], datadir, p2p: small });
    onStop(async () => {
      await stopAgain();
      removeDatadir();
    });
    // it reopens at (or, if an import was finishing, just past) the block it had reached and goes on from there
    const reopened = again.ledger.chain.head.header.number;
    expect(reopened).toBeGreaterThanOrEqual(reached);
    expect(reopened).toBeLessThan(source.ledger.chain.head.header.number);
    await waitFor("the restarted node at the head", () => again.ledger.chain.head.hash === source.ledger.chain.head.hash, 60_000);
  }, 240_000);
});

describe("a full bootnode", () => {
  it("still introduces newcomers to the network, then lets them go", async () => {
    const genesis = await netGenesis();
    const boot = await start({ genesis, p2p: { maxPeers: 2 } });
    const nodes: VsNode[] = [];
    for (let i = 0; i < 4; i++) nodes.push(await start({ genesis, bootnodes: [addrOf(boot)], p2p: { maxPeers: 3 } }));
    // every newcomer ends with peers even though the bootnode keeps only two
    await waitFor("every newcomer connected to others", () => nodes.every((n) => n.network!.peers().some((p) => p.id !== boot.network!.peerId)), 20_000);
    await waitFor("the bootnode back at its limit", () => boot.network!.peerCount <= 2, 15_000);
    // and blocks still reach everyone
    const w = devWallet(9);
    await mineBlock(boot.ledger, keyOf(w), w.address.toLowerCase() as Hex);
    await mineBlock(boot.ledger, keyOf(devWallet(8)), devWallet(8).address.toLowerCase() as Hex);
    await waitFor("every node at block 2", () => nodes.every((n) => n.ledger.chain.head.hash === boot.ledger.chain.head.hash), 20_000);
  }, 60_000);
});

describe("peer statuses", () => {
  it("are asked for again once stale, so vs_peers shows each peer's current head", async () => {
    const genesis = await netGenesis();
    const a = await start({ genesis, p2p: { statusRefreshMs: 400 } });
    const b = await start({ genesis, bootnodes: [addrOf(a)], p2p: { statusRefreshMs: 400 } });
    await waitFor("connected", () => a.network!.peerCount === 1 && b.network!.peerCount === 1);
    expect(b.network!.peers()[0]!.head?.number).toBe(0n);
    for (let i = 0; i < 3; i++) {
      const w = devWallet(7 + i);
      await mineBlock(a.ledger, keyOf(w), w.address.toLowerCase() as Hex);
    }
    await waitFor("b sees a's head in its status", () => b.network!.peers()[0]?.head?.hash === a.ledger.chain.head.hash, 10_000);
    expect(b.network!.peers()[0]!.head!.number).toBe(3n);
  }, 30_000);
});
