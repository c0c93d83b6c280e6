import { MerklePatriciaTrie, createMerkleProof } from "@ethereumjs/mpt";
import { RLP } from "@ethereumjs/rlp";
import {
  type BatchDBOp,
  type DB,
  ValueEncoding,
  bigIntToUnpaddedBytes,
  bytesToBigInt,
  bytesToHex,
  hexToBytes,
} from "@ethereumjs/util";
import { EMPTY_TRIE_ROOT } from "./block.js";
import { Bucket, bucketKey } from "./db/buckets.js";
import { keccak256 } from "./keccak.js";
import type { BatchOp, KeyValueStore } from "./db/keyValueStore.js";
import type { Account, AccountReader, Hex } from "./types.js";

/** keccak256 of empty code: every account reports it, as this chain has no contract code. */
export const KECCAK_EMPTY: Hex = "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470";
const EMPTY_ROOT_BYTES = hexToBytes(EMPTY_TRIE_ROOT);
const KECCAK_EMPTY_BYTES = hexToBytes(KECCAK_EMPTY);

/** Ethereum's account RLP: [nonce, balance, storageRoot, codeHash]. */
export function encodeAccount(a: Account): Uint8Array {
  return RLP.encode([bigIntToUnpaddedBytes(a.nonce), bigIntToUnpaddedBytes(a.balance), EMPTY_ROOT_BYTES, KECCAK_EMPTY_BYTES]);
}

/** Decodes an account RLP written by encodeAccount. */
export function decodeAccount(bytes: Uint8Array): Account {
  const items = RLP.decode(bytes) as Uint8Array[];
  return { nonce: bytesToBigInt(items[0]!), balance: bytesToBigInt(items[1]!) };
}

/**
 * Trie node storage for @ethereumjs/mpt: reads go to pending writes, then a shared cache, then the
 * store; writes stay pending until the block that made them is written in its batch.
 */
class TrieNodeDb implements DB<string, Uint8Array> {
  constructor(
    private readonly store: KeyValueStore,
    private readonly cache: NodeCache,
    readonly pending: Map<string, Uint8Array> = new Map(),
  ) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const p = this.pending.get(key);
    if (p) return p;
    const c = this.cache.get(key);
    if (c) return c;
    const v = await this.store.get(bucketKey(Bucket.stateNode, hexToBytes(`0x${key}`)));
    if (v) this.cache.set(key, v);
    return v;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    this.pending.set(key, value);
  }

  // Nodes are never deleted: old roots stay readable for historic state and reorgs.
  async del(_key: string): Promise<void> {}

  async batch(ops: BatchDBOp<string, Uint8Array>[]): Promise<void> {
    for (const op of ops) if (op.type === "put") this.pending.set(op.key, op.value);
  }

  shallowCopy(): DB<string, Uint8Array> {
    return new TrieNodeDb(this.store, this.cache, this.pending);
  }

  async open(): Promise<void> {}
}

/** A bounded cache of trie nodes read from the store (insertion-order eviction). */
class NodeCache {
  private readonly map = new Map<string, Uint8Array>();
  constructor(private readonly max: number) {}
  get(key: string): Uint8Array | undefined {
    return this.map.get(key);
  }
  set(key: string, value: Uint8Array): void {
    if (this.map.size >= this.max) {
      const first = this.map.keys().next();
      if (!first.done) this.map.delete(first.value);
    }
    this.map.set(key, value);
  }
}

/** The result of committing a state: its root and the trie nodes to write in the block's batch. */
export interface StateCommit {
  root: Hex;
  ops: BatchOp[];
}

/** A mutable view of the account state at one root; changes are buffered until `commit`. */
export class StateView implements AccountReader {
  private readonly dirty = new Map<Hex, Account>();
  private readonly read = new Map<Hex, Account>();

  constructor(
    private readonly trie: MerklePatriciaTrie,
    private readonly nodes: TrieNodeDb,
    /** The root this view was opened at. */
    readonly root: Hex,
  ) {}

  async getAccount(address: Hex): Promise<Account> {
    const d = this.dirty.get(address) ?? this.read.get(address);
    if (d) return { ...d };
    const raw = await this.trie.get(hexToBytes(address));
    const acc = raw ? decodeAccount(raw) : { nonce: 0n, balance: 0n };
    this.read.set(address, acc);
    return { ...acc };
  }

  /**
   * EIP-1186 account proof: the RLP trie nodes on the path from the committed root to `address`'s
   * leaf (or to where it would be, proving absence). The secure trie's key is keccak256(address).
   * Buffered, uncommitted changes are not in it.
   */
  getProof(address: Hex): Promise<Uint8Array[]> {
    return createMerkleProof(this.trie, hexToBytes(address));
  }

  /** How many accounts this view holds in memory (read or changed). */
  get cachedAccounts(): number {
    return this.read.size + this.dirty.size;
  }

  /** Sets an account (buffered). */
  setAccount(address: Hex, account: Account): void {
    this.dirty.set(address, { ...account });
  }

  /** Writes buffered changes into the trie and returns the new root and the nodes to persist. */
  async commit(): Promise<StateCommit> {
    const addrs = [...this.dirty.keys()].sort();
    for (const a of addrs) {
      const acc = this.dirty.get(a)!;
      const key = hexToBytes(a);
      if (acc.nonce === 0n && acc.balance === 0n) await this.trie.del(key);
      else await this.trie.put(key, encodeAccount(acc));
      this.read.set(a, acc);
    }
    this.dirty.clear();
    const root = bytesToHex(this.trie.root()) as Hex;
    return { root, ops: this.reachablePending(root) };
  }

  /** Pending nodes reachable from `root`: intermediate nodes replaced within the block are not written. */
  private reachablePending(root: Hex): BatchOp[] {
    const ops: BatchOp[] = [];
    const stack = [root.slice(2)];
    const seen = new Set<string>();
    while (stack.length) {
      const key = stack.pop()!;
      if (seen.has(key)) continue;
      seen.add(key);
      const node = this.nodes.pending.get(key);
      if (!node) continue; // already stored by an earlier block: its subtree is stored too
      ops.push({ type: "put", key: bucketKey(Bucket.stateNode, hexToBytes(`0x${key}`)), value: node });
      collectChildHashes(RLP.decode(node) as NestedBytes, stack);
    }
    this.nodes.pending.clear();
    return ops;
  }
}

type NestedBytes = Uint8Array | NestedBytes[];

/** Pushes the 32-byte child references of an RLP-decoded trie node (inlined children are walked). */
function collectChildHashes(node: NestedBytes, out: string[]): void {
  if (!Array.isArray(node)) return;
  if (node.length === 17) {
    for (let i = 0; i < 16; i++) pushRef(node[i]!, out);
  } else if (node.length === 2) {
    const path = node[0] as Uint8Array;
    // extension nodes have an even/odd prefix 0 or 1 in the first nibble; leaves 2 or 3
    const isLeaf = path.length > 0 && path[0]! >> 4 >= 2;
    if (!isLeaf) pushRef(node[1]!, out);
  }
}

function pushRef(ref: NestedBytes, out: string[]): void {
  if (Array.isArray(ref)) collectChildHashes(ref, out);
  else if (ref.length === 32) out.push(bytesToHex(ref).slice(2));
}

/** Options of the state database. */
export interface StateDbOptions {
  /** Trie nodes kept in memory across blocks. */
  nodeCacheSize: number;
}

/** Default state database options. */
export const defaultStateDbOptions: StateDbOptions = { nodeCacheSize: 200_000 };

/** Opens state views at any stored root over the chain's KeyValueStore. */
export class StateDb {
  private readonly cache: NodeCache;

  constructor(
    opts: Partial<StateDbOptions>,
    private readonly modules: { store: KeyValueStore },
  ) {
    this.cache = new NodeCache({ ...defaultStateDbOptions, ...opts }.nodeCacheSize);
  }

  /** A fresh view of the state at `root` (which must be stored, or be the empty root). */
  open(root: Hex): StateView {
    const nodes = new TrieNodeDb(this.modules.store, this.cache);
    const trie = new MerklePatriciaTrie({
      db: nodes,
      root: hexToBytes(root),
      useKeyHashing: true,
      useKeyHashingFunction: keccak256,
      common: { customCrypto: { keccak256 } },
      valueEncoding: ValueEncoding.Bytes,
    });
    return new StateView(trie, nodes, root);
  }

  /** True when the root node of `root` is stored (or it is the empty root). */
  async has(root: Hex): Promise<boolean> {
    if (root === EMPTY_TRIE_ROOT) return true;
    return (await this.modules.store.get(bucketKey(Bucket.stateNode, hexToBytes(root)))) !== undefined;
  }
}
