import { join } from "node:path";
import { bytesToHex } from "@ethereumjs/util";
import { BlockImporter, BlockProducer, Miner, type MinerOptions, WorkProvider, isBetterTip } from "../consensus/index.js";
import {
  Blockchain,
  ChainErrorCode,
  ChainEvent,
  PayloadPool,
  PayloadPoolEvent,
  type SystemModules,
  PublishPayloadError,
  RocksStore,
  TxPool,
  TxPoolError,
  TxPoolErrorCode,
  TxPoolEvent,
  checkPublishGas,
  checkPublishPayload,
  isNodeError,
  decodeTransaction,
  keccak256,
  publishCommitment,
  type Block,
  type ChainEventData,
  type GenesisConfig,
  type Hex,
  type PayloadCommitment,
  type PayloadPoolOptions,
  type SignedTx,
  type TxPoolOptions,
} from "../chain/index.js";
import { damagedDatabaseError, databaseOpenError } from "./dataDir.js";

/** Options of the ledger: where its data lives, which chain, and whether it mines. */
export interface LedgerOptions {
  /** Data folder; the chain database is `<datadir>/chain`. */
  datadir: string;
  genesis: GenesisConfig;
  /** The miner's private key when this node mines in-process (never logged). */
  minerKey?: Uint8Array;
  miner?: Partial<MinerOptions>;
  txPool?: Partial<TxPoolOptions>;
  payloadPool?: Partial<PayloadPoolOptions>;
  /** Ids of the sub-chains whose payloads this node stores besides pins (`--subchains`). */
  subchains?: number[];
  /** The system modules; absent: the chain's default set (tests pass their own). */
  systemModules?: SystemModules;
  /** Extra data written into mined headers (at most 32 bytes). */
  extraData?: Hex;
  /** Unix seconds now (test-only clock override). */
  now?: () => bigint;
  /** Told of background failures (a pool update after a new head); the node logs them. */
  onError?: (e: unknown) => void;
  /** Told how long each block import took, in seconds (metrics). */
  onImported?: (seconds: number) => void;
}

/**
 * The main chain as one unit: RocksDB store, blockchain, transaction pool, consensus importer,
 * block producer, work provider for external miners, and the optional in-process miner.
 */
export class Ledger {
  readonly store: RocksStore;
  readonly chain: Blockchain;
  readonly pool: TxPool;
  /** Payloads beside pooled publish transactions (docs/subchains.md). */
  readonly payloads: PayloadPool;
  readonly importer: BlockImporter;
  readonly producer: BlockProducer;
  readonly work: WorkProvider;
  readonly miner: Miner | null;
  private started = false;
  private poolUpdate: Promise<void> = Promise.resolve();

  constructor(private readonly opts: LedgerOptions) {
    const { genesis } = opts;
    this.store = new RocksStore({ path: join(opts.datadir, "chain") });
    this.chain = new Blockchain(
      { followedSubchains: opts.subchains ?? [] },
      { store: this.store, genesis, isBetterTip, payloadSource: (hash) => this.payloads.get(hash), systemModules: opts.systemModules },
    );
    this.pool = new TxPool(opts.txPool ?? {}, {
      chainId: genesis.chainId,
      baseFee: () => genesis.baseFeePerGas,
      state: () => this.chain.headState(),
      blockGasLimit: genesis.gasLimit,
    });
    this.payloads = new PayloadPool(opts.payloadPool ?? {}, { subchains: genesis.subchains });
    this.pool.on(TxPoolEvent.dropped, this.payloads.onTxDropped);
    this.payloads.on(PayloadPoolEvent.added, this.onPayloadAdded);
    this.importer = new BlockImporter({ chain: this.chain, now: opts.now, onImported: opts.onImported });
    this.producer = new BlockProducer(
      { extraData: opts.extraData ?? "0x" },
      {
        chain: this.chain,
        importer: this.importer,
        candidates: () => this.pool.pending(),
        payloads: this.payloads,
        now: opts.now,
        // a transaction that makes a system module fail (a bug, not a revert) would stop every template: drop it
        onFailed: (failed) => {
          this.pool.remove(failed.map((f) => f.hash));
          for (const f of failed) opts.onError?.(new Error(`transaction ${f.hash} dropped: executing it failed: ${String(f.error)}`, { cause: f.error }));
        },
      },
    );
    this.work = new WorkProvider({}, { chain: this.chain, importer: this.importer, producer: this.producer });
    this.miner = opts.minerKey
      ? new Miner(opts.miner ?? {}, {
          chain: this.chain,
          importer: this.importer,
          producer: this.producer,
          key: opts.minerKey,
          onError: opts.onError,
        })
      : null;
  }

  /** Opens the database, loads the head and starts mining if configured; undoes what started on failure. */
  async start(): Promise<void> {
    if (this.started) return;
    try {
      await this.store.start().catch(async (e: unknown) => {
        throw await databaseOpenError(this.opts.datadir, e);
      });
      // a chain rule's refusal (another genesis) says what is wrong itself; anything else is a database that does not read as a chain
      await this.chain.start().catch((e: unknown) => {
        if (!isNodeError(e)) throw damagedDatabaseError(this.opts.datadir, (e as Error).message, e);
        if (e.code !== ChainErrorCode.DATABASE_DAMAGED) throw e;
        throw damagedDatabaseError(this.opts.datadir, (e.type as { reason?: string }).reason ?? e.message, e);
      });
      this.chain.on(ChainEvent.newHead, this.onNewHead);
      this.payloads.start();
      this.started = true;
      this.miner?.start();
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Stops mining, waits for the block being written, and closes the database. */
  async stop(): Promise<void> {
    await this.miner?.stop();
    this.chain.off(ChainEvent.newHead, this.onNewHead);
    await this.poolUpdate;
    this.payloads.stop();
    await this.chain.stop();
    await this.store.stop();
    this.started = false;
  }

  /** Decodes, validates and pools a raw signed transaction; returns its hash. Throws TxError / TxPoolError. */
  async submitRawTransaction(raw: Uint8Array): Promise<Hex> {
    this.refuseKnown(raw);
    const tx = decodeTransaction(raw, this.opts.genesis.chainId);
    const commitment = publishCommitment(tx);
    if (commitment) this.checkPayloadGas(tx, commitment);
    await this.pool.add(tx);
    // a publish transaction may arrive before its payload: the claim lists the payload as missing
    if (commitment) this.claimPayload(tx, commitment);
    return tx.hash;
  }

  /**
   * Pools a publish transaction with the payload it commits to (vs_sendRawTransactionWithPayload):
   * the payload is checked against the transaction (PublishPayloadError), held in the payload pool
   * (PayloadPoolError) and claimed by the transaction, so it leaves when the transaction does.
   */
  async submitRawTransactionWithPayload(raw: Uint8Array, payload: Uint8Array): Promise<Hex> {
    this.refuseKnown(raw);
    const tx = decodeTransaction(raw, this.opts.genesis.chainId);
    const commitment = checkPublishPayload(tx, payload, this.opts.genesis.subchains);
    // held before the transaction is pooled: if the pool refuses it, the payload stays unclaimed and expires
    this.payloads.add(commitment.subchainId, payload, commitment.payloadHash);
    await this.pool.add(tx);
    this.claimPayload(tx, commitment);
    return tx.hash;
  }

  /** Puts the stored payloads of publish transactions a reorg sent back to the pool into the payload pool again. */
  private async restorePayloads(reinjected: readonly SignedTx[]): Promise<void> {
    for (const tx of reinjected) {
      const commitment = publishCommitment(tx);
      if (!commitment || !this.pool.has(tx.hash)) continue;
      const payload = await this.chain.subchains.getPayload(commitment.payloadHash);
      try {
        if (payload) this.payloads.add(commitment.subchainId, payload, commitment.payloadHash);
      } catch (e) {
        if (!isNodeError(e)) throw e;
      }
      this.claimPayload(tx, commitment);
    }
  }

  /**
   * A payload arrived (gossip, stem, a peer): a pooled publish for it whose gas limit cannot pay the
   * intrinsic gas plus the payload gas leaves the pool (no block may include it, and it would hold
   * back its sender's later transactions); the payload stays for other publishes.
   */
  private readonly onPayloadAdded = (hash: Hex): void => {
    for (const txHash of this.payloads.claimantsOf(hash)) {
      const tx = this.pool.get(txHash);
      const commitment = tx && publishCommitment(tx);
      if (!commitment) continue;
      try {
        this.checkPayloadGas(tx, commitment);
      } catch (e) {
        if (!(e instanceof PublishPayloadError)) throw e;
        this.payloads.unclaim(txHash);
        this.pool.remove([txHash]);
      }
    }
  };

  /**
   * Throws PublishPayloadError if the payload publish `tx` commits to is held and its gas limit
   * cannot pay the payload gas (the pool holds payloads under their own hash: only the gas is left to check).
   */
  private checkPayloadGas(tx: SignedTx, commitment: PayloadCommitment): void {
    const payload = this.payloads.get(commitment.payloadHash);
    const decl = this.opts.genesis.subchains.find((d) => d.id === commitment.subchainId);
    if (payload && decl) checkPublishGas(tx, decl, payload.length);
  }

  /** A known transaction is refused before its signature is recovered again. */
  private refuseKnown(raw: Uint8Array): void {
    const hash = bytesToHex(keccak256(raw)) as Hex;
    if (this.pool.has(hash)) {
      throw new TxPoolError({ code: TxPoolErrorCode.ALREADY_KNOWN, hash }, `already known: transaction ${hash} is pooled`);
    }
  }

  private claimPayload(tx: SignedTx, commitment: PayloadCommitment): void {
    // the pool may already have dropped it again (evicted at once): a claim then would never be released
    if (!this.pool.has(tx.hash)) return;
    try {
      this.payloads.claim(tx.hash, [commitment]);
    } catch (e) {
      // an undeclared sub-chain or a held payload too large for it: no claim, so no miner includes it
      if (!isNodeError(e)) throw e;
    }
  }

  /** Imports a block through the consensus rules. */
  importBlock(block: Block): ReturnType<BlockImporter["importBlock"]> {
    return this.importer.importBlock(block);
  }

  /** Waits until the pool has caught up with the last head change (tests, shutdown). */
  settled(): Promise<void> {
    return this.poolUpdate;
  }

  private readonly onNewHead = (e: ChainEventData[typeof ChainEvent.newHead]): void => {
    const included: SignedTx[] = e.added.flatMap((b) => b.transactions);
    const reinject: SignedTx[] = e.removed.flatMap((b) => b.transactions);
    this.poolUpdate = this.poolUpdate
      .then(async () => {
        await this.pool.onNewHead(included, reinject);
        await this.restorePayloads(reinject);
      })
      .catch((err: unknown) => this.opts.onError?.(err));
  };
}
