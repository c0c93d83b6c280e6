import { afterAll, describe, expect, it } from "@jest/globals";
import { keccak256 as ethersKeccak, randomBytes } from "ethers";
import {
  ChainError,
  ChainErrorCode,
  EMPTY_TRIE_ROOT,
  decodeSubRef,
  payloadHash,
  payloadProof,
  subBlockHash,
  subchainsRoot,
  verifyPayloadProof,
  type GenesisConfig,
  type Hex,
  type SubBlockHeader,
} from "../../../chain/index.js";
import type { Ledger } from "../../../node/ledger.js";
import { isInvalidBlockError } from "../../../p2p/validity.js";
import { devAddress, openLedger, tempDir, testGenesis } from "../../helpers/ledger.js";
import { mineAs } from "../../helpers/mine.js";
import { registry, sendModuleCall } from "../../helpers/modules.js";
import { startTestNode } from "../../helpers/node.js";
import { codeOf } from "../../helpers/rejection.js";

const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const POSTS = 1;
const BT = 2;
const addr = devAddress;
const mine = mineAs;

async function open(genesis: GenesisConfig, datadir?: string): Promise<Ledger> {
  const [l, close] = await openLedger(genesis, { subchains: [POSTS], ...(datadir ? { datadir } : {}) });
  closers.push(close);
  return l;
}

/** Pools a publish of a fresh payload on `subchainId` from dev account `from`; returns the transaction hash and the payload. */
async function publish(l: Ledger, from: number, subchainId: number, nonce: number, size = 200): Promise<{ tx: Hex; payload: Uint8Array }> {
  const payload = randomBytes(size);
  const data = registry.encodeFunctionData("publish", [ethersKeccak(payload), subchainId, 10n ** 18n, ethersKeccak(randomBytes(32)), 10n]);
  const tx = await sendModuleCall(l, from, { data, nonce, payload });
  return { tx, payload };
}

/** The subRef of the ContentPublished log of a mined transaction. */
async function publishedSubRef(l: Ledger, tx: Hex): Promise<ReturnType<typeof decodeSubRef>> {
  const at = (await l.chain.getTxLocation(tx))!;
  const receipt = (await l.chain.getReceipts(at.blockHash))![at.index]!;
  const log = receipt.logs.map((g) => registry.parseLog(g)).find((p) => p?.name === "ContentPublished")!;
  return decodeSubRef(log.args.subRef as bigint);
}

describe("sub-blocks in main blocks (RocksDB)", () => {
  it("mines publishes into one sub-block per sub-chain; ContentPublished points at the payload and its proof verifies", async () => {
    const l = await open(await testGenesis());
    const a = await publish(l, 0, POSTS, 0);
    const b = await publish(l, 1, POSTS, 0);
    const c = await publish(l, 2, BT, 0);
    const block = await mine(l);
    expect(block.transactions.map((t) => t.hash).sort()).toEqual([a.tx, b.tx, c.tx].sort());
    expect(block.subBlocks!.map((h) => [h.subchainId, h.number, h.payloadCount])).toEqual([
      [POSTS, 1n, 2],
      [BT, 1n, 1],
    ]);
    expect(block.header.subchainsRoot).toBe(subchainsRoot(block.subBlocks!));
    const stored = (await l.chain.getBlock(block.hash))!;
    expect(stored.subBlocks).toEqual(block.subBlocks);

    for (const { tx, payload } of [a, b, c]) {
      const ref = await publishedSubRef(l, tx);
      const subHash = (await l.chain.subchains.getCanonicalHash(ref.subchainId, ref.subNumber))!;
      const sub = (await l.chain.subchains.getSubBlock(subHash))!;
      expect(sub.payloadHashes[ref.index]).toBe(payloadHash(payload));
      const proof = payloadProof(sub.payloadHashes, ref.index);
      expect(verifyPayloadProof(sub.header.payloadRoot, payloadHash(payload), proof, ref.index)).toBe(true);
    }
    // posts is followed, so its payloads are stored; bt is not
    expect(await l.chain.subchains.getPayload(payloadHash(a.payload))).toEqual(a.payload);
    expect(await l.chain.subchains.getPayload(payloadHash(c.payload))).toBeUndefined();
    expect((await l.chain.subchains.getPayloadProof(payloadHash(b.payload)))!.index).toBe(
      block.transactions.filter((t) => t.hash === a.tx || t.hash === b.tx).findIndex((t) => t.hash === b.tx),
    );
    // the payloads left the pool with their transactions
    expect(l.payloads.size).toBe(0);

    // the next sub-block of posts follows the first
    const d = await publish(l, 0, POSTS, 1);
    const next = await mine(l);
    expect(next.subBlocks!.map((h) => [h.subchainId, h.number, h.parentHash])).toEqual([[POSTS, 2n, subBlockHash(block.subBlocks![0]!)]]);
    expect(await publishedSubRef(l, d.tx)).toEqual({ subchainId: POSTS, subNumber: 2n, index: 0 });
  });

  it("leaves a publish out while its payload is missing", async () => {
    const l = await open(await testGenesis());
    const payload = randomBytes(100);
    const data = registry.encodeFunctionData("publish", [ethersKeccak(payload), POSTS, 1n, ethersKeccak(randomBytes(32)), 10n]);
    const tx = await sendModuleCall(l, 0, { data, nonce: 0 });
    const empty = await mine(l);
    expect(empty.transactions).toEqual([]);
    expect(empty.header.subchainsRoot).toBe(EMPTY_TRIE_ROOT);
    l.payloads.add(POSTS, payload);
    const block = await mine(l);
    expect(block.transactions.map((t) => t.hash)).toEqual([tx]);
    expect(block.subBlocks!.length).toBe(1);
  });

  it("refuses a block whose sub-block lacks or mismatches a payload, and p2p counts it invalid", async () => {
    const genesis = await testGenesis();
    const producer = await open(genesis);
    const l = await open(genesis);
    await publish(producer, 0, POSTS, 0);
    const job = await producer.producer.job(addr(9));
    const { header, transactions, subBlocks } = job.template;
    const sub = subBlocks[0]!;
    const tryImport = (subs: SubBlockHeader[], root = subchainsRoot(subs)): Promise<string> =>
      codeOf(l.chain.importBlock({ header: { ...header, subchainsRoot: root }, transactions, hash: `0x${"11".repeat(32)}`, subBlocks: subs }));

    // no sub-block at all: the publish has no payload
    const none = await tryImport([]);
    // a sub-block over another payload
    const other: SubBlockHeader = { ...sub, payloadRoot: ethersKeccak(randomBytes(32)) as Hex };
    const wrong = await tryImport([other]);
    // a sub-block claiming two payloads for one publish
    const extra = await tryImport([{ ...sub, payloadCount: 2, payloadBytes: sub.payloadBytes + 1, payloadLengths: [...sub.payloadLengths, 1] }]);
    // a sub-block that does not follow the sub-chain's tip
    const unlinked = await tryImport([{ ...sub, number: 5n }]);
    // a header whose subchainsRoot does not commit to the sub-blocks
    const badRoot = await tryImport([sub], EMPTY_TRIE_ROOT);
    expect([none, wrong, extra, unlinked, badRoot]).toEqual([
      ChainErrorCode.MISSING_PAYLOAD,
      ChainErrorCode.MISSING_PAYLOAD,
      ChainErrorCode.MISSING_PAYLOAD,
      ChainErrorCode.BAD_SUB_BLOCK,
      ChainErrorCode.BAD_SUBCHAINS_ROOT,
    ]);
    for (const code of [none, unlinked, badRoot]) expect(isInvalidBlockError(new ChainError({ code: code as ChainErrorCode }))).toBe(true);
    expect(l.chain.head.header.number).toBe(0n);
  });

  it("moves the canonical sub-chains with a reorg, restores state and re-pools the publish with its payload", async () => {
    const genesis = await testGenesis();
    const a = await open(genesis);
    const b = await open(genesis);
    const { tx, payload } = await publish(a, 0, POSTS, 0);
    const published = await mine(a, 7);
    const sub1 = subBlockHash(published.subBlocks![0]!);
    expect(await a.chain.subchains.getCanonicalHash(POSTS, 1n)).toBe(sub1);

    const branch = [await mine(b, 8), await mine(b, 8)];
    for (const block of branch) await a.importBlock(block);
    await a.settled();
    expect(a.chain.head.hash).toBe(branch[1]!.hash);
    expect(await a.chain.subchains.getCanonicalHash(POSTS, 1n)).toBeUndefined();
    expect(await a.chain.subchains.getPayloadLocation(payloadHash(payload))).toBeUndefined();
    expect(await a.chain.getTxLocation(tx)).toBeUndefined();
    const [tips, parentTips] = await Promise.all([a.chain.tipsAfter(a.chain.head.hash), a.chain.tipsAfter(genesisHashOf(a))]);
    expect(tips).toEqual(parentTips);
    // the publish is back in the pool with its payload, and is mined again into a new sub-block 1
    expect(a.pool.has(tx)).toBe(true);
    expect(a.payloads.payloadsFor(tx)).toEqual([payload]);
    const again = await mine(a, 9);
    expect(again.transactions.map((t) => t.hash)).toEqual([tx]);
    const sub1b = subBlockHash(again.subBlocks![0]!);
    expect(again.subBlocks![0]!.number).toBe(1n);
    expect(await a.chain.subchains.getCanonicalHash(POSTS, 1n)).toBe(sub1b);
    expect(await publishedSubRef(a, tx)).toEqual({ subchainId: POSTS, subNumber: 1n, index: 0 });

    // the same payload on the same parent sub-block: the same sub-block, sealed by another main block
    expect(sub1b).toBe(sub1);
    expect(await a.chain.subchains.getSealed(again.hash)).toEqual([sub1]);

    // on b the first branch's block is a side block: its sub-block is stored, not canonical
    expect((await b.importBlock(published)).status).toBe("side");
    expect(await b.chain.subchains.getHeader(sub1)).toEqual(published.subBlocks![0]);
    expect(await b.chain.subchains.getCanonicalHash(POSTS, 1n)).toBeUndefined();
    expect((await b.importBlock(again)).status).toBe("head");
    expect(await b.chain.subchains.getCanonicalHash(POSTS, 1n)).toBe(sub1b);
  });

  it("imports a block whose followed payload it lacks, records the payload as wanted and stores only the matching bytes", async () => {
    const genesis = await testGenesis();
    const a = await open(genesis);
    const b = await open(genesis);
    const { payload } = await publish(a, 0, POSTS, 0);
    const bt = await publish(a, 1, BT, 0);
    const block = await mine(a);
    expect((await b.importBlock(block)).status).toBe("head");
    // b follows posts, not bt: only the posts payload is wanted
    expect(await b.chain.subchains.getWantedPayloads()).toEqual([{ hash: payloadHash(payload), subchainId: POSTS }]);
    expect(await b.chain.subchains.getPayload(payloadHash(payload))).toBeUndefined();
    expect(await b.chain.subchains.storeWantedPayload(bt.payload)).toBe(false);
    expect(await b.chain.subchains.storeWantedPayload(randomBytes(200))).toBe(false);
    expect(await b.chain.subchains.storeWantedPayload(payload)).toBe(true);
    expect(await b.chain.subchains.getPayload(payloadHash(payload))).toEqual(payload);
    expect(await b.chain.subchains.getWantedPayloads()).toEqual([]);
    expect(await b.chain.subchains.storeWantedPayload(payload)).toBe(false);
  });

  it("reopens the sub-chain tips after a restart", async () => {
    const genesis = await testGenesis();
    const [dir, remove] = tempDir();
    closers.push(remove);
    const [first, closeFirst] = await openLedger(genesis, { datadir: dir, subchains: [POSTS] });
    await publish(first, 0, POSTS, 0);
    const block = await mine(first);
    const tips = await first.chain.tipsAfter(block.hash);
    await closeFirst();

    const l = await open(genesis, dir);
    expect(l.chain.head.hash).toBe(block.hash);
    expect(await l.chain.tipsAfter(l.chain.head.hash)).toEqual(tips);
    const { tx } = await publish(l, 0, POSTS, 1);
    const next = await mine(l);
    expect(next.subBlocks![0]!.parentHash).toBe(tips.get(POSTS));
    expect(await publishedSubRef(l, tx)).toEqual({ subchainId: POSTS, subNumber: 2n, index: 0 });
  });
});

describe("the genesis block seals the genesis sub-blocks (RocksDB)", () => {
  it("stores them as the genesis block's sealed sub-blocks, and refuses a genesis file differing only in a sub-chain parameter", async () => {
    const genesis = await testGenesis();
    const [dir, remove] = tempDir();
    closers.push(remove);
    const [first, closeFirst] = await openLedger(genesis, { datadir: dir, subchains: [POSTS] });
    const stored = (await first.chain.getBlock(first.chain.genesisHash))!;
    expect(stored.header.subchainsRoot).toBe(subchainsRoot(stored.subBlocks!));
    expect(await first.chain.subchains.getSealed(first.chain.genesisHash)).toEqual(stored.subBlocks!.map(subBlockHash));
    await closeFirst();

    const changed = { ...genesis, subchains: genesis.subchains.map((d) => (d.id === BT ? { ...d, maxPayloadBytes: d.maxPayloadBytes - 1 } : d)) };
    await expect(openLedger(changed, { datadir: dir })).rejects.toMatchObject({ code: ChainErrorCode.WRONG_GENESIS });
    const again = await open(genesis, dir);
    expect(again.chain.genesisHash).toBe(stored.hash);
  });
});

function genesisHashOf(l: Ledger): Hex {
  return l.chain.genesisHash;
}

describe("followed sub-chains (--subchains)", () => {
  it("stores payloads of the named sub-chains and pins, and refuses an unknown name", async () => {
    const [node, close] = await startTestNode({ mine: false, subchains: ["posts"] });
    closers.push(close);
    const follows = [0, 1, 2, 3].map((id) => node.ledger.chain.subchains.follows(id));
    expect(follows).toEqual([true, true, false, false]);
    const [dir, remove] = tempDir();
    closers.push(remove);
    await expect(startTestNode({ datadir: dir, subchains: ["posts", "nope"] })).rejects.toThrow(/unknown sub-chain "nope": the genesis declares pins, posts, bt, comments/);
  });
});
