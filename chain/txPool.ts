import { EventEmitter } from "node:events";
import { NodeError, isNodeError } from "./errors.js";
import { SerialQueue } from "./serialQueue.js";
import { TxError, TxErrorCode, checkAgainstAccount, checkFee, effectiveGasPrice, maxCost, type SignedTx } from "./transaction.js";
import type { Account, AccountReader, Hex } from "./types.js";

/** Settings of the transaction pool. */
export interface TxPoolOptions {
  /** Most transactions held at once; beyond it the lowest-fee ones are evicted. */
  maxCount: number;
  /** Most raw transaction bytes held at once; beyond it the lowest-fee ones are evicted. */
  maxBytes: number;
  /** How much higher (percent) both fee caps of a replacement must be than those of the transaction it replaces. */
  priceBumpPercent: number;
  /** How far above the sender's account nonce a pooled nonce may be; beyond it the transaction is NONCE_TOO_HIGH. */
  maxNonceGap: number;
  /** Most transactions held for one sender. */
  maxPerSender: number;
}

/** Default pool settings. */
export const defaultTxPoolOptions: TxPoolOptions = {
  maxCount: 5000,
  maxBytes: 32 * 1024 * 1024,
  priceBumpPercent: 10,
  maxNonceGap: 64,
  maxPerSender: 64,
};

/** What the pool reads: the chain id, the base fee of the next block and the state of the current head. */
export interface TxPoolModules {
  chainId: bigint;
  /** Base fee per gas of the block being built on the current head. */
  baseFee: () => bigint;
  /** Accounts of the current head state. */
  state: () => AccountReader;
  /** The block gas limit: a transaction asking for more could never be mined. */
  blockGasLimit?: bigint;
}

/** Error codes of the pool itself (validation of a single transaction uses TxErrorCode). */
export const TxPoolErrorCode = {
  ALREADY_KNOWN: "TXPOOL_ALREADY_KNOWN",
  REPLACEMENT_UNDERPRICED: "TXPOOL_REPLACEMENT_UNDERPRICED",
  POOL_FULL: "TXPOOL_POOL_FULL",
  SENDER_LIMIT: "TXPOOL_SENDER_LIMIT",
  EXCEEDS_BLOCK_GAS_LIMIT: "TXPOOL_EXCEEDS_BLOCK_GAS_LIMIT",
} as const;
/** One of TxPoolErrorCode. */
export type TxPoolErrorCode = (typeof TxPoolErrorCode)[keyof typeof TxPoolErrorCode];

/** A transaction the pool refuses for a reason of its own (known, underpriced replacement, full). */
export class TxPoolError extends NodeError<{ code: TxPoolErrorCode; hash: Hex }> {}

/** Why a transaction left the pool. */
export const TxDropReason = {
  INCLUDED: "included",
  REPLACED: "replaced",
  EVICTED: "evicted",
  NONCE_TOO_LOW: "nonceTooLow",
  INSUFFICIENT_FUNDS: "insufficientFunds",
  SENDER_LIMIT: "senderLimit",
  REMOVED: "removed",
} as const;
/** One of TxDropReason. */
export type TxDropReason = (typeof TxDropReason)[keyof typeof TxDropReason];

/** Names of the pool's events. */
export const TxPoolEvent = {
  /** A transaction entered the pool (newPendingTransactions subscriptions). */
  added: "txpool.added",
  /** A transaction left the pool, with the reason. */
  dropped: "txpool.dropped",
} as const;

/** Listener arguments of each pool event. */
export type TxPoolEventData = {
  [TxPoolEvent.added]: [tx: SignedTx];
  [TxPoolEvent.dropped]: [hash: Hex, reason: TxDropReason];
};

/** Both views of the pool grouped by sender, nonce ascending (the txpool_content shape). */
export interface TxPoolContent {
  pending: Map<Hex, SignedTx[]>;
  queued: Map<Hex, SignedTx[]>;
}

interface PoolEntry {
  tx: SignedTx;
  /** Arrival order: breaks fee ties, older first. */
  seq: number;
}

interface SenderTxs {
  /** Account nonce at the last head update (or the last add, whichever read it later). */
  nonce: bigint;
  /** Sorted by nonce ascending, nonces unique and >= `nonce`. */
  entries: PoolEntry[];
}

interface Drop {
  entry: PoolEntry;
  reason: TxDropReason;
}

/**
 * The mempool: holds valid transactions per sender in nonce order, hands out the executable ones
 * for block templates (highest tip first, each sender's nonces in order), replaces a transaction
 * only for a fee bump, evicts the lowest-fee ones beyond the count and byte caps, and revalidates
 * everything against the state of each new head.
 */
export class TxPool extends EventEmitter<TxPoolEventData> {
  private readonly opts: TxPoolOptions;
  private readonly modules: TxPoolModules;
  private readonly byHash = new Map<Hex, PoolEntry>();
  private readonly senders = new Map<Hex, SenderTxs>();
  private totalBytes = 0;
  private nextSeq = 0;
  // add() and onNewHead() read state and then change the pool; one at a time so no read goes stale
  private readonly queue = new SerialQueue();

  constructor(opts: Partial<TxPoolOptions>, modules: TxPoolModules) {
    super();
    this.opts = { ...defaultTxPoolOptions, ...opts };
    this.modules = modules;
  }

  /** Nothing to start: the pool only reacts to calls. */
  start(): void {}

  /** Nothing to stop. */
  stop(): void {}

  /** Number of pooled transactions. */
  get size(): number {
    return this.byHash.size;
  }

  /** Sum of the raw sizes of the pooled transactions. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** The pooled transaction with this hash. */
  get(hash: Hex): SignedTx | undefined {
    return this.byHash.get(hash)?.tx;
  }

  /** The sender's pooled transactions, nonce ascending (pending and queued). */
  senderTransactions(address: Hex): SignedTx[] {
    return this.senders.get(address)?.entries.map((e) => e.tx) ?? [];
  }

  /** The sender's next nonce given its account nonce: past the pooled transactions that follow it without a gap (geth's pending nonce). */
  pendingNonce(address: Hex, accountNonce: bigint): bigint {
    let nonce = accountNonce;
    for (const e of this.senders.get(address)?.entries ?? []) {
      if (e.tx.nonce === nonce) nonce++;
      else if (e.tx.nonce > nonce) break;
    }
    return nonce;
  }

  /** Whether a transaction with this hash is pooled. */
  has(hash: Hex): boolean {
    return this.byHash.has(hash);
  }

  /**
   * Validates `tx` against the head state and the pool and adds it; rejects with a TxError
   * (fee, nonce, funds) or a TxPoolError (known, underpriced replacement, full).
   */
  add(tx: SignedTx): Promise<void> {
    if (this.byHash.has(tx.hash)) return Promise.reject(alreadyKnown(tx));
    return this.exclusive(async () => {
      const account = await this.modules.state().getAccount(tx.from);
      this.addWithAccount(tx, account);
    });
  }

  /**
   * Executable transactions for a block template: per sender the gapless nonce run from its account
   * nonce (stopping at a fee cap below the base fee), merged across senders by effective tip.
   */
  pending(): SignedTx[] {
    const baseFee = this.modules.baseFee();
    const heap = new Heap<{ run: PoolEntry[]; i: number; tip: bigint }>((a, b) => {
      if (a.tip !== b.tip) return a.tip > b.tip;
      return a.run[a.i]!.seq < b.run[b.i]!.seq;
    });
    for (const sender of this.senders.values()) {
      const run = sender.entries.slice(0, executableCount(sender, baseFee));
      if (run.length > 0) heap.push({ run, i: 0, tip: effectiveTip(run[0]!.tx, baseFee) });
    }
    const out: SignedTx[] = [];
    for (let head = heap.pop(); head !== undefined; head = heap.pop()) {
      out.push(head.run[head.i]!.tx);
      head.i++;
      if (head.i < head.run.length) {
        head.tip = effectiveTip(head.run[head.i]!.tx, baseFee);
        heap.push(head);
      }
    }
    return out;
  }

  /** Transactions that cannot go into the next block: behind a nonce gap or a fee cap below the base fee. */
  queued(): SignedTx[] {
    return [...this.content().queued.values()].flat();
  }

  /** Pending and queued transactions grouped by sender, nonce ascending. */
  content(): TxPoolContent {
    const baseFee = this.modules.baseFee();
    const pending = new Map<Hex, SignedTx[]>();
    const queued = new Map<Hex, SignedTx[]>();
    for (const [from, sender] of this.senders) {
      const n = executableCount(sender, baseFee);
      if (n > 0) pending.set(from, sender.entries.slice(0, n).map((e) => e.tx));
      if (n < sender.entries.length) queued.set(from, sender.entries.slice(n).map((e) => e.tx));
    }
    return { pending, queued };
  }

  /** Removes these transactions if pooled (a sender's later nonces stay, now queued); returns how many were removed. */
  remove(hashes: Iterable<Hex>): number {
    const drops: Drop[] = [];
    for (const hash of hashes) {
      const entry = this.byHash.get(hash);
      if (entry === undefined) continue;
      this.removeEntry(entry);
      drops.push({ entry, reason: TxDropReason.REMOVED });
    }
    this.emitDrops(drops);
    return drops.length;
  }

  /**
   * Brings the pool to a new head: drops `included` (transactions of the new canonical blocks),
   * re-adds `reinject` (transactions of blocks a reorg dropped; invalid ones are skipped), and
   * revalidates every pooled transaction against the head state.
   */
  onNewHead(included: readonly SignedTx[], reinject: readonly SignedTx[]): Promise<void> {
    return this.exclusive(async () => {
      const drops: Drop[] = [];
      const includedHashes = new Set<Hex>();
      for (const tx of included) {
        includedHashes.add(tx.hash);
        const entry = this.byHash.get(tx.hash);
        if (entry === undefined) continue;
        this.removeEntry(entry);
        drops.push({ entry, reason: TxDropReason.INCLUDED });
      }

      const addresses = new Set<Hex>(this.senders.keys());
      for (const tx of reinject) addresses.add(tx.from);
      const state = this.modules.state();
      const accounts = new Map<Hex, Account>(
        await Promise.all([...addresses].map(async (a) => [a, await state.getAccount(a)] as const)),
      );

      for (const from of [...this.senders.keys()]) {
        const account = accounts.get(from);
        if (account !== undefined) this.resetSender(from, account, drops);
      }
      this.emitDrops(drops);

      const readd = reinject
        .filter((tx) => !includedHashes.has(tx.hash))
        .sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.nonce < b.nonce ? -1 : a.nonce > b.nonce ? 1 : 0));
      for (const tx of readd) {
        try {
          this.addWithAccount(tx, accounts.get(tx.from)!);
        } catch (e) {
          if (!isNodeError(e)) throw e;
        }
      }
    });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn);
  }

  /** The synchronous part of add: `account` is the sender's account at the current head. */
  private addWithAccount(tx: SignedTx, account: Account): void {
    if (this.byHash.has(tx.hash)) throw alreadyKnown(tx);
    if (tx.chainId !== this.modules.chainId) {
      throw new TxError(
        { code: TxErrorCode.WRONG_CHAIN_ID, expected: this.modules.chainId, got: tx.chainId },
        `wrong chain id: the transaction is signed for chain ${tx.chainId}, this chain is ${this.modules.chainId}`,
      );
    }
    const { blockGasLimit } = this.modules;
    if (blockGasLimit !== undefined && tx.gasLimit > blockGasLimit) {
      throw new TxPoolError(
        { code: TxPoolErrorCode.EXCEEDS_BLOCK_GAS_LIMIT, hash: tx.hash },
        `exceeds block gas limit: the transaction asks for ${tx.gasLimit} gas, a block holds ${blockGasLimit}`,
      );
    }
    checkFee(tx, this.modules.baseFee());
    checkAgainstAccount(tx, account, { allowFutureNonce: true });
    const maxNonce = account.nonce + BigInt(this.opts.maxNonceGap);
    if (tx.nonce > maxNonce) {
      throw new TxError(
        { code: TxErrorCode.NONCE_TOO_HIGH, from: tx.from, accountNonce: account.nonce, txNonce: tx.nonce },
        `nonce too high: account ${tx.from} has nonce ${account.nonce}, transaction has ${tx.nonce}; ` +
          `the pool holds nonces up to ${maxNonce} (maxNonceGap ${this.opts.maxNonceGap})`,
      );
    }

    const stale: Drop[] = [];
    this.resetSender(tx.from, account, stale);
    this.emitDrops(stale);

    const displaced = this.insert(tx, account);
    this.emitDrops(displaced);
    this.emit(TxPoolEvent.added, tx);
  }

  /**
   * Inserts `tx` with everything it displaces (replaced, unaffordable later nonces, sender and pool
   * caps) and returns those; on a throw the pool is unchanged.
   */
  private insert(tx: SignedTx, account: Account): Drop[] {
    const sender = this.senders.get(tx.from);
    const entries = sender?.entries ?? [];
    const old = entries.find((e) => e.tx.nonce === tx.nonce);
    if (old !== undefined) this.checkReplacement(old.tx, tx);

    let spent = 0n;
    for (const e of entries) if (e.tx.nonce < tx.nonce) spent += maxCost(e.tx);
    const need = spent + maxCost(tx);
    if (need > account.balance) {
      throw new TxError(
        { code: TxErrorCode.INSUFFICIENT_FUNDS, from: tx.from, balance: account.balance, cost: need },
        `insufficient funds: account ${tx.from} has ${account.balance} wei, this transaction with the sender's ` +
          `pooled lower nonces may cost ${need} wei`,
      );
    }

    const displaced: Drop[] = [];
    const entry: PoolEntry = { tx, seq: this.nextSeq++ };
    const rollback = (): void => {
      this.removeEntry(entry);
      for (const d of displaced) this.insertEntry(d.entry, account.nonce);
    };

    if (old !== undefined) {
      this.removeEntry(old);
      displaced.push({ entry: old, reason: TxDropReason.REPLACED });
    }
    this.insertEntry(entry, account.nonce);
    const list = this.senders.get(tx.from)!.entries;

    // a replacement or a filled gap may make later nonces unaffordable; they are the highest, so no gap opens
    let cumulative = 0n;
    let firstUnaffordable = list.length;
    for (let i = 0; i < list.length; i++) {
      cumulative += maxCost(list[i]!.tx);
      if (cumulative > account.balance) {
        firstUnaffordable = i;
        break;
      }
    }
    for (const e of list.slice(firstUnaffordable)) {
      this.removeEntry(e);
      displaced.push({ entry: e, reason: TxDropReason.INSUFFICIENT_FUNDS });
    }

    while (list.length > this.opts.maxPerSender) {
      const tail = list[list.length - 1]!;
      if (tail === entry) {
        rollback();
        throw new TxPoolError(
          { code: TxPoolErrorCode.SENDER_LIMIT, hash: tx.hash },
          `sender limit: ${tx.from} already has ${this.opts.maxPerSender} pooled transactions with lower nonces`,
        );
      }
      this.removeEntry(tail);
      displaced.push({ entry: tail, reason: TxDropReason.SENDER_LIMIT });
    }

    const victims = this.planEviction();
    if (victims.includes(entry)) {
      rollback();
      throw new TxPoolError(
        { code: TxPoolErrorCode.POOL_FULL, hash: tx.hash },
        `txpool is full (${this.size} transactions, ${this.bytes} bytes; caps ${this.opts.maxCount}, ${this.opts.maxBytes}) and the transaction's tip ${effectiveTip(tx, this.modules.baseFee())} is among the lowest`,
      );
    }
    for (const v of victims) {
      this.removeEntry(v);
      displaced.push({ entry: v, reason: TxDropReason.EVICTED });
    }
    return displaced;
  }

  private checkReplacement(old: SignedTx, tx: SignedTx): void {
    const pct = BigInt(100 + this.opts.priceBumpPercent);
    const minFee = ceilDiv(old.maxFeePerGas * pct, 100n);
    const minTip = ceilDiv(old.maxPriorityFeePerGas * pct, 100n);
    if (tx.maxFeePerGas < minFee || tx.maxPriorityFeePerGas < minTip) {
      throw new TxPoolError(
        { code: TxPoolErrorCode.REPLACEMENT_UNDERPRICED, hash: tx.hash },
        `replacement transaction underpriced: maxFeePerGas ${tx.maxFeePerGas} and maxPriorityFeePerGas ${tx.maxPriorityFeePerGas} ` +
          `must be at least ${minFee} and ${minTip} (${pct}% of ${old.maxFeePerGas} and ${old.maxPriorityFeePerGas})`,
      );
    }
  }

  /**
   * The transactions to evict so the pool fits its caps, in eviction order. Only a sender's highest
   * nonce is ever a candidate, ranked by the lowest tip up to it (it cannot be mined before those).
   */
  private planEviction(): PoolEntry[] {
    let excessCount = this.byHash.size - this.opts.maxCount;
    let excessBytes = this.totalBytes - this.opts.maxBytes;
    if (excessCount <= 0 && excessBytes <= 0) return [];

    const baseFee = this.modules.baseFee();
    interface Candidate {
      entries: PoolEntry[];
      /** Index of the sender's current highest nonce in the plan. */
      i: number;
      executable: number;
      /** minTip[j]: lowest effective tip of entries[0..j]. */
      minTip: bigint[];
    }
    // Non-executable transactions go before executable ones whatever their fee: otherwise funded
    // accounts could fill the pool with high-fee transactions behind nonce gaps that never execute
    // and push out everything minable.
    const evictFirst = (a: Candidate, b: Candidate): boolean => {
      const aExec = a.i < a.executable;
      const bExec = b.i < b.executable;
      if (aExec !== bExec) return !aExec;
      const aTip = a.minTip[a.i]!;
      const bTip = b.minTip[b.i]!;
      if (aTip !== bTip) return aTip < bTip;
      return a.entries[a.i]!.seq > b.entries[b.i]!.seq;
    };
    const heap = new Heap<Candidate>(evictFirst);
    for (const sender of this.senders.values()) {
      const minTip: bigint[] = [];
      let low: bigint | undefined;
      for (const e of sender.entries) {
        const tip = effectiveTip(e.tx, baseFee);
        low = low === undefined || tip < low ? tip : low;
        minTip.push(low);
      }
      heap.push({ entries: sender.entries, i: sender.entries.length - 1, executable: executableCount(sender, baseFee), minTip });
    }

    const victims: PoolEntry[] = [];
    while (excessCount > 0 || excessBytes > 0) {
      const c = heap.pop();
      if (c === undefined) break;
      const victim = c.entries[c.i]!;
      victims.push(victim);
      excessCount--;
      excessBytes -= victim.tx.raw.length;
      c.i--;
      if (c.i >= 0) heap.push(c);
    }
    return victims;
  }

  /** Takes the sender's account at a new state: drops nonces it has used and the unaffordable tail. */
  private resetSender(from: Hex, account: Account, drops: Drop[]): void {
    const sender = this.senders.get(from);
    if (sender === undefined) return;
    sender.nonce = account.nonce;
    const list = sender.entries;
    let firstKept = 0;
    while (firstKept < list.length && list[firstKept]!.tx.nonce < account.nonce) firstKept++;
    let cumulative = 0n;
    let firstUnaffordable = list.length;
    for (let i = firstKept; i < list.length; i++) {
      cumulative += maxCost(list[i]!.tx);
      if (cumulative > account.balance) {
        firstUnaffordable = i;
        break;
      }
    }
    const tooLow = list.slice(0, firstKept);
    const unaffordable = list.slice(firstUnaffordable);
    for (const entry of tooLow) {
      this.removeEntry(entry);
      drops.push({ entry, reason: TxDropReason.NONCE_TOO_LOW });
    }
    for (const entry of unaffordable) {
      this.removeEntry(entry);
      drops.push({ entry, reason: TxDropReason.INSUFFICIENT_FUNDS });
    }
  }

  private insertEntry(entry: PoolEntry, accountNonce: bigint): void {
    const from = entry.tx.from;
    let sender = this.senders.get(from);
    if (sender === undefined) {
      sender = { nonce: accountNonce, entries: [] };
      this.senders.set(from, sender);
    }
    const list = sender.entries;
    let i = list.length;
    while (i > 0 && list[i - 1]!.tx.nonce > entry.tx.nonce) i--;
    list.splice(i, 0, entry);
    this.byHash.set(entry.tx.hash, entry);
    this.totalBytes += entry.tx.raw.length;
  }

  private removeEntry(entry: PoolEntry): void {
    const from = entry.tx.from;
    const sender = this.senders.get(from);
    if (sender === undefined) return;
    const i = sender.entries.indexOf(entry);
    if (i < 0) return;
    sender.entries.splice(i, 1);
    // keep the array object: callers may hold it while removing several entries
    if (sender.entries.length === 0) this.senders.delete(from);
    this.byHash.delete(entry.tx.hash);
    this.totalBytes -= entry.tx.raw.length;
  }

  private emitDrops(drops: readonly Drop[]): void {
    for (const d of drops) this.emit(TxPoolEvent.dropped, d.entry.tx.hash, d.reason);
  }
}

function alreadyKnown(tx: SignedTx): TxPoolError {
  return new TxPoolError({ code: TxPoolErrorCode.ALREADY_KNOWN, hash: tx.hash }, `already known: transaction ${tx.hash} is pooled`);
}

/** Tip per gas the miner gets at this base fee; negative when the fee cap is below the base fee. */
function effectiveTip(tx: SignedTx, baseFee: bigint): bigint {
  return effectiveGasPrice(tx, baseFee) - baseFee;
}

/** How many of the sender's entries, from the first, form a gapless run from its account nonce that fits the base fee. */
function executableCount(sender: SenderTxs, baseFee: bigint): number {
  const list = sender.entries;
  let n = 0;
  while (n < list.length && list[n]!.tx.nonce === sender.nonce + BigInt(n) && list[n]!.tx.maxFeePerGas >= baseFee) n++;
  return n;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/** A binary heap; `before(a, b)` is true when `a` comes out first. */
class Heap<T> {
  private readonly items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < items.length && this.before(items[l]!, items[best]!)) best = l;
      if (r < items.length && this.before(items[r]!, items[best]!)) best = r;
      if (best === i) break;
      [items[i], items[best]] = [items[best]!, items[i]!];
      i = best;
    }
    return top;
  }
}
