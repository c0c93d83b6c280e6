import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Wallet } from "ethers";
import { encodeBody, type Block } from "../../../chain/blockchain.js";
import { headerHash } from "../../../chain/block.js";
import type { GenesisConfig } from "../../../chain/genesis.js";
import type { Hex } from "../../../chain/types.js";
import { MAX_BODIES_PER_REQUEST, MAX_HEADERS_PER_REQUEST, decodeBlockBody, type Status } from "../../../p2p/messages.js";
import { Syncer, serveBodies, serveHeaders, type SyncOptions, type SyncProgress } from "../../../p2p/sync.js";
import type { Ledger } from "../../../node/ledger.js";
import { devWallet, keyOf, openLedger, sendTransfer, tempDir, testGenesis, devAddress } from "../../helpers/ledger.js";
import { mineBlock } from "../../helpers/mine.js";
import { ChainPeers, type ChainPeer } from "../../helpers/syncPeers.js";

const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const HEIGHT = 200n;
const MINERS = [7, 8, 9];
const addr = devAddress;
const recipients = Array.from({ length: 4 }, () => Wallet.createRandom().address.toLowerCase() as Hex);

let genesis: GenesisConfig;
/** The chain every honest peer serves: 200 blocks by three miners, transfers in every fourth block. */
let source: Ledger;

beforeAll(async () => {
  genesis = await testGenesis();
  const [ledger, close] = await openLedger(genesis);
  closers.push(close);
  source = ledger;
  const nonces = [0, 0, 0];
  for (let n = 1; n <= Number(HEIGHT); n++) {
    if (n % 4 === 1 && n < 180) {
      for (const from of [0, 1, 2]) await sendTransfer(source, from, recipients[(n + from) % recipients.length]!, BigInt(n) * 10n ** 15n, nonces[from]!++);
    }
    const m = MINERS[n % MINERS.length]!;
    await mineBlock(source, keyOf(devWallet(m)), addr(m));
  }
  expect(source.chain.head.header.number).toBe(HEIGHT);
}, 60_000);

/** A started syncer over `peers`, on `given` or on a fresh ledger (in `datadir` if named); both closed after the file. */
async function syncing(
  peers: ChainPeers,
  opts: Partial<SyncOptions> = {},
  onProgress?: (p: SyncProgress | false) => void,
  { datadir, given }: { datadir?: string; given?: Ledger } = {},
): Promise<{ ledger: Ledger; syncer: Syncer; close: () => Promise<void> }> {
  const [ledger, closeLedger] = given ? [given, async () => undefined] : await openLedger(genesis, { datadir });
  const syncer = new Syncer(opts, { chain: ledger.chain, importBlock: (b) => ledger.importBlock(b), peers, onProgress });
  const close = async (): Promise<void> => {
    await syncer.stop();
    await closeLedger();
  };
  closers.push(close);
  syncer.start();
  return { ledger, syncer, close };
}

/** A ledger holding the source's first `shared` blocks, then `own` blocks of its own (lighter than the source). */
async function forkOfSource(shared: bigint, own: number): Promise<{ ledger: Ledger; branch: Block[] }> {
  const [ledger, close] = await openLedger(genesis);
  closers.push(close);
  for (let n = 1n; n <= shared; n++) await ledger.importBlock((await source.chain.getBlockByNumber(n))!);
  // mined by the miners that did not seal the source's next block, so no one equivocates
  const next = (await source.chain.getBlockByNumber(shared + 1n))!.header.miner.toLowerCase();
  const miners = MINERS.filter((m) => addr(m) !== next);
  const branch: Block[] = [];
  for (let i = 0; i < own; i++) {
    const m = miners[i % miners.length]!;
    branch.push(await mineBlock(ledger, keyOf(devWallet(m)), addr(m)));
  }
  expect(ledger.chain.head.header.number).toBe(shared + BigInt(own));
  return { ledger, branch };
}

/** Balances and nonces of every account the source chain touched. */
async function accounts(ledger: Ledger): Promise<unknown[]> {
  const state = ledger.chain.headState();
  const who = [...genesis.alloc.keys(), ...recipients, ...MINERS.map(addr)];
  return Promise.all(who.map(async (a) => ({ a, ...(await state.getAccount(a)) })));
}

async function expectSameChainAsSource(ledger: Ledger): Promise<void> {
  expect(ledger.chain.head.hash).toBe(source.chain.head.hash);
  expect(ledger.chain.headTotalDifficulty).toBe(source.chain.headTotalDifficulty);
  expect(await accounts(ledger)).toEqual(await accounts(source));
}

const honest = (): ChainPeer => ({ chain: source.chain });
/** A status rewrite that claims `extra` more total difficulty than the chain has. */
const heavier =
  (extra: bigint) =>
  (s: Status): Status => ({ ...s, totalDifficulty: s.totalDifficulty + extra });

describe("header-first sync", () => {
  it("syncs 200 blocks with transfers from one peer, reporting progress, then reports false", async () => {
    const peers = new ChainPeers().add("a", honest());
    const seen: (SyncProgress | false)[] = [];
    const { ledger, syncer } = await syncing(peers, {}, (p) => seen.push(p));
    expect(syncer.progress()).toEqual({ startingBlock: 0n, currentBlock: 0n, highestBlock: HEIGHT });
    await syncer.idle();

    await expectSameChainAsSource(ledger);
    const txs = (await Promise.all([5n, 9n, 177n].map((n) => ledger.chain.getBlockByNumber(n)))).map((b) => b!.transactions.length);
    expect(txs).toEqual([3, 3, 3]);
    const during = seen.filter((p): p is SyncProgress => p !== false);
    expect(during.length).toBe(Number(HEIGHT));
    expect(during.map((p) => p.currentBlock)).toEqual(Array.from({ length: Number(HEIGHT) }, (_, i) => BigInt(i + 1)));
    expect(during.every((p) => p.startingBlock === 0n && p.highestBlock === HEIGHT)).toBe(true);
    expect(seen.at(-1)).toBe(false);
    expect(syncer.progress()).toBe(false);
    // requests stay within the protocol's caps
    expect(peers.headerRequests.every((r) => r.count <= MAX_HEADERS_PER_REQUEST)).toBe(true);
    expect(peers.bodyRequests.every((r) => r.hashes.length >= 1 && r.hashes.length <= 32)).toBe(true);
    expect(peers.penalties).toEqual([]);
  }, 30_000);

  it("fetches bodies from several peers in parallel", async () => {
    const peers = new ChainPeers().add("p1", honest()).add("p2", honest()).add("p3", honest());
    const { ledger, syncer } = await syncing(peers);
    await syncer.idle();

    await expectSameChainAsSource(ledger);
    const servers = [...peers.bodiesServed].filter(([, n]) => n > 0).map(([id]) => id);
    expect(servers.length).toBeGreaterThan(1);
    // every block's body was asked for, and none twice
    const asked = peers.bodyRequests.flatMap((r) => r.hashes);
    expect(new Set(asked).size).toBe(asked.length);
    expect(asked.length).toBe(Number(HEIGHT));
    // headers came from one peer only
    expect(new Set(peers.headerRequests.map((r) => r.peerId)).size).toBe(1);
  }, 30_000);

  it("reorganises onto a peer's heavier fork", async () => {
    const { ledger, branch } = await forkOfSource(50n, 5);
    const peers = new ChainPeers().add("a", honest());
    const seen: SyncProgress[] = [];
    const { syncer } = await syncing(peers, {}, (p) => p && seen.push(p), { given: ledger });
    await syncer.idle();

    await expectSameChainAsSource(ledger);
    for (const b of branch) {
      expect(await ledger.chain.getCanonicalHash(b.header.number)).not.toBe(b.hash);
      expect(await ledger.chain.getTotalDifficulty(b.hash)).toBeDefined();
    }
    expect(seen[0]!.startingBlock).toBe(55n);
    // the ancestor search found block 50 in one range; bodies were fetched from block 51 on only
    expect(peers.headerRequests[0]).toEqual({ peerId: "a", start: 0n, count: 56 });
    const first = await source.chain.getCanonicalHash(51n);
    expect(peers.bodyRequests[0]!.hashes[0]).toBe(first);
    expect(peers.bodyRequests.flatMap((r) => r.hashes)).toHaveLength(Number(HEIGHT) - 50);
  }, 30_000);

  it("finds the ancestor of a deep fork in a few doubling steps and fetches only the blocks it lacks", async () => {
    const { ledger } = await forkOfSource(10n, 40);
    const peers = new ChainPeers().add("a", honest());
    // small ranges so that the doubling step outgrows them and the search leaves gaps
    const { syncer } = await syncing(peers, { ancestorStep: 4, headersPerRequest: 8 }, undefined, { given: ledger });
    await syncer.idle();

    await expectSameChainAsSource(ledger);
    // back from 50: [47, 50], [39, 46], then steps of 16 and 32 with gaps, then genesis
    expect(peers.headerRequests.slice(0, 5).map((r) => [r.start, r.count])).toEqual([
      [47n, 4],
      [39n, 8],
      [31n, 8],
      [15n, 8],
      [0n, 1],
    ]);
    // forward from genesis, the known blocks 1..10 are skipped: bodies from block 11 on only
    expect(peers.headerRequests[5]).toEqual({ peerId: "a", start: 1n, count: 8 });
    const asked = peers.bodyRequests.flatMap((r) => r.hashes);
    expect(asked).toHaveLength(Number(HEIGHT) - 10);
    expect(asked[0]).toBe(await source.chain.getCanonicalHash(11n));
    expect(peers.headerRequests.every((r) => r.count <= 8)).toBe(true);
  }, 30_000);

  it("follows a peer whose head moves on during the sync, in the same pass", async () => {
    const at = async (n: bigint): Promise<{ hash: Hex; td: bigint }> => {
      const hash = (await source.chain.getCanonicalHash(n))!;
      return { hash, td: (await source.chain.getTotalDifficulty(hash))! };
    };
    const tips = new Map([
      [100n, await at(100n)],
      [200n, await at(200n)],
    ]);
    let head = 100n;
    const peers = new ChainPeers().add("a", {
      chain: source.chain,
      // announces only part of its chain at first, as a peer still mining would
      status: (s) => ({ ...s, headNumber: head, headHash: tips.get(head)!.hash, totalDifficulty: tips.get(head)!.td }),
    });
    const seen: (SyncProgress | false)[] = [];
    const holder: { syncer?: Syncer } = {};
    const run = await syncing(peers, {}, (p) => {
      seen.push(p);
      if (p && p.currentBlock === 50n) {
        head = 200n;
        holder.syncer?.peerUpdated("a");
      }
    });
    holder.syncer = run.syncer;
    await run.syncer.idle();

    await expectSameChainAsSource(run.ledger);
    // one sync, no second ancestor search: the new target was picked up between ranges
    expect(seen.filter((p) => p === false)).toHaveLength(1);
    expect(peers.headerRequests.map((r) => [r.start, r.count])).toEqual([
      [0n, 1],
      [1n, 100],
      [101n, 100],
    ]);
    const during = seen.filter((p): p is SyncProgress => p !== false);
    expect(during.find((p) => p.currentBlock === 40n)!.highestBlock).toBe(100n);
    expect(during.find((p) => p.currentBlock === 60n)!.highestBlock).toBe(200n);
  }, 30_000);

  it("penalizes the peer whose chain holds an invalid block, and syncs from an honest one", async () => {
    const real = (await source.chain.getBlockByNumber(1n))!;
    // same parent, same transactions, but the seal no longer covers the header
    const forged = { ...real.header, timestamp: real.header.timestamp + 1n };
    const forgedHash = headerHash(forged);
    const peers = new ChainPeers()
      .add("forger", {
        chain: source.chain,
        status: (s) => ({ ...s, headNumber: 1n, headHash: forgedHash, totalDifficulty: s.totalDifficulty + 1000n }),
        headers: (hs) => hs.map((h) => (h.number === 1n ? forged : h)),
        bodies: (bs, hashes) => (hashes[0] === forgedHash ? [encodeBody(real.transactions)] : bs),
      })
      .add("honest", honest());
    const { ledger, syncer } = await syncing(peers);
    await syncer.idle();

    await expectSameChainAsSource(ledger);
    expect(await ledger.chain.getTotalDifficulty(forgedHash)).toBeUndefined();
    const forger = peers.penalties.filter((p) => p.peerId === "forger");
    expect(forger).toHaveLength(1);
    expect(forger[0]!.fatal).toBe(true);
    expect(forger[0]!.reason).toMatch(/block 1 is invalid: SEAL_/);
    expect(peers.penalties.filter((p) => p.peerId === "honest")).toEqual([]);
    expect(syncer.progress()).toBe(false);
  }, 30_000);

  it("penalizes a peer whose headers do not link and completes from an honest peer", async () => {
    const peers = new ChainPeers()
      .add("liar", {
        chain: source.chain,
        // claims the most weight, so it is asked first
        status: heavier(1000n),
        headers: (hs) => hs.map((h, i) => (i === 10 ? { ...h, extraData: "0x01" as Hex } : h)),
      })
      .add("honest", honest());
    const { ledger, syncer } = await syncing(peers);
    await syncer.idle();

    await expectSameChainAsSource(ledger);
    const liar = peers.penalties.filter((p) => p.peerId === "liar");
    expect(liar).toHaveLength(1);
    expect(liar[0]!.fatal).toBe(true);
    expect(liar[0]!.reason).toMatch(/does not link/);
    expect(peers.penalties.filter((p) => p.peerId === "honest")).toEqual([]);
    // still announcing more weight, but not asked again: the sync is over
    expect(syncer.progress()).toBe(false);
    expect(peers.headerRequests.filter((r) => r.peerId === "liar")).toHaveLength(2);
    expect(peers.bodyRequests.filter((r) => r.peerId === "liar")).toEqual([]);
  }, 30_000);

  it("penalizes a peer whose bodies do not match their headers and imports the right bodies", async () => {
    const peers = new ChainPeers()
      .add("honest", honest())
      // answers every body with an empty one: wrong for every block with transfers
      .add("emptyBodies", { chain: source.chain, bodies: (bs) => bs.map(() => encodeBody([])) });
    const { ledger, syncer } = await syncing(peers);
    await syncer.idle();

    await expectSameChainAsSource(ledger);
    expect((await ledger.chain.getBlockByNumber(1n))!.transactions).toHaveLength(3);
    const bad = peers.penalties.filter((p) => p.peerId === "emptyBodies");
    expect(bad.length).toBe(1);
    expect(bad[0]!.fatal).toBe(true);
    expect(bad[0]!.reason).toMatch(/transactionsRoot/);
    expect(peers.penalties.filter((p) => p.peerId === "honest")).toEqual([]);
    expect(peers.bodyRequests.some((r) => r.peerId === "emptyBodies")).toBe(true);
  }, 30_000);

  it("penalizes a silent peer lightly after the request timeout, completes from another, and tries it again later", async () => {
    const peers = new ChainPeers().add("silent", { chain: source.chain, silent: true, status: heavier(1000n) }).add("honest", honest());
    const started = Date.now();
    const { ledger, syncer, close } = await syncing(peers, { requestTimeoutMs: 300, retryMs: 200 });
    await syncer.idle();

    await expectSameChainAsSource(ledger);
    const silent = peers.penalties.filter((p) => p.peerId === "silent");
    expect(silent).toHaveLength(1);
    expect(silent[0]).toMatchObject({ fatal: false, reason: expect.stringMatching(/no answer within 300 ms/) as unknown as string });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    // failed once, so no body was asked of it
    expect(peers.bodyRequests.filter((r) => r.peerId === "silent")).toEqual([]);
    // it still announces more weight: asked again after retryMs, times out again
    await peers.penalized("silent", 2);
    expect(peers.headerRequests.filter((r) => r.peerId === "silent")).toHaveLength(2);
    await close();
    expect(syncer.progress()).toBe(false);
  }, 30_000);

  it("penalizes a peer on another genesis, by its status or by its block 0, and imports nothing", async () => {
    const other = await testGenesis({ initialDifficulty: 3n });
    const [alien, closeAlien] = await openLedger(other);
    closers.push(closeAlien);
    for (const m of [7, 8]) await mineBlock(alien, keyOf(devWallet(m)), addr(m));
    const ours = source.chain.genesisHash;
    expect(alien.chain.genesisHash).not.toBe(ours);

    const peers = new ChainPeers()
      .add("honestAlien", { chain: alien.chain, status: heavier(10n ** 6n) })
      .add("lyingAlien", { chain: alien.chain, status: (s) => ({ ...s, genesisHash: ours, totalDifficulty: 10n ** 6n }) });
    const { ledger, syncer } = await syncing(peers);
    await syncer.idle();

    expect(ledger.chain.head.header.number).toBe(0n);
    expect(peers.penalties.map((p) => [p.peerId, p.fatal])).toEqual(
      expect.arrayContaining([
        ["honestAlien", true],
        ["lyingAlien", true],
      ]),
    );
    expect(peers.penalties).toHaveLength(2);
    // the first is refused on its status alone; the second after one look at its block 0
    expect(peers.headerRequests).toEqual([{ peerId: "lyingAlien", start: 0n, count: 1 }]);
    expect(peers.bodyRequests).toEqual([]);
    expect(syncer.progress()).toBe(false);
  }, 30_000);

  it("resumes after a restart mid-sync from where it stopped", async () => {
    const [dir, removeDir] = tempDir();
    closers.push(removeDir);
    const first = new ChainPeers().add("a", honest());
    let stopping: Promise<void> | null = null;
    let syncer: Syncer | null = null;
    const run1 = await syncing(
      first,
      {},
      (p) => {
        if (p && syncer && p.currentBlock >= 80n && !stopping) stopping = syncer.stop();
      },
      { datadir: dir },
    );
    syncer = run1.syncer;
    await run1.syncer.idle();
    await stopping;
    const stoppedAt = run1.ledger.chain.head.header.number;
    expect(stoppedAt).toBeGreaterThanOrEqual(80n);
    expect(stoppedAt).toBeLessThan(HEIGHT);
    const requestsAtStop = first.headerRequests.length + first.bodyRequests.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(first.headerRequests.length + first.bodyRequests.length).toBe(requestsAtStop);
    expect(run1.ledger.chain.head.header.number).toBe(stoppedAt);
    await run1.close();

    const second = new ChainPeers().add("a", honest());
    const seen: SyncProgress[] = [];
    const run2 = await syncing(second, {}, (p) => p && seen.push(p), { datadir: dir });
    expect(run2.ledger.chain.head.header.number).toBe(stoppedAt);
    await run2.syncer.idle();

    await expectSameChainAsSource(run2.ledger);
    expect(seen[0]!.startingBlock).toBe(stoppedAt);
    // one range back from our head finds it; then only what is missing is fetched
    expect(second.headerRequests[0]).toEqual({ peerId: "a", start: stoppedAt - 63n, count: 64 });
    expect(second.headerRequests[1]!.start).toBe(stoppedAt + 1n);
    expect(second.headerRequests.slice(1).every((r) => r.start > stoppedAt)).toBe(true);
    const asked = second.bodyRequests.flatMap((r) => r.hashes);
    expect(asked).toHaveLength(Number(HEIGHT - stoppedAt));
    expect(asked[0]).toBe(await source.chain.getCanonicalHash(stoppedAt + 1n));
  }, 40_000);
});

describe("serving sync requests", () => {
  it("clips a headers request to the cap and to our head, and answers nothing past it", async () => {
    const all = await serveHeaders(source.chain, { start: 0n, count: 1000 });
    expect(all).toHaveLength(MAX_HEADERS_PER_REQUEST);
    all.forEach((h, i) => {
      expect(h.number).toBe(BigInt(i));
      if (i > 0) expect(h.parentHash).toBe(headerHash(all[i - 1]!));
    });
    expect(headerHash(all[0]!)).toBe(source.chain.genesisHash);

    const tail = await serveHeaders(source.chain, { start: 190n, count: 50 });
    expect(tail.map((h) => h.number)).toEqual(Array.from({ length: 11 }, (_, i) => 190n + BigInt(i)));
    expect(headerHash(tail.at(-1)!)).toBe(source.chain.head.hash);
    expect(await serveHeaders(source.chain, { start: HEIGHT + 1n, count: 5 })).toEqual([]);
    expect(await serveHeaders(source.chain, { start: 0n, count: 0 })).toEqual([]);
  });

  it("serves bodies in order, stopping at the first unknown block, at most the cap", async () => {
    const blocks = await Promise.all([1n, 2n, 3n, 4n].map(async (n) => (await source.chain.getBlockByNumber(n))!));
    const unknown = `0x${"ab".repeat(32)}` as Hex;
    const bodies = await serveBodies(source.chain, [blocks[0]!.hash, blocks[1]!.hash, blocks[2]!.hash, unknown, blocks[3]!.hash]);
    expect(bodies).toHaveLength(3);
    bodies.forEach((body, i) => {
      expect(body).toEqual(encodeBody(blocks[i]!.transactions));
      expect(decodeBlockBody(blocks[i]!.header, body, genesis.chainId).transactions.map((t) => t.hash)).toEqual(blocks[i]!.transactions.map((t) => t.hash));
    });
    expect(bodies[0]!.length).toBeGreaterThan(100);
    expect(await serveBodies(source.chain, [unknown, blocks[0]!.hash])).toEqual([]);

    const many = await Promise.all(Array.from({ length: 70 }, async (_, i) => (await source.chain.getCanonicalHash(BigInt(i + 1)))!));
    expect(await serveBodies(source.chain, many)).toHaveLength(MAX_BODIES_PER_REQUEST);
  });
});
