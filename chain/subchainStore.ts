import { bytesToHex, concatBytes, hexToBytes } from "@ethereumjs/util";
import { Bucket, bucketKey, numberKey } from "./db/buckets.js";
import type { BatchOp, KeyValueStore } from "./db/keyValueStore.js";
import { PINS_SUBCHAIN_ID, type SubchainDeclaration } from "./genesis.js";
import {
  SubchainError,
  SubchainErrorCode,
  type MerkleProof,
  type SubBlock,
  type SubBlockHeader,
  decodeSubBlockHeader,
  encodeSubBlockHeader,
  genesisSubBlock,
  merkleProof,
  payloadHash,
} from "./subchain.js";
import type { Hex } from "./types.js";

/** Options of the sub-chain store. */
export interface SubchainStoreOptions {
  /** Ids of the sub-chains whose payloads this node stores; pins (id 0) is always followed. */
  followed: number[];
}

/** Default options: only pins is followed. */
export const defaultSubchainStoreOptions: SubchainStoreOptions = { followed: [PINS_SUBCHAIN_ID] };

/** Collaborators of the sub-chain store. */
export interface SubchainStoreModules {
  store: KeyValueStore;
  /** The genesis declarations, in ascending id (GenesisConfig.subchains). */
  subchains: readonly SubchainDeclaration[];
}

/** Where a payload sits in a canonical sub-block. */
export interface PayloadLocation {
  subBlockHash: Hex;
  index: number;
}

/** A payload's place with what a peer needs to check it: the sub-block header, the index and the proof. */
export interface PayloadProofRecord {
  payloadHash: Hex;
  subBlockHash: Hex;
  header: SubBlockHeader;
  index: number;
  proof: MerkleProof;
}

/**
 * Sub-block records over the KeyValueStore (docs/subchains.md, "Storage"): headers and payload hash
 * lists of every sub-chain, the canonical sub-chains by (id, number), what each main block seals and
 * the sub-chain tips after it, payloads of followed sub-chains only. Writes are returned as batch
 * ops, never written here, so they join the main block's one atomic batch.
 */
export class SubchainStore {
  private readonly followed: ReadonlySet<number>;
  private readonly modules: SubchainStoreModules;

  constructor(opts: Partial<SubchainStoreOptions>, modules: SubchainStoreModules) {
    const { followed } = { ...defaultSubchainStoreOptions, ...opts };
    for (const id of followed) {
      if (!modules.subchains.some((d) => d.id === id)) throw new RangeError(`cannot follow sub-chain ${id}: the genesis does not declare it`);
    }
    this.followed = new Set([PINS_SUBCHAIN_ID, ...followed]);
    this.modules = modules;
  }

  /** Whether this node stores the payloads of sub-chain `id`. */
  follows(id: number): boolean {
    return this.followed.has(id);
  }

  /** A sub-block header by hash (any sub-chain, any branch). */
  async getHeader(hash: Hex): Promise<SubBlockHeader | undefined> {
    const bytes = await this.modules.store.get(bucketKey(Bucket.subBlockHeader, hexToBytes(hash)));
    return bytes ? decodeSubBlockHeader(bytes) : undefined;
  }

  /** A stored sub-block: its header and payload hashes. */
  async getSubBlock(hash: Hex): Promise<SubBlock | undefined> {
    const key = hexToBytes(hash);
    const [header, hashes] = await Promise.all([
      this.getHeader(hash),
      this.modules.store.get(bucketKey(Bucket.subBlockPayloadHashes, key)),
    ]);
    if (!header || !hashes) return undefined;
    return { header, hash, payloadHashes: splitHashes(hashes) };
  }

  /** The payload hashes of a stored sub-block, in order. */
  async getPayloadHashes(subBlockHash: Hex): Promise<Hex[] | undefined> {
    const v = await this.modules.store.get(bucketKey(Bucket.subBlockPayloadHashes, hexToBytes(subBlockHash)));
    return v ? splitHashes(v) : undefined;
  }

  /** The hash of the canonical sub-block of sub-chain `id` at `number`. */
  async getCanonicalHash(id: number, number: bigint): Promise<Hex | undefined> {
    const v = await this.modules.store.get(canonicalKey(id, number));
    return v ? (bytesToHex(v) as Hex) : undefined;
  }

  /** The hashes of the sub-blocks a stored main block seals, in ascending sub-chain id (none: empty). */
  async getSealed(mainHash: Hex): Promise<Hex[]> {
    const v = await this.modules.store.get(bucketKey(Bucket.sealedSubBlocks, hexToBytes(mainHash)));
    return v ? splitHashes(v) : [];
  }

  /** The sub-blocks a stored main block seals, with their payload hashes (a reorg moves these). */
  async getSealedSubBlocks(mainHash: Hex): Promise<SubBlock[]> {
    const hashes = await this.getSealed(mainHash);
    const blocks = await Promise.all(hashes.map((h) => this.getSubBlock(h)));
    return blocks.map((b, i) => {
      if (!b) throw new Error(`sub-block ${hashes[i]} sealed by ${mainHash} is missing from the database`);
      return b;
    });
  }

  /** Each declared sub-chain's latest sub-block hash in the chain ending at main block `mainHash`, by id. */
  async getTips(mainHash: Hex): Promise<Map<number, Hex> | undefined> {
    const v = await this.modules.store.get(bucketKey(Bucket.subchainTips, hexToBytes(mainHash)));
    if (!v) return undefined;
    const hashes = splitHashes(v);
    const { subchains } = this.modules;
    if (hashes.length !== subchains.length) throw new Error(`sub-chain tips of ${mainHash} list ${hashes.length} sub-chains, the genesis ${subchains.length}`);
    return new Map(subchains.map((d, i) => [d.id, hashes[i]!]));
  }

  /** A stored payload (followed sub-chains only). */
  getPayload(hash: Hex): Promise<Uint8Array | undefined> {
    return this.modules.store.get(bucketKey(Bucket.payload, hexToBytes(hash)));
  }

  /**
   * Payloads of followed sub-chains this node imported blocks for without the bytes, with their
   * sub-chain (to fetch from peers), in hash order: at most `limit`, those after hash `after` if given.
   */
  async getWantedPayloads(limit = Infinity, after?: Hex): Promise<{ hash: Hex; subchainId: number }[]> {
    const prefix = bucketKey(Bucket.payloadWanted);
    const out: { hash: Hex; subchainId: number }[] = [];
    for await (const [key, value] of this.modules.store.entries(prefix)) {
      if (out.length >= limit) break;
      if (key.length !== prefix.length + 32 || value.length !== 1) continue;
      const hash = bytesToHex(key.subarray(prefix.length)) as Hex;
      if (after !== undefined && hash <= after) continue;
      out.push({ hash, subchainId: value[0]! });
    }
    return out;
  }

  /**
   * Stores a wanted payload that arrived from a peer: it must hash to a wanted hash (else false and
   * nothing is written); the want is cleared in the same batch. Throws SubchainError
   * BAD_PAYLOAD_LENGTHS (want cleared, nothing stored) when a canonical sub-block carrying it
   * committed to another length: that block broke the rules, and this node took it without the bytes.
   */
  async storeWantedPayload(payload: Uint8Array): Promise<boolean> {
    const hash = payloadHash(payload);
    const wantedKey = bucketKey(Bucket.payloadWanted, hexToBytes(hash));
    const want = await this.modules.store.get(wantedKey);
    if (!want || want.length !== 1) return false;
    for (const at of await this.getPayloadLocations(hash)) {
      const header = await this.getHeader(at.subBlockHash);
      const committed = header?.payloadLengths[at.index];
      if (committed !== undefined && committed !== payload.length) {
        await this.modules.store.batch([{ type: "del", key: wantedKey }]);
        throw new SubchainError(
          { code: SubchainErrorCode.BAD_PAYLOAD_LENGTHS },
          `payload ${hash} is ${payload.length} bytes, but sub-block ${at.subBlockHash} committed to ${committed}: the block that sealed it breaks the rules`,
        );
      }
    }
    await this.modules.store.batch([...this.payloadOps(want[0]!, [payload]), { type: "del", key: wantedKey }]);
    return true;
  }

  /** Every canonical sub-block that carries a payload (the same bytes may be published twice), with its first index. */
  async getPayloadLocations(hash: Hex): Promise<PayloadLocation[]> {
    const prefix = bucketKey(Bucket.payloadLookup, hexToBytes(hash));
    const out: PayloadLocation[] = [];
    for await (const [key, value] of this.modules.store.entries(prefix)) {
      if (key.length !== prefix.length + 32 || value.length !== 4) continue;
      out.push({ subBlockHash: bytesToHex(key.subarray(prefix.length)) as Hex, index: new DataView(value.buffer, value.byteOffset, 4).getUint32(0) });
    }
    return out;
  }

  /** One canonical place of a payload, if it has any. */
  async getPayloadLocation(hash: Hex): Promise<PayloadLocation | undefined> {
    return (await this.getPayloadLocations(hash))[0];
  }

  /** A canonical payload's sub-block header, index and Merkle proof against its payloadRoot. */
  async getPayloadProof(hash: Hex): Promise<PayloadProofRecord | undefined> {
    const at = await this.getPayloadLocation(hash);
    if (!at) return undefined;
    const record = await this.proofAt(at.subBlockHash, at.index);
    return record?.payloadHash === hash ? record : undefined;
  }

  /** The payload at `index` of stored sub-block `subBlockHash`, with the sub-block header and the Merkle proof; undefined past its end. */
  async proofAt(subBlockHash: Hex, index: number): Promise<PayloadProofRecord | undefined> {
    const sub = await this.getSubBlock(subBlockHash);
    const payloadHash = sub?.payloadHashes[index];
    if (!sub || payloadHash === undefined) return undefined;
    return { payloadHash, subBlockHash, header: sub.header, index, proof: merkleProof(sub.payloadHashes, index) };
  }

  /**
   * Writes of the genesis sub-blocks (number 0 of every declared sub-chain, canonical, sealed by
   * the genesis main block `genesisHash`, their declaration payload where followed) and the
   * sub-chain tips after it.
   */
  genesisOps(genesisHash: Hex): BatchOp[] {
    const genesis = this.modules.subchains.map(genesisSubBlock);
    const subBlocks = genesis.map((g) => g.subBlock);
    return [
      ...this.sealOps(genesisHash, subBlocks, new Map()),
      ...genesis.flatMap(({ subBlock, payloads }) => this.payloadOps(subBlock.header.subchainId, payloads)),
      ...this.canonicalOps([], subBlocks),
    ];
  }

  /**
   * Writes of the sub-blocks main block `mainHash` seals (headers, payload hash lists, the sealed
   * list) and of the tips after it, given the tips after its parent. Canonical records are separate
   * (canonicalOps), as a side-branch block seals sub-blocks that are not canonical.
   */
  sealOps(mainHash: Hex, sealed: readonly SubBlock[], parentTips: ReadonlyMap<number, Hex>): BatchOp[] {
    const ops: BatchOp[] = sealed.flatMap((s) => this.subBlockOps(s));
    if (sealed.length > 0) {
      ops.push({ type: "put", key: bucketKey(Bucket.sealedSubBlocks, hexToBytes(mainHash)), value: concatBytes(...sealed.map((s) => hexToBytes(s.hash))) });
    }
    ops.push(this.tipsOp(mainHash, nextTips(parentTips, sealed)));
    return ops;
  }

  /** Writes recording payloads of sub-chain `id` this node lacks (getWantedPayloads); nothing when it does not follow it. */
  wantedOps(id: number, hashes: readonly Hex[]): BatchOp[] {
    if (!this.follows(id)) return [];
    return hashes.map((h) => ({ type: "put", key: bucketKey(Bucket.payloadWanted, hexToBytes(h)), value: Uint8Array.of(id) }));
  }

  /**
   * Writes of payloads of sub-chain `id` by their hash (`hashes`, when the caller has them already,
   * else computed); nothing when this node does not follow it.
   */
  payloadOps(id: number, payloads: readonly Uint8Array[], hashes?: readonly Hex[]): BatchOp[] {
    if (!this.follows(id)) return [];
    return payloads.map((p, i) => ({ type: "put", key: bucketKey(Bucket.payload, hexToBytes(hashes?.[i] ?? payloadHash(p))), value: p }));
  }

  /**
   * Writes that move the canonical sub-chains with a head change: sub-blocks sealed by main blocks
   * leaving the canonical chain stop being canonical, those of joining blocks become it (deletes
   * first, so a sub-block sealed on both branches stays). Covers (id, number) and payload lookups.
   */
  canonicalOps(removed: readonly SubBlock[], added: readonly SubBlock[]): BatchOp[] {
    const ops: BatchOp[] = [];
    for (const s of removed) {
      const hash = hexToBytes(s.hash);
      ops.push({ type: "del", key: canonicalKey(s.header.subchainId, s.header.number) });
      for (const h of new Set(s.payloadHashes)) ops.push({ type: "del", key: bucketKey(Bucket.payloadLookup, hexToBytes(h), hash) });
    }
    for (const s of added) {
      const hash = hexToBytes(s.hash);
      ops.push({ type: "put", key: canonicalKey(s.header.subchainId, s.header.number), value: hash });
      // a payload twice in one sub-block is looked up at its first place
      const first = new Map<Hex, number>();
      s.payloadHashes.forEach((h, i) => first.has(h) || first.set(h, i));
      for (const [h, i] of first) ops.push({ type: "put", key: bucketKey(Bucket.payloadLookup, hexToBytes(h), hash), value: indexBytes(i) });
    }
    return ops;
  }

  private subBlockOps(s: SubBlock): BatchOp[] {
    const key = hexToBytes(s.hash);
    return [
      { type: "put", key: bucketKey(Bucket.subBlockHeader, key), value: encodeSubBlockHeader(s.header) },
      { type: "put", key: bucketKey(Bucket.subBlockPayloadHashes, key), value: concatBytes(...s.payloadHashes.map((h) => hexToBytes(h))) },
    ];
  }

  private tipsOp(mainHash: Hex, tips: ReadonlyMap<number, Hex>): BatchOp {
    const hashes = this.modules.subchains.map((d) => {
      const tip = tips.get(d.id);
      if (tip === undefined) throw new Error(`no tip for sub-chain ${d.id} after main block ${mainHash}`);
      return hexToBytes(tip);
    });
    return { type: "put", key: bucketKey(Bucket.subchainTips, hexToBytes(mainHash)), value: concatBytes(...hashes) };
  }
}

/**
 * The ids of the sub-chains named in node config (`--subchains posts,bt`); throws RangeError naming
 * an unknown one. Pins is followed anyway and may be named.
 */
export function subchainIdsByName(subchains: readonly SubchainDeclaration[], names: readonly string[]): number[] {
  return names.map((name) => {
    const decl = subchains.find((d) => d.name === name);
    if (!decl) throw new RangeError(`unknown sub-chain "${name}": the genesis declares ${subchains.map((d) => d.name).join(", ")}`);
    return decl.id;
  });
}

/** The sub-chain tips after a main block that seals `sealed` on a parent whose tips were `parentTips`. */
export function nextTips(parentTips: ReadonlyMap<number, Hex>, sealed: readonly SubBlock[]): Map<number, Hex> {
  const tips = new Map(parentTips);
  for (const s of sealed) tips.set(s.header.subchainId, s.hash);
  return tips;
}

function canonicalKey(id: number, number: bigint): Uint8Array {
  return bucketKey(Bucket.subCanonical, Uint8Array.of(id), numberKey(number));
}

function indexBytes(index: number): Uint8Array {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setUint32(0, index);
  return v;
}

function splitHashes(bytes: Uint8Array): Hex[] {
  const out: Hex[] = [];
  for (let i = 0; i + 32 <= bytes.length; i += 32) out.push(bytesToHex(bytes.subarray(i, i + 32)) as Hex);
  return out;
}
