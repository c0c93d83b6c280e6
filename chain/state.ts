import { MerklePatriciaTrie, createMerkleProof } from "@ethereumjs/mpt";
import { RLP } from "@ethereumjs/rlp";
import {
  type BatchDBOp,
  type DB,
  ValueEncoding,
  bigIntToBytes,
  bigIntToUnpaddedBytes,
  bytesToBigInt,
  bytesToHex,
  equalsBytes,
  hexToBytes,
  setLengthLeft,
} from "@ethereumjs/util";
import { EMPTY_TRIE_ROOT } from "./block.js";
import { Bucket, bucketKey } from "./db/buckets.js";
import { keccak256 } from "./keccak.js";
import type { BatchOp, KeyValueStore } from "./db/keyValueStore.js";
import type { Account, Hex, StateReader } from "./types.js";

/** keccak256 of empty code: every account reports it, as this chain has no contract code. */
export const KECCAK_EMPTY: Hex = "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470";
const EMPTY_ROOT_BYTES = hexToBytes(EMPTY_TRIE_ROOT);
const KECCAK_EMPTY_BYTES = hexToBytes(KECCAK_EMPTY);
const MAX_UINT256 = (1n << 256n) - 1n;

/** Ethereum's account RLP: [nonce, balance, storageRoot, codeHash]; the storage root defaults to the empty trie's. */
export function encodeAccount(a: Account, storageRoot: Uint8Array = EMPTY_ROOT_BYTES): Uint8Array {
  return RLP.encode([bigIntToUnpaddedBytes(a.nonce), bigIntToUnpaddedBytes(a.balance), storageRoot, KECCAK_EMPTY_BYTES]);
}

/** Decodes an account RLP written by encodeAccount. */
export function decodeAccount(bytes: Uint8Array): Account {
  return decodeAccountRecord(bytes).account;
}

/** An account with the root of its storage trie. */
interface AccountRecord {
  account: Account;
  storageRoot: Uint8Array;
}

function decodeAccountRecord(bytes: Uint8Array): AccountRecord {
  const items = RLP.decode(bytes) as Uint8Array[];
  return { account: { nonce: bytesToBigInt(items[0]!), balance: bytesToBigInt(items[1]!) }, storageRoot: items[2]! };
}

/** The storage trie's key of a slot: the slot as 32 big-endian bytes (the secure trie hashes it). */
function slotKey(slot: bigint): Uint8Array {
  return setLengthLeft(bigIntToBytes(slot), 32);
}

function checkWord(name: string, v: bigint): void {
  if (v < 0n || v > MAX_UINT256) throw new RangeError(`storage ${name} must be a 256-bit unsigned integer, got ${v}`);
}

/** A buffered change the view can undo back to a snapshot (the previous buffered value, or none). */
type JournalEntry =
  | { kind: "account"; address: Hex; previous: Account | undefined }
  | { kind: "storage"; address: Hex; slot: bigint; previous: bigint | undefined };

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

/**
 * A mutable view of the state at one root: accounts and, per account, a storage trie of 256-bit
 * words (Ethereum's layout, so EIP-1186 storage proofs verify). Changes are buffered until
 * `commit`; a snapshot marks a point the buffered changes can be rolled back to.
 */
export class StateView implements StateReader {
  private readonly dirty = new Map<Hex, Account>();
  private readonly read = new Map<Hex, Account>();
  /** Storage roots as last read or committed (the account trie's value), by address. */
  private readonly storageRoots = new Map<Hex, Uint8Array>();
  private readonly dirtyStorage = new Map<Hex, Map<bigint, bigint>>();
  private readonly readStorage = new Map<Hex, Map<bigint, bigint>>();
  private readonly journal: JournalEntry[] = [];
  private readSlots = 0;

  constructor(
    private readonly trie: MerklePatriciaTrie,
    private readonly nodes: TrieNodeDb,
    /** The root this view was opened at. */
    readonly root: Hex,
  ) {}

  async getAccount(address: Hex): Promise<Account> {
    const d = this.dirty.get(address) ?? (await this.record(address)).account;
    return { ...d };
  }

  /** The committed account and storage root at `address` (cached). */
  private async record(address: Hex): Promise<AccountRecord> {
    const cached = this.read.get(address);
    if (cached) return { account: cached, storageRoot: this.storageRoots.get(address)! };
    const raw = await this.trie.get(hexToBytes(address));
    const rec = raw ? decodeAccountRecord(raw) : { account: { nonce: 0n, balance: 0n }, storageRoot: EMPTY_ROOT_BYTES };
    this.read.set(address, rec.account);
    this.storageRoots.set(address, rec.storageRoot);
    return rec;
  }

  /**
   * EIP-1186 account proof: the RLP trie nodes on the path from the committed root to `address`'s
   * leaf (or to where it would be, proving absence). The secure trie's key is keccak256(address).
   * Buffered, uncommitted changes are not in it.
   */
  getProof(address: Hex): Promise<Uint8Array[]> {
    return createMerkleProof(this.trie, hexToBytes(address));
  }

  /** The committed root of `address`'s storage trie (the empty root when it has no storage). */
  async getStorageRoot(address: Hex): Promise<Hex> {
    return bytesToHex((await this.record(address)).storageRoot) as Hex;
  }

  /**
   * EIP-1186 storage proof of one slot against the committed storage root of `address` (the
   * secure trie's key is keccak256 of the slot as 32 bytes); empty when the account has no storage.
   */
  async getStorageProof(address: Hex, slot: bigint): Promise<Uint8Array[]> {
    checkWord("slot", slot);
    const { storageRoot } = await this.record(address);
    if (equalsBytes(storageRoot, EMPTY_ROOT_BYTES)) return [];
    return createMerkleProof(openTrie(this.nodes, storageRoot), slotKey(slot));
  }

  /** The word at `slot` of `address`'s storage (0 where nothing is stored), buffered changes included. */
  async getStorage(address: Hex, slot: bigint): Promise<bigint> {
    checkWord("slot", slot);
    const d = this.dirtyStorage.get(address)?.get(slot);
    if (d !== undefined) return d;
    let cache = this.readStorage.get(address);
    const c = cache?.get(slot);
    if (c !== undefined) return c;
    const { storageRoot } = await this.record(address);
    let value = 0n;
    if (!equalsBytes(storageRoot, EMPTY_ROOT_BYTES)) {
      const raw = await openTrie(this.nodes, storageRoot).get(slotKey(slot));
      if (raw) value = bytesToBigInt(RLP.decode(raw) as Uint8Array);
    }
    if (!cache) this.readStorage.set(address, (cache = new Map()));
    cache.set(slot, value);
    this.readSlots++;
    return value;
  }

  /** Sets a storage word (buffered); 0 clears the slot. */
  setStorage(address: Hex, slot: bigint, value: bigint): void {
    checkWord("slot", slot);
    checkWord("value", value);
    let writes = this.dirtyStorage.get(address);
    if (!writes) this.dirtyStorage.set(address, (writes = new Map()));
    this.journal.push({ kind: "storage", address, slot, previous: writes.get(slot) });
    writes.set(slot, value);
  }

  /** How many accounts and storage slots this view holds in memory (read or changed). */
  get cachedAccounts(): number {
    return this.read.size + this.dirty.size + this.readSlots;
  }

  /** Sets an account (buffered); its storage is kept. */
  setAccount(address: Hex, account: Account): void {
    const previous = this.dirty.get(address);
    this.journal.push({ kind: "account", address, previous });
    this.dirty.set(address, { ...account });
  }

  /** Marks the buffered changes as they are now, for {@link revertToSnapshot}; valid until `commit`. */
  snapshot(): number {
    return this.journal.length;
  }

  /** Undoes every buffered change (accounts and storage) made since `snapshot` was taken. */
  revertToSnapshot(snapshot: number): void {
    if (snapshot < 0 || snapshot > this.journal.length) throw new RangeError(`no snapshot ${snapshot} in this view`);
    while (this.journal.length > snapshot) {
      const e = this.journal.pop()!;
      if (e.kind === "account") {
        if (e.previous) this.dirty.set(e.address, e.previous);
        else this.dirty.delete(e.address);
      } else {
        const writes = this.dirtyStorage.get(e.address)!;
        if (e.previous !== undefined) writes.set(e.slot, e.previous);
        else writes.delete(e.slot);
      }
    }
  }

  /**
   * Writes buffered changes into the tries (each changed storage trie first, then the account
   * trie) and returns the new root and the nodes to persist. An account with nonce 0, balance 0
   * and no storage is removed.
   */
  async commit(): Promise<StateCommit> {
    const addrs = [...new Set([...this.dirty.keys(), ...this.dirtyStorage.keys()])].sort();
    for (const a of addrs) {
      const rec = await this.record(a);
      const acc = this.dirty.get(a) ?? rec.account;
      const storageRoot = await this.commitStorage(a, rec.storageRoot);
      const key = hexToBytes(a);
      if (acc.nonce === 0n && acc.balance === 0n && equalsBytes(storageRoot, EMPTY_ROOT_BYTES)) await this.trie.del(key);
      else await this.trie.put(key, encodeAccount(acc, storageRoot));
      this.read.set(a, acc);
      this.storageRoots.set(a, storageRoot);
    }
    this.dirty.clear();
    this.dirtyStorage.clear();
    this.journal.length = 0;
    const root = bytesToHex(this.trie.root()) as Hex;
    return { root, ops: this.reachablePending(root) };
  }

  /** Applies `address`'s buffered storage writes to its storage trie; returns the new storage root. */
  private async commitStorage(address: Hex, root: Uint8Array): Promise<Uint8Array> {
    const writes = this.dirtyStorage.get(address);
    if (!writes || writes.size === 0) return root;
    const trie = openTrie(this.nodes, root);
    let cache = this.readStorage.get(address);
    if (!cache) this.readStorage.set(address, (cache = new Map()));
    for (const [slot, value] of writes) {
      if (value === 0n) await trie.del(slotKey(slot));
      else await trie.put(slotKey(slot), RLP.encode(bigIntToUnpaddedBytes(value)));
      if (!cache.has(slot)) this.readSlots++;
      cache.set(slot, value);
    }
    return trie.root();
  }

  /**
   * Pending nodes reachable from `root`, through the account trie into the storage tries its
   * leaves name: intermediate nodes replaced within the block are not written.
   */
  private reachablePending(root: Hex): BatchOp[] {
    const ops: BatchOp[] = [];
    const stack: NodeRef[] = [{ key: root.slice(2), accountTrie: true }];
    const seen = new Set<string>();
    while (stack.length) {
      const { key, accountTrie } = stack.pop()!;
      if (seen.has(key)) continue;
      seen.add(key);
      const node = this.nodes.pending.get(key);
      if (!node) continue; // already stored by an earlier block: its subtree is stored too
      ops.push({ type: "put", key: bucketKey(Bucket.stateNode, hexToBytes(`0x${key}`)), value: node });
      collectChildHashes(RLP.decode(node) as NestedBytes, accountTrie, stack);
    }
    this.nodes.pending.clear();
    return ops;
  }
}

/** A trie node to walk, and whether it belongs to the account trie (whose leaves name storage roots). */
interface NodeRef {
  key: string;
  accountTrie: boolean;
}

type NestedBytes = Uint8Array | NestedBytes[];

/**
 * Pushes the 32-byte child references of an RLP-decoded trie node (inlined children are walked);
 * an account leaf also pushes its storage trie's root.
 */
function collectChildHashes(node: NestedBytes, accountTrie: boolean, out: NodeRef[]): void {
  if (!Array.isArray(node)) return;
  if (node.length === 17) {
    for (let i = 0; i < 16; i++) pushRef(node[i]!, accountTrie, out);
  } else if (node.length === 2) {
    const path = node[0] as Uint8Array;
    // extension nodes have an even/odd prefix 0 or 1 in the first nibble; leaves 2 or 3
    const isLeaf = path.length > 0 && path[0]! >> 4 >= 2;
    if (!isLeaf) pushRef(node[1]!, accountTrie, out);
    else if (accountTrie) {
      const storageRoot = (RLP.decode(node[1] as Uint8Array) as Uint8Array[])[2]!;
      if (!equalsBytes(storageRoot, EMPTY_ROOT_BYTES)) out.push({ key: bytesToHex(storageRoot).slice(2), accountTrie: false });
    }
  }
}

function pushRef(ref: NestedBytes, accountTrie: boolean, out: NodeRef[]): void {
  if (Array.isArray(ref)) collectChildHashes(ref, accountTrie, out);
  else if (ref.length === 32) out.push({ key: bytesToHex(ref).slice(2), accountTrie });
}

/** A secure trie (keys hashed with keccak256) over the shared node storage, at `root`. */
function openTrie(nodes: TrieNodeDb, root: Uint8Array): MerklePatriciaTrie {
  return new MerklePatriciaTrie({
    db: nodes,
    root,
    useKeyHashing: true,
    useKeyHashingFunction: keccak256,
    common: { customCrypto: { keccak256 } },
    valueEncoding: ValueEncoding.Bytes,
  });
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
    return new StateView(openTrie(nodes, hexToBytes(root)), nodes, root);
  }

  /** True when the root node of `root` is stored (or it is the empty root). */
  async has(root: Hex): Promise<boolean> {
    if (root === EMPTY_TRIE_ROOT) return true;
    return (await this.modules.store.get(bucketKey(Bucket.stateNode, hexToBytes(root)))) !== undefined;
  }
}
