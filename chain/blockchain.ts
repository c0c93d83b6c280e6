import { EventEmitter } from "node:events";
import { RLP } from "@ethereumjs/rlp";
import { bigIntToUnpaddedBytes, bytesToBigInt, bytesToHex, hexToBytes } from "@ethereumjs/util";
import {
  type BlockHeader,
  EMPTY_BLOOM,
  EMPTY_TRIE_ROOT,
  UNSEALED,
  ZERO_ADDRESS,
  ZERO_HASH,
  BlockError,
  BlockErrorCode,
  decodeHeader,
  encodeHeader,
  headerHash,
} from "./block.js";
import { Bucket, bucketKey, numberKey } from "./db/buckets.js";
import type { BatchOp, KeyValueStore } from "./db/keyValueStore.js";
import { NodeError } from "./errors.js";
import { type CallRequest, type CallResult, type ExecutionContext, type ExecutionResult, applyTransactions, simulateCall } from "./execution.js";
import type { GenesisConfig } from "./genesis.js";
import type { SubRef } from "./modules/subRef.js";
import { payloadGas, publishCommitment } from "./publishPayload.js";
import { type SystemModules, defaultSystemModules } from "./modules/systemModules.js";
import { type Receipt, decodeReceipts, encodeReceipts, encodeReceipt } from "./receipt.js";
import { SerialQueue } from "./serialQueue.js";
import { StateDb, type StateView } from "./state.js";
import {
  type SubBlock,
  type SubBlockHeader,
  SubchainError,
  checkSealedSubBlocks,
  checkSubBlockHeader,
  checkSubBlockLink,
  checkSubBlockPayloadHashes,
  checkSubBlockPayloads,
  genesisSubBlock,
  subBlockHash,
  subBlockHeaderFields,
  subBlockHeaderFromFields,
  subchainsRoot,
} from "./subchain.js";
import { SubchainStore, type SubchainStoreOptions } from "./subchainStore.js";
import { type SignedTx, decodeTransaction } from "./transaction.js";
import { orderedTrieRoot } from "./trieRoot.js";
import type { AccountReader, Hex, StateReader } from "./types.js";

/** A block: its header, transactions, the header's hash, and the sub-block headers it seals. */
export interface Block {
  header: BlockHeader;
  transactions: SignedTx[];
  hash: Hex;
  /**
   * The sub-block headers the block seals, in ascending sub-chain id (header.subchainsRoot commits
   * to them); absent or empty: none. Their payload hashes follow from the publish transactions.
   */
  subBlocks?: SubBlockHeader[];
}

/** The tip of a chain as fork choice sees it. */
export interface ChainTip {
  hash: Hex;
  totalDifficulty: bigint;
}

/** Where a canonical transaction is. */
export interface TxLocation {
  blockHash: Hex;
  blockNumber: bigint;
  index: number;
}

/** Error codes of the chain store. */
export const ChainErrorCode = {
  PARENT_UNKNOWN: "CHAIN_PARENT_UNKNOWN",
  BAD_NUMBER: "CHAIN_BAD_NUMBER",
  BAD_GAS_LIMIT: "CHAIN_BAD_GAS_LIMIT",
  BAD_BASE_FEE: "CHAIN_BAD_BASE_FEE",
  BAD_TX_ROOT: "CHAIN_BAD_TX_ROOT",
  BAD_RECEIPTS_ROOT: "CHAIN_BAD_RECEIPTS_ROOT",
  BAD_STATE_ROOT: "CHAIN_BAD_STATE_ROOT",
  BAD_GAS_USED: "CHAIN_BAD_GAS_USED",
  BAD_BLOOM: "CHAIN_BAD_BLOOM",
  BAD_SUBCHAINS_ROOT: "CHAIN_BAD_SUBCHAINS_ROOT",
  /** A sealed sub-block breaks a rule (link, size, payload root and count against the block's publish transactions). */
  BAD_SUB_BLOCK: "CHAIN_BAD_SUB_BLOCK",
  /** A publish transaction whose payload is in no sealed sub-block of its sub-chain, or a payload that does not match. */
  MISSING_PAYLOAD: "CHAIN_MISSING_PAYLOAD",
  WRONG_GENESIS: "CHAIN_WRONG_GENESIS",
  /** The database holds a genesis but its head pointer, head block or head's total difficulty is missing or unreadable. */
  DATABASE_DAMAGED: "CHAIN_DATABASE_DAMAGED",
} as const;
/** One of ChainErrorCode. */
export type ChainErrorCode = (typeof ChainErrorCode)[keyof typeof ChainErrorCode];

/** A block the chain refuses, or a database that does not match the genesis. */
export class ChainError extends NodeError<{ code: ChainErrorCode; reason?: string }> {}

function databaseDamaged(reason: string): ChainError {
  return new ChainError({ code: ChainErrorCode.DATABASE_DAMAGED, reason }, `the chain database is damaged: ${reason}`);
}

/** Events of the chain, by name. */
export const ChainEvent = {
  /** The canonical head changed: `added` blocks (oldest first) joined, `removed` (newest first) left. */
  newHead: "chain.newHead",
} as const;

/** Data of each chain event. */
export interface ChainEventData {
  [ChainEvent.newHead]: { head: Block; added: Block[]; removed: Block[] };
}

/** The outcome of an import. */
export interface ImportResult {
  status: "known" | "head" | "side";
  hash: Hex;
}

/** Collaborators of the Blockchain. */
export interface BlockchainModules {
  store: KeyValueStore;
  genesis: GenesisConfig;
  /**
   * Payload bytes by hash (the payload pool; it must hold each payload under its own keccak256), to check and store the payloads of followed
   * sub-chains a block seals; a payload it lacks is recorded as wanted (SubchainStore.getWantedPayloads) for the network to fetch.
   */
  payloadSource?: (hash: Hex) => Uint8Array | undefined;
  /** Fork choice: true when `candidate` should replace `current` as the head. */
  isBetterTip: (candidate: ChainTip, current: ChainTip) => boolean;
  /** The system modules (a consensus rule: every node runs the same set); absent: defaultSystemModules(). Tests pass their own. */
  systemModules?: SystemModules;
}

/** Options of the Blockchain. */
export interface BlockchainOptions {
  /** Headers kept in memory for walking ancestors. */
  headerCacheSize: number;
  /** Accounts the shared read view caches before it is replaced by a fresh one. */
  readCacheAccounts: number;
  /** Ids of the sub-chains whose payloads this node stores (pins always). */
  followedSubchains: SubchainStoreOptions["followed"];
}

/** Default Blockchain options. */
export const defaultBlockchainOptions: BlockchainOptions = { headerCacheSize: 4096, readCacheAccounts: 100_000, followedSubchains: [] };

const HEAD_KEY = bucketKey(Bucket.meta, new TextEncoder().encode("head"));
const GENESIS_KEY = bucketKey(Bucket.meta, new TextEncoder().encode("genesis"));

/**
 * Encodes a block body: the RLP list of the raw signed transactions when the block seals no
 * sub-block (every block before sub-chains), else RLP [[raw txs], [sub-block headers]].
 */
export function encodeBody(txs: readonly SignedTx[], subBlocks: readonly SubBlockHeader[] = []): Uint8Array {
  const raws = txs.map((t) => t.raw);
  return RLP.encode(subBlocks.length === 0 ? raws : [raws, subBlocks.map(subBlockHeaderFields)]);
}

/** A decoded block body: its transactions and the sub-block headers it seals. */
export interface BlockBody {
  transactions: SignedTx[];
  subBlocks: SubBlockHeader[];
}

/**
 * Decodes a block body in either form of encodeBody; every transaction is decoded and its
 * signature checked. `senders` (20 bytes each, as stored beside a body this node validated) skips
 * sender recovery. The two-list form must seal at least one sub-block (one encoding per body).
 */
export function decodeBlockBody(bytes: Uint8Array, chainId: bigint, senders?: Uint8Array): BlockBody {
  let items: unknown;
  try {
    items = RLP.decode(bytes);
  } catch (e) {
    throw new BlockError({ code: BlockErrorCode.BAD_RLP }, `block body is not valid RLP: ${(e as Error).message}`);
  }
  if (!Array.isArray(items)) throw new BlockError({ code: BlockErrorCode.BAD_RLP }, "block body must be a list");
  let raws: unknown[] = items;
  let subBlocks: SubBlockHeader[] = [];
  if (items.length > 0 && Array.isArray(items[0])) {
    if (items.length !== 2 || !Array.isArray(items[1]) || items[1].length === 0) {
      throw new BlockError({ code: BlockErrorCode.BAD_RLP }, "block body must be [[raw transactions], [sub-block headers, at least one]]");
    }
    raws = items[0] as unknown[];
    try {
      subBlocks = (items[1] as unknown[]).map(subBlockHeaderFromFields);
    } catch (e) {
      throw new BlockError({ code: BlockErrorCode.BAD_FIELD }, `block body sub-block header: ${(e as Error).message}`);
    }
  }
  if (!raws.every((i) => i instanceof Uint8Array)) {
    throw new BlockError({ code: BlockErrorCode.BAD_RLP }, "block body must be a list of raw transactions");
  }
  const known = senders && senders.length === raws.length * 20 ? senders : undefined;
  const transactions = (raws as Uint8Array[]).map((raw, i) =>
    decodeTransaction(raw, chainId, known ? (bytesToHex(known.subarray(i * 20, i * 20 + 20)) as Hex) : undefined),
  );
  return { transactions, subBlocks };
}

/** Decodes a block body's transactions (see decodeBlockBody). */
export function decodeBody(bytes: Uint8Array, chainId: bigint, senders?: Uint8Array): SignedTx[] {
  return decodeBlockBody(bytes, chainId, senders).transactions;
}

/** A block from its header and decoded body; `subBlocks` is left out when it seals none. */
export function blockOf(header: BlockHeader, body: BlockBody, hash: Hex = headerHash(header)): Block {
  const block: Block = { header, transactions: body.transactions, hash };
  if (body.subBlocks.length > 0) block.subBlocks = body.subBlocks;
  return block;
}

/**
 * The genesis block of a genesis config, with its state. It seals the genesis sub-blocks (one per
 * declared sub-chain, ascending id), so its hash commits to the sub-chain declarations.
 */
export async function buildGenesis(genesis: GenesisConfig, stateDb: StateDb): Promise<{ block: Block; stateOps: BatchOp[] }> {
  const state = stateDb.open(EMPTY_TRIE_ROOT);
  for (const [address, balance] of genesis.alloc) state.setAccount(address, { nonce: 0n, balance });
  const { root, ops } = await state.commit();
  const subBlocks = genesis.subchains.map((d) => genesisSubBlock(d).subBlock.header);
  const header: BlockHeader = {
    parentHash: ZERO_HASH,
    number: 0n,
    timestamp: genesis.timestamp,
    miner: ZERO_ADDRESS,
    difficulty: genesis.consensus.initialDifficulty,
    stateRoot: root,
    transactionsRoot: EMPTY_TRIE_ROOT,
    receiptsRoot: EMPTY_TRIE_ROOT,
    logsBloom: EMPTY_BLOOM,
    gasLimit: genesis.gasLimit,
    gasUsed: 0n,
    extraData: genesis.extraData,
    baseFeePerGas: genesis.baseFeePerGas,
    subchainsRoot: subchainsRoot(subBlocks),
    ...UNSEALED,
  };
  return { block: blockOf(header, { transactions: [], subBlocks }), stateOps: ops };
}

/**
 * The main chain store: blocks, receipts, state and indexes over a KeyValueStore, each block
 * written in one atomic batch; follows the heaviest chain given by the injected fork choice.
 * Consensus rules (seal, difficulty, timestamps) are checked above it, in consensus/.
 */
export class Blockchain extends EventEmitter {
  readonly stateDb: StateDb;
  /** The system modules every block runs (a consensus rule). */
  readonly systemModules: SystemModules;
  /** Sub-block records: headers, canonical sub-chains, tips after each main block, followed payloads. */
  readonly subchains: SubchainStore;
  private readonly opts: BlockchainOptions;
  private readonly headers = new Map<Hex, BlockHeader>();
  private headBlock: Block | null = null;
  private readView: StateView | null = null;
  private headTd = 0n;
  private genesisBlock: Block | null = null;
  private readonly queue = new SerialQueue();

  constructor(
    opts: Partial<BlockchainOptions>,
    private readonly modules: BlockchainModules,
  ) {
    super();
    this.opts = { ...defaultBlockchainOptions, ...opts };
    this.stateDb = new StateDb({}, { store: modules.store });
    this.systemModules = modules.systemModules ?? defaultSystemModules();
    this.subchains = new SubchainStore({ followed: this.opts.followedSubchains }, { store: modules.store, subchains: modules.genesis.subchains });
  }

  /** Writes the genesis block into an empty database, or checks the stored one, and loads the head. */
  async start(): Promise<void> {
    if (this.headBlock) return;
    const { store, genesis } = this.modules;
    const { block, stateOps } = await buildGenesis(genesis, this.stateDb);
    const stored = await store.get(GENESIS_KEY);
    if (!stored) {
      const hash = hexToBytes(block.hash);
      await store.batch([
        ...stateOps,
        ...this.blockOps(block, [], genesis.consensus.initialDifficulty),
        ...this.subchains.genesisOps(block.hash),
        { type: "put", key: bucketKey(Bucket.canonical, numberKey(0n)), value: hash },
        { type: "put", key: GENESIS_KEY, value: hash },
        { type: "put", key: HEAD_KEY, value: hash },
      ]);
    } else if (bytesToHex(stored) !== block.hash) {
      throw new ChainError(
        { code: ChainErrorCode.WRONG_GENESIS },
        `the database holds a chain with genesis ${bytesToHex(stored)}, but the genesis file gives ${block.hash}: ` +
          "open it with the genesis file it was made with, or use another data folder (a dev chain made by an older version starts afresh once its folder is removed)",
      );
    }
    this.genesisBlock = block;
    const head = await store.get(HEAD_KEY);
    if (head?.length !== 32) throw databaseDamaged(head ? `its head pointer is ${head.length} bytes, not a 32-byte hash` : "it has no head pointer");
    const headHash = bytesToHex(head) as Hex;
    const headBlock = await this.getBlock(headHash).catch((e: unknown) => {
      throw databaseDamaged(`its head block ${headHash} does not decode: ${(e as Error).message}`);
    });
    if (!headBlock) throw databaseDamaged(`its head pointer names ${headHash}, a block it does not hold`);
    const headTd = await this.getTotalDifficulty(headHash);
    if (headTd === undefined) throw databaseDamaged(`its head block ${headHash} has no total difficulty`);
    this.headBlock = headBlock;
    this.headTd = headTd;
  }

  /** Forgets in-memory state; the store is closed by its owner. */
  async stop(): Promise<void> {
    await this.queue.idle();
    this.headBlock = null;
    this.headers.clear();
  }

  /** The genesis config this chain runs. */
  get genesis(): GenesisConfig {
    return this.modules.genesis;
  }

  /** The canonical head block. */
  get head(): Block {
    if (!this.headBlock) throw new Error("blockchain is not started");
    return this.headBlock;
  }

  /** Total base difficulty of the canonical chain. */
  get headTotalDifficulty(): bigint {
    return this.headTd;
  }

  /** The genesis block. */
  get genesisHash(): Hex {
    if (!this.genesisBlock) throw new Error("blockchain is not started");
    return this.genesisBlock.hash;
  }

  /** Accounts of the head state, read through a cache shared until the head moves. */
  headState(): AccountReader {
    return this.readState(this.head.header);
  }

  /** A fresh, mutable state view at any stored block's state root (execution, templates). */
  stateAt(header: BlockHeader): StateView {
    return this.stateDb.open(header.stateRoot);
  }

  /**
   * Accounts and storage at a stored block, for reading only (RPC, pool). The view of the last root
   * asked for is kept with its cache, so repeated reads at the head cost a map lookup.
   */
  readState(header: BlockHeader): StateReader {
    const cached = this.readView;
    if (cached && cached.root === header.stateRoot && cached.cachedAccounts < this.opts.readCacheAccounts) return cached;
    const view = this.stateDb.open(header.stateRoot);
    this.readView = view;
    return view;
  }

  /** A header by hash (any branch). */
  async getHeader(hash: Hex): Promise<BlockHeader | undefined> {
    const cached = this.headers.get(hash);
    if (cached) return cached;
    const bytes = await this.modules.store.get(bucketKey(Bucket.header, hexToBytes(hash)));
    if (!bytes) return undefined;
    const header = decodeHeader(bytes);
    this.cacheHeader(hash, header);
    return header;
  }

  private cacheHeader(hash: Hex, header: BlockHeader): void {
    if (this.headers.size >= this.opts.headerCacheSize) {
      const first = this.headers.keys().next();
      if (!first.done) this.headers.delete(first.value);
    }
    this.headers.set(hash, header);
  }

  /** A block by hash (any branch). */
  async getBlock(hash: Hex): Promise<Block | undefined> {
    const header = await this.getHeader(hash);
    if (!header) return undefined;
    const key = hexToBytes(hash);
    const [body, senders] = await Promise.all([
      this.modules.store.get(bucketKey(Bucket.body, key)),
      this.modules.store.get(bucketKey(Bucket.senders, key)),
    ]);
    return body ? blockOf(header, decodeBlockBody(body, this.modules.genesis.chainId, senders), hash) : { header, hash, transactions: [] };
  }

  /** A stored block's body as the wire carries it (the bytes of encodeBody), without decoding it (serving peers). */
  getEncodedBody(hash: Hex): Promise<Uint8Array | undefined> {
    return this.modules.store.get(bucketKey(Bucket.body, hexToBytes(hash)));
  }

  /** The canonical block hash at a height. */
  async getCanonicalHash(number: bigint): Promise<Hex | undefined> {
    if (number < 0n || number > this.head.header.number) return undefined;
    const v = await this.modules.store.get(bucketKey(Bucket.canonical, numberKey(number)));
    return v ? (bytesToHex(v) as Hex) : undefined;
  }

  /** The canonical block at a height. */
  async getBlockByNumber(number: bigint): Promise<Block | undefined> {
    const hash = await this.getCanonicalHash(number);
    return hash ? this.getBlock(hash) : undefined;
  }

  /** Total base difficulty of the chain ending in `hash`. */
  async getTotalDifficulty(hash: Hex): Promise<bigint | undefined> {
    const v = await this.modules.store.get(bucketKey(Bucket.totalDifficulty, hexToBytes(hash)));
    return v ? bytesToBigInt(v) : undefined;
  }

  /** Receipts of a stored block. */
  async getReceipts(hash: Hex): Promise<Receipt[] | undefined> {
    const v = await this.modules.store.get(bucketKey(Bucket.receipts, hexToBytes(hash)));
    return v ? decodeReceipts(v) : undefined;
  }

  /** Where a canonical transaction is. */
  async getTxLocation(txHash: Hex): Promise<TxLocation | undefined> {
    const v = await this.modules.store.get(bucketKey(Bucket.txLookup, hexToBytes(txHash)));
    if (!v) return undefined;
    const blockHash = bytesToHex(v.subarray(0, 32)) as Hex;
    const index = new DataView(v.buffer, v.byteOffset + 32, 4).getUint32(0);
    const header = await this.getHeader(blockHash);
    return header ? { blockHash, blockNumber: header.number, index } : undefined;
  }

  /** Reads a raw value of the chain database (for the consensus layer's own records). */
  getRaw(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.modules.store.get(key);
  }

  /** Writes raw records of the consensus layer atomically. */
  writeRaw(ops: BatchOp[]): Promise<void> {
    return this.queue.run(() => this.modules.store.batch(ops));
  }

  /**
   * Validates a block's execution (roots, gas, transactions against its parent's state), stores it
   * with `extraOps` in one atomic batch and moves the head if fork choice prefers it.
   */
  importBlock(block: Block, extraOps: BatchOp[] = []): Promise<ImportResult> {
    return this.queue.run(() => this.importLocked(block, extraOps));
  }

  private async importLocked(block: Block, extraOps: BatchOp[]): Promise<ImportResult> {
    const { header, hash } = block;
    if (await this.getTotalDifficulty(hash)) return { status: "known", hash };
    const parent = await this.getHeader(header.parentHash);
    const parentTd = parent ? await this.getTotalDifficulty(header.parentHash) : undefined;
    if (!parent || parentTd === undefined) {
      throw new ChainError({ code: ChainErrorCode.PARENT_UNKNOWN }, `parent ${header.parentHash} of block ${hash} is unknown`);
    }
    this.checkHeaderFields(header, parent);
    const txRoot = await orderedTrieRoot(block.transactions.map((t) => t.raw));
    if (txRoot !== header.transactionsRoot) {
      throw new ChainError({ code: ChainErrorCode.BAD_TX_ROOT }, `transactionsRoot ${header.transactionsRoot} does not match the body (${txRoot})`);
    }
    const sub = await this.checkSubBlocks(block);
    const state = this.stateDb.open(parent.stateRoot);
    const result = await applyTransactions(state, block.transactions, { ...this.executionContext(header), subRefs: sub.subRefs, payloadGas: sub.payloadGas });
    await this.checkExecution(header, result);
    const commit = await state.commit();
    if (commit.root !== header.stateRoot) {
      throw new ChainError({ code: ChainErrorCode.BAD_STATE_ROOT }, `stateRoot ${header.stateRoot} does not match the executed state ${commit.root}`);
    }

    const td = parentTd + header.difficulty;
    const ops = [...commit.ops, ...this.blockOps(block, result.receipts, td), ...sub.ops, ...extraOps];
    const current: ChainTip = { hash: this.head.hash, totalDifficulty: this.headTd };
    if (!this.modules.isBetterTip({ hash, totalDifficulty: td }, current)) {
      await this.modules.store.batch(ops);
      this.cacheHeader(hash, header);
      return { status: "side", hash };
    }
    const { added, removed } = await this.branchChange(block);
    // the canonical sub-chains move with the main chain, in the same batch
    const removedSubs = (await Promise.all(removed.map((b) => this.subchains.getSealedSubBlocks(b.hash)))).flat();
    const addedSubs = (await Promise.all(added.map((b) => (b.hash === hash ? sub.sealed : this.subchains.getSealedSubBlocks(b.hash))))).flat();
    ops.push(...this.subchains.canonicalOps(removedSubs, addedSubs));
    for (const b of removed) {
      if (b.header.number > header.number) ops.push({ type: "del", key: bucketKey(Bucket.canonical, numberKey(b.header.number)) });
      for (const tx of b.transactions) ops.push({ type: "del", key: bucketKey(Bucket.txLookup, hexToBytes(tx.hash)) });
    }
    for (const b of added) {
      ops.push({ type: "put", key: bucketKey(Bucket.canonical, numberKey(b.header.number)), value: hexToBytes(b.hash) });
      b.transactions.forEach((tx, i) => ops.push({ type: "put", key: bucketKey(Bucket.txLookup, hexToBytes(tx.hash)), value: txLookupValue(b.hash, i) }));
    }
    ops.push({ type: "put", key: HEAD_KEY, value: hexToBytes(hash) });
    await this.modules.store.batch(ops);
    this.cacheHeader(hash, header);
    this.headBlock = block;
    this.headTd = td;
    this.emit(ChainEvent.newHead, { head: block, added, removed } satisfies ChainEventData[typeof ChainEvent.newHead]);
    return { status: "head", hash };
  }

  /**
   * The header rules that need only the parent and the genesis (number, gas limit, base fee,
   * sub-chains root): cheap, so the importer runs them before the seal's scrypt.
   */
  checkHeaderFields(header: BlockHeader, parent: BlockHeader): void {
    const { genesis } = this.modules;
    if (header.number !== parent.number + 1n) {
      throw new ChainError({ code: ChainErrorCode.BAD_NUMBER }, `block number ${header.number} does not follow parent ${parent.number}`);
    }
    if (header.gasLimit !== genesis.gasLimit) {
      throw new ChainError({ code: ChainErrorCode.BAD_GAS_LIMIT }, `block gas limit ${header.gasLimit} differs from the genesis ${genesis.gasLimit}`);
    }
    if (header.baseFeePerGas !== genesis.baseFeePerGas) {
      throw new ChainError({ code: ChainErrorCode.BAD_BASE_FEE }, `block base fee ${header.baseFeePerGas} differs from the genesis ${genesis.baseFeePerGas}`);
    }
  }

  /**
   * Checks the sub-blocks a block seals against its header, its publish transactions and the
   * sub-chain tips after its parent (docs/subchains.md): declared sub-chains in ascending id,
   * subchainsRoot, each link, size and payloadRoot over the payload hashes its sub-chain's publish
   * transactions commit to (in transaction order), and every publish transaction's payload in a
   * sub-block. Returns the sealed sub-blocks, where each publish's payload landed, each publish's
   * payload gas (from the lengths the sub-block headers commit to, so nodes without the bytes
   * charge the same) and the writes.
   */
  private async checkSubBlocks(
    block: Block,
  ): Promise<{ sealed: SubBlock[]; subRefs: Map<Hex, SubRef>; payloadGas: Map<Hex, bigint>; ops: BatchOp[] }> {
    const { header, hash } = block;
    const headers = block.subBlocks ?? [];
    const declared = this.modules.genesis.subchains;
    const fail = (code: ChainErrorCode, e: unknown): never => {
      if (e instanceof SubchainError) throw new ChainError({ code }, `block ${hash}: ${e.message}`);
      throw e;
    };
    try {
      checkSealedSubBlocks(headers, declared);
    } catch (e) {
      fail(ChainErrorCode.BAD_SUB_BLOCK, e);
    }
    const root = subchainsRoot(headers);
    if (root !== header.subchainsRoot) {
      throw new ChainError({ code: ChainErrorCode.BAD_SUBCHAINS_ROOT }, `subchainsRoot ${header.subchainsRoot} does not match the sealed sub-blocks (${root})`);
    }
    const commitments = new Map<number, { txHash: Hex; payloadHash: Hex }[]>();
    for (const tx of block.transactions) {
      const c = publishCommitment(tx);
      if (!c) continue;
      if (!headers.some((h) => h.subchainId === c.subchainId)) {
        throw new ChainError(
          { code: ChainErrorCode.MISSING_PAYLOAD },
          `publish transaction ${tx.hash} has no payload: block ${hash} seals no sub-block of sub-chain ${c.subchainId}`,
        );
      }
      const list = commitments.get(c.subchainId) ?? [];
      list.push({ txHash: tx.hash, payloadHash: c.payloadHash });
      commitments.set(c.subchainId, list);
    }
    const parentTips = await this.tipsAfter(header.parentHash);
    const sealed: SubBlock[] = [];
    const subRefs = new Map<Hex, SubRef>();
    const payloadGasOf = new Map<Hex, bigint>();
    const ops: BatchOp[] = [];
    for (const h of headers) {
      const decl = declared.find((d) => d.id === h.subchainId)!;
      const list = commitments.get(h.subchainId) ?? [];
      const payloadHashes = list.map((c) => c.payloadHash);
      const parent = await this.subchains.getHeader(parentTips.get(h.subchainId)!);
      if (!parent) throw new Error(`sub-chain ${h.subchainId} tip after ${header.parentHash} is missing from the database`);
      try {
        checkSubBlockLink(h, parent);
        checkSubBlockHeader(h, decl);
      } catch (e) {
        fail(ChainErrorCode.BAD_SUB_BLOCK, e);
      }
      try {
        checkSubBlockPayloadHashes(h, payloadHashes);
        // the source keys payloads by their own hash, so the bytes are not hashed again here
        const payloads = payloadHashes.map((p) => this.modules.payloadSource?.(p));
        const heldAt = payloads.flatMap((p, i) => (p === undefined ? [] : [i]));
        const held = heldAt.map((i) => payloads[i]!);
        if (held.length === payloads.length) checkSubBlockPayloads(h, held, decl, payloadHashes);
        // held ones are stored, the rest recorded as wanted and fetched from peers later
        ops.push(...this.subchains.payloadOps(h.subchainId, held, heldAt.map((i) => payloadHashes[i]!)));
        ops.push(...this.subchains.wantedOps(h.subchainId, payloadHashes.filter((_, i) => payloads[i] === undefined)));
      } catch (e) {
        fail(ChainErrorCode.MISSING_PAYLOAD, e);
      }
      // checkSubBlockHeader and checkSubBlockPayloadHashes passed: one committed length per publish, in order
      list.forEach((c, index) => {
        if (subRefs.has(c.txHash)) return;
        subRefs.set(c.txHash, { subchainId: h.subchainId, subNumber: h.number, index });
        payloadGasOf.set(c.txHash, payloadGas(decl, h.payloadLengths[index]!));
      });
      sealed.push({ header: h, hash: subBlockHash(h), payloadHashes });
    }
    ops.push(...this.subchains.sealOps(hash, sealed, parentTips));
    return { sealed, subRefs, payloadGas: payloadGasOf, ops };
  }

  /** Each sub-chain's latest sub-block hash after stored main block `mainHash` (what a child's sub-blocks follow). */
  async tipsAfter(mainHash: Hex): Promise<Map<number, Hex>> {
    const tips = await this.subchains.getTips(mainHash);
    if (!tips) throw new Error(`sub-chain tips after block ${mainHash} are missing from the database`);
    return tips;
  }

  /** The execution rules a header implies. */
  executionContext(header: Pick<BlockHeader, "miner" | "number" | "timestamp">): ExecutionContext {
    const g = this.modules.genesis;
    return {
      miner: header.miner,
      number: header.number,
      timestamp: header.timestamp,
      gasLimit: g.gasLimit,
      baseFeePerGas: g.baseFeePerGas,
      blockReward: g.blockReward,
      modules: this.systemModules,
    };
  }

  /**
   * Runs a call (eth_call, eth_estimateGas) as a transaction would in a new block on top of
   * `header` (number + 1, same timestamp), on a throwaway state; see simulateCall.
   */
  simulateCall(header: BlockHeader, req: CallRequest): Promise<CallResult> {
    return simulateCall(this.stateAt(header), req, { number: header.number + 1n, timestamp: header.timestamp }, this.systemModules);
  }

  private async checkExecution(header: BlockHeader, result: ExecutionResult): Promise<void> {
    if (result.gasUsed !== header.gasUsed) {
      throw new ChainError({ code: ChainErrorCode.BAD_GAS_USED }, `gasUsed ${header.gasUsed} does not match the executed ${result.gasUsed}`);
    }
    if (result.logsBloom !== header.logsBloom) {
      throw new ChainError({ code: ChainErrorCode.BAD_BLOOM }, "logsBloom does not match the receipts");
    }
    const receiptsRoot = await orderedTrieRoot(result.receipts.map(encodeReceipt));
    if (receiptsRoot !== header.receiptsRoot) {
      throw new ChainError({ code: ChainErrorCode.BAD_RECEIPTS_ROOT }, `receiptsRoot ${header.receiptsRoot} does not match the executed ${receiptsRoot}`);
    }
  }

  /** Blocks leaving (newest first) and joining (oldest first) the canonical chain if `block` becomes head. */
  private async branchChange(block: Block): Promise<{ added: Block[]; removed: Block[] }> {
    const added: Block[] = [block];
    const removed: Block[] = [];
    let newHeader = block.header;
    let old = this.head;
    // walk the old branch down to the new block's height
    while (old.header.number >= block.header.number) {
      if (old.hash === block.hash) break;
      removed.push(old);
      old = (await this.getBlock(old.header.parentHash))!;
    }
    // walk both down until they meet
    let newParentHash = newHeader.parentHash;
    while (newParentHash !== old.hash) {
      const nb = (await this.getBlock(newParentHash))!;
      added.unshift(nb);
      newHeader = nb.header;
      newParentHash = newHeader.parentHash;
      if (old.header.number >= nb.header.number) {
        removed.push(old);
        old = (await this.getBlock(old.header.parentHash))!;
      }
    }
    return { added, removed };
  }

  private blockOps(block: Block, receipts: readonly Receipt[], td: bigint): BatchOp[] {
    const h = hexToBytes(block.hash);
    return [
      { type: "put", key: bucketKey(Bucket.header, h), value: encodeHeader(block.header) },
      { type: "put", key: bucketKey(Bucket.body, h), value: encodeBody(block.transactions, block.subBlocks ?? []) },
      { type: "put", key: bucketKey(Bucket.senders, h), value: concatSenders(block.transactions) },
      { type: "put", key: bucketKey(Bucket.receipts, h), value: encodeReceipts(receipts) },
      { type: "put", key: bucketKey(Bucket.totalDifficulty, h), value: bigIntToUnpaddedBytes(td) },
    ];
  }
}

function concatSenders(txs: readonly SignedTx[]): Uint8Array {
  const out = new Uint8Array(txs.length * 20);
  txs.forEach((tx, i) => out.set(hexToBytes(tx.from), i * 20));
  return out;
}

function txLookupValue(blockHash: Hex, index: number): Uint8Array {
  const v = new Uint8Array(36);
  v.set(hexToBytes(blockHash), 0);
  new DataView(v.buffer).setUint32(32, index);
  return v;
}
