import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { fileURLToPath } from "node:url";
import { RocksStore } from "../../../chain/db/rocksStore.js";
import { loadGenesis, type SubchainDeclaration } from "../../../chain/genesis.js";
import { type SubBlock, buildSubBlock, genesisSubBlock, payloadHash, verifyPayloadProof } from "../../../chain/subchain.js";
import { SubchainStore, nextTips } from "../../../chain/subchainStore.js";
import type { Hex } from "../../../chain/types.js";
import { tempDir } from "../../helpers/ledger.js";

const DEV = fileURLToPath(new URL("../../../genesis/dev.json", import.meta.url));
const PINS = 0;
const POSTS = 1;
const BT = 2;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const mainHash = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}` as Hex;

describe("SubchainStore on RocksDB", () => {
  let subchains: SubchainDeclaration[];
  let dir: string;
  let removeDir: () => void;
  let rocks: RocksStore;
  let store: SubchainStore;
  const genesisMain = mainHash(0xaa);

  beforeEach(async () => {
    subchains = (await loadGenesis(DEV)).subchains;
    [dir, removeDir] = tempDir();
    rocks = new RocksStore({ path: dir });
    await rocks.start();
    store = new SubchainStore({ followed: [POSTS] }, { store: rocks, subchains });
    await rocks.batch(store.genesisOps(genesisMain));
  });

  afterEach(async () => {
    await rocks.stop();
    removeDir();
  });

  const genesisOf = (id: number): SubBlock => genesisSubBlock(subchains.find((d) => d.id === id)!).subBlock;

  /** Stores main block `hash` (child of `parent`) sealing sub-blocks built from `payloads` by sub-chain id; returns them. */
  async function seal(hash: Hex, parent: Hex, payloads: Map<number, Uint8Array[]>, canonical = true): Promise<SubBlock[]> {
    const tips = (await store.getTips(parent))!;
    const sealed: SubBlock[] = [];
    for (const [id, ps] of [...payloads].sort(([a], [b]) => a - b)) {
      sealed.push(buildSubBlock((await store.getHeader(tips.get(id)!))!, ps));
    }
    const ops = [...store.sealOps(hash, sealed, tips), ...[...payloads].flatMap(([id, ps]) => store.payloadOps(id, ps))];
    if (canonical) ops.push(...store.canonicalOps([], sealed));
    await rocks.batch(ops);
    return sealed;
  }

  it("writes the genesis sub-block of every declared sub-chain as number 0, sealed by the genesis block, and the tips after it", async () => {
    const tips = (await store.getTips(genesisMain))!;
    expect([...tips.keys()]).toEqual([0, 1, 2, 3]);
    for (const d of subchains) {
      const g = genesisOf(d.id);
      expect(await store.getCanonicalHash(d.id, 0n)).toBe(g.hash);
      expect(tips.get(d.id)).toBe(g.hash);
      expect(await store.getHeader(g.hash)).toEqual(g.header);
      expect(await store.getSubBlock(g.hash)).toEqual(g);
      expect(await store.getPayloadLocation(g.payloadHashes[0]!)).toEqual({ subBlockHash: g.hash, index: 0 });
      // the declaration payload itself only where the node follows the sub-chain
      expect((await store.getPayload(g.payloadHashes[0]!)) !== undefined).toBe(d.id === PINS || d.id === POSTS);
    }
    // the genesis main block seals them (its subchainsRoot commits to them)
    expect(await store.getSealed(genesisMain)).toEqual(subchains.map((d) => genesisOf(d.id).hash));
  });

  it("follows pins always and only declared sub-chains", () => {
    expect(store.follows(PINS)).toBe(true);
    expect(store.follows(POSTS)).toBe(true);
    expect(store.follows(BT)).toBe(false);
    expect(new SubchainStore({}, { store: rocks, subchains }).follows(PINS)).toBe(true);
    expect(() => new SubchainStore({ followed: [9] }, { store: rocks, subchains })).toThrow("cannot follow sub-chain 9");
  });

  it("returns writes without making them: nothing is visible before the caller's batch", async () => {
    const tips = (await store.getTips(genesisMain))!;
    const sb = buildSubBlock(genesisOf(POSTS).header, [enc("hello")]);
    const ops = [...store.sealOps(mainHash(1), [sb], tips), ...store.canonicalOps([], [sb]), ...store.payloadOps(POSTS, [enc("hello")])];
    expect(await store.getHeader(sb.hash)).toBeUndefined();
    expect(await store.getTips(mainHash(1))).toBeUndefined();
    expect(await store.getCanonicalHash(POSTS, 1n)).toBeUndefined();
    expect(await store.getPayload(payloadHash(enc("hello")))).toBeUndefined();
    await rocks.batch(ops);
    expect(await store.getHeader(sb.hash)).toEqual(sb.header);
  });

  it("stores what a main block seals: headers and payload hashes of all, payloads of followed sub-chains, tips", async () => {
    const posts = [enc("post one"), enc("post two"), enc("post three")];
    const bt = [enc("manifest")];
    const sealed = await seal(mainHash(1), genesisMain, new Map([[POSTS, posts], [BT, bt]]));
    expect(sealed.map((s) => s.header.subchainId)).toEqual([POSTS, BT]);
    expect(await store.getSealed(mainHash(1))).toEqual(sealed.map((s) => s.hash));
    expect(await store.getSealedSubBlocks(mainHash(1))).toEqual(sealed);
    expect(await store.getTips(mainHash(1))).toEqual(nextTips((await store.getTips(genesisMain))!, sealed));
    expect((await store.getTips(mainHash(1)))!.get(PINS)).toBe(genesisOf(PINS).hash);
    expect(await store.getCanonicalHash(POSTS, 1n)).toBe(sealed[0]!.hash);
    expect(await store.getCanonicalHash(BT, 1n)).toBe(sealed[1]!.hash);
    for (const p of posts) expect(await store.getPayload(payloadHash(p))).toEqual(p);
    expect(await store.getPayload(payloadHash(bt[0]!))).toBeUndefined();
    expect(await store.getPayloadLocation(payloadHash(bt[0]!))).toEqual({ subBlockHash: sealed[1]!.hash, index: 0 });

    const record = (await store.getPayloadProof(payloadHash(posts[2]!)))!;
    expect(record).toMatchObject({ subBlockHash: sealed[0]!.hash, index: 2, header: sealed[0]!.header });
    expect(verifyPayloadProof(record.header.payloadRoot, payloadHash(posts[2]!), record.proof, record.index)).toBe(true);
    expect(await store.getPayloadProof(payloadHash(enc("never published")))).toBeUndefined();
  });

  it("moves canonical sub-blocks and payload lookups with a reorg, keeping a sub-block sealed on both branches", async () => {
    // branch a: a1 seals posts#1 and bt#1, a2 seals posts#2; branch b: b1 seals the same bt#1 and another posts#1
    const a1 = await seal(mainHash(0xa1), genesisMain, new Map([[POSTS, [enc("a1 post")]], [BT, [enc("shared manifest")]]]));
    const a2 = await seal(mainHash(0xa2), mainHash(0xa1), new Map([[POSTS, [enc("a2 post")]]]));
    const b1 = await seal(mainHash(0xb1), genesisMain, new Map([[POSTS, [enc("b1 post")]], [BT, [enc("shared manifest")]]]), false);
    expect(b1[1]!.hash).toBe(a1[1]!.hash);
    expect(await store.getCanonicalHash(POSTS, 1n)).toBe(a1[0]!.hash);

    const removed = [...(await store.getSealedSubBlocks(mainHash(0xa2))), ...(await store.getSealedSubBlocks(mainHash(0xa1)))];
    await rocks.batch(store.canonicalOps(removed, await store.getSealedSubBlocks(mainHash(0xb1))));
    expect(await store.getCanonicalHash(POSTS, 1n)).toBe(b1[0]!.hash);
    expect(await store.getCanonicalHash(POSTS, 2n)).toBeUndefined();
    expect(await store.getCanonicalHash(BT, 1n)).toBe(a1[1]!.hash);
    expect(await store.getPayloadLocation(payloadHash(enc("a1 post")))).toBeUndefined();
    expect(await store.getPayloadLocation(payloadHash(enc("a2 post")))).toBeUndefined();
    expect(await store.getPayloadLocation(payloadHash(enc("b1 post")))).toEqual({ subBlockHash: b1[0]!.hash, index: 0 });
    expect(await store.getPayloadLocation(payloadHash(enc("shared manifest")))).toEqual({ subBlockHash: b1[1]!.hash, index: 0 });
    // side-branch records stay, so the reorg can go back
    expect(await store.getHeader(a2[0]!.hash)).toEqual(a2[0]!.header);
    expect((await store.getTips(mainHash(0xa2)))!.get(POSTS)).toBe(a2[0]!.hash);
    // payloads are content-addressed and stay
    expect(await store.getPayload(payloadHash(enc("a2 post")))).toEqual(enc("a2 post"));

    await rocks.batch(store.canonicalOps(await store.getSealedSubBlocks(mainHash(0xb1)), [...a1, ...a2]));
    expect(await store.getCanonicalHash(POSTS, 1n)).toBe(a1[0]!.hash);
    expect(await store.getCanonicalHash(POSTS, 2n)).toBe(a2[0]!.hash);
    expect(await store.getCanonicalHash(BT, 1n)).toBe(a1[1]!.hash);
    expect(await store.getPayloadLocation(payloadHash(enc("b1 post")))).toBeUndefined();
    expect(await store.getPayloadLocation(payloadHash(enc("a2 post")))).toEqual({ subBlockHash: a2[0]!.hash, index: 0 });
  });

  it("finds a payload published twice in every canonical sub-block that carries it, until a reorg drops one", async () => {
    const same = enc("the same bytes twice");
    const p1 = await seal(mainHash(1), genesisMain, new Map([[POSTS, [enc("x"), same, same]]]));
    const p2 = await seal(mainHash(2), mainHash(1), new Map([[BT, [same]]]));
    const where = async (): Promise<string[]> =>
      (await store.getPayloadLocations(payloadHash(same))).map((l) => `${l.subBlockHash}:${l.index}`).sort();
    expect(await where()).toEqual([`${p1[0]!.hash}:1`, `${p2[0]!.hash}:0`].sort());
    await rocks.batch(store.canonicalOps(await store.getSealedSubBlocks(mainHash(2)), []));
    expect(await where()).toEqual([`${p1[0]!.hash}:1`]);
    expect(await store.getPayloadLocation(payloadHash(same))).toEqual({ subBlockHash: p1[0]!.hash, index: 1 });
  });

  it("keeps everything across a restart of the database", async () => {
    const sealed = await seal(mainHash(1), genesisMain, new Map([[POSTS, [enc("kept")]]]));
    await rocks.stop();
    rocks = new RocksStore({ path: dir });
    await rocks.start();
    const reopened = new SubchainStore({ followed: [POSTS] }, { store: rocks, subchains });
    expect(await reopened.getSealedSubBlocks(mainHash(1))).toEqual(sealed);
    expect(await reopened.getPayload(payloadHash(enc("kept")))).toEqual(enc("kept"));
    expect(await reopened.getCanonicalHash(POSTS, 1n)).toBe(sealed[0]!.hash);
  });

  it("stores a wanted payload only when it hashes to a wanted one and has the length its canonical sub-block committed to", async () => {
    const honest = enc("honest payload");
    const lied = enc("payload whose length was lied about");
    const good = buildSubBlock(genesisOf(POSTS).header, [honest, lied]);
    // the same sub-block with the two lengths swapped (count and sum still agree): what a lying miner seals
    const bad = { ...good, header: { ...good.header, payloadLengths: [lied.length, honest.length] } };
    const sealed = [bad];
    await rocks.batch([...store.sealOps(mainHash(1), sealed, (await store.getTips(genesisMain))!), ...store.canonicalOps([], sealed)]);
    await rocks.batch(store.wantedOps(POSTS, [payloadHash(honest), payloadHash(lied)]));
    expect((await store.getHeader(good.hash))!.payloadLengths).toEqual([lied.length, honest.length]);

    await expect(store.storeWantedPayload(honest)).rejects.toMatchObject({ code: "SUBCHAIN_BAD_PAYLOAD_LENGTHS" });
    expect(await store.getPayload(payloadHash(honest))).toBeUndefined();
    // the want is cleared: it is not asked for again
    expect((await store.getWantedPayloads()).map((w) => w.hash)).not.toContain(payloadHash(honest));
    expect(await store.storeWantedPayload(enc("never wanted"))).toBe(false);
  });
});
