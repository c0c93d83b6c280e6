import { EventEmitter } from "node:events";
import { NodeError } from "./errors.js";
import type { SubchainDeclaration } from "./genesis.js";
import { payloadHash } from "./subchain.js";
import { TxDropReason } from "./txPool.js";
import type { Hex } from "./types.js";

/** Settings of the payload pool. */
export interface PayloadPoolOptions {
  /** Most payloads held at once, claimed or not. */
  maxCount: number;
  /** Most payload bytes held at once, claimed or not. */
  maxBytes: number;
  /** Most bytes of payloads that no pooled transaction commits to yet. */
  maxUnclaimedBytes: number;
  /** How long a payload no pooled transaction commits to is kept (its transaction may still be on its way), ms. */
  unclaimedTtlMs: number;
  /** How often expired unclaimed payloads are dropped while the pool is started, ms. */
  pruneIntervalMs: number;
}

/** Default payload pool settings. */
export const defaultPayloadPoolOptions: PayloadPoolOptions = {
  maxCount: 4096,
  maxBytes: 128 * 1024 * 1024,
  maxUnclaimedBytes: 16 * 1024 * 1024,
  unclaimedTtlMs: 30_000,
  pruneIntervalMs: 5_000,
};

/** What the payload pool reads: the genesis sub-chains and a clock. */
export interface PayloadPoolModules {
  subchains: readonly SubchainDeclaration[];
  /** Milliseconds now; tests pass their own clock. */
  now?: () => number;
}

/** A transaction's commitment to a payload: the payload goes to sub-chain `subchainId` and hashes to `payloadHash`. */
export interface PayloadCommitment {
  subchainId: number;
  payloadHash: Hex;
}

/** Error codes of the payload pool. */
export const PayloadPoolErrorCode = {
  UNKNOWN_SUBCHAIN: "PAYLOADPOOL_UNKNOWN_SUBCHAIN",
  EMPTY_PAYLOAD: "PAYLOADPOOL_EMPTY_PAYLOAD",
  PAYLOAD_TOO_LARGE: "PAYLOADPOOL_PAYLOAD_TOO_LARGE",
  POOL_FULL: "PAYLOADPOOL_POOL_FULL",
} as const;
/** One of PayloadPoolErrorCode. */
export type PayloadPoolErrorCode = (typeof PayloadPoolErrorCode)[keyof typeof PayloadPoolErrorCode];

/** A payload or commitment the pool refuses. */
export class PayloadPoolError extends NodeError<{ code: PayloadPoolErrorCode }> {}

/** Why a payload left the pool. */
export const PayloadDropReason = {
  /** The last transaction committing to it left the transaction pool. */
  RELEASED: "released",
  /** No pooled transaction committed to it within unclaimedTtlMs. */
  EXPIRED: "expired",
  /** It was unclaimed and made room for another payload. */
  EVICTED: "evicted",
} as const;
/** One of PayloadDropReason. */
export type PayloadDropReason = (typeof PayloadDropReason)[keyof typeof PayloadDropReason];

/** Names of the payload pool's events. */
export const PayloadPoolEvent = {
  /** A payload entered the pool (gossip forwards it). */
  added: "payloadpool.added",
  /** A payload left the pool, with the reason. */
  dropped: "payloadpool.dropped",
} as const;

/** Listener arguments of each payload pool event. */
export type PayloadPoolEventData = {
  [PayloadPoolEvent.added]: [hash: Hex, subchainId: number];
  [PayloadPoolEvent.dropped]: [hash: Hex, reason: PayloadDropReason];
};

/**
 * Payloads that travel beside pooled transactions, like blob sidecars (DESIGN.md section 5), keyed
 * by keccak256(payload). A payload is claimed while a pooled transaction commits to it and leaves
 * with the last such transaction; an unclaimed one (gossip may bring it before its transaction) is
 * kept for unclaimedTtlMs and is the first to go when the pool is full.
 */
export class PayloadPool extends EventEmitter<PayloadPoolEventData> {
  private readonly opts: PayloadPoolOptions;
  private readonly subchains: ReadonlyMap<number, SubchainDeclaration>;
  private readonly now: () => number;
  private readonly entries = new Map<Hex, Uint8Array>();
  /** Unclaimed payloads by hash -> expiry; insertion order is expiry order (one TTL for all). */
  private readonly unclaimed = new Map<Hex, number>();
  /** Pooled transaction hash -> the commitments it made. */
  private readonly claimsByTx = new Map<Hex, PayloadCommitment[]>();
  /** Payload hash -> the pooled transactions committing to it (also before the payload arrives). */
  private readonly claimants = new Map<Hex, Set<Hex>>();
  private totalBytes = 0;
  private unclaimedBytes = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: Partial<PayloadPoolOptions>, modules: PayloadPoolModules) {
    super();
    this.opts = { ...defaultPayloadPoolOptions, ...opts };
    this.subchains = new Map(modules.subchains.map((d) => [d.id, d]));
    this.now = modules.now ?? Date.now;
  }

  /** Starts dropping expired unclaimed payloads every pruneIntervalMs (idempotent). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.prune(), this.opts.pruneIntervalMs);
    this.timer.unref();
  }

  /** Stops the pruning timer (idempotent); the payloads stay. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Number of payloads held. */
  get size(): number {
    return this.entries.size;
  }

  /** Sum of the lengths of the payloads held. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** The payload with this hash. */
  get(hash: Hex): Uint8Array | undefined {
    return this.entries.get(hash);
  }

  /** Whether the payload with this hash is held. */
  has(hash: Hex): boolean {
    return this.entries.has(hash);
  }

  /** The pooled transactions that commit to this payload hash (held or not). */
  claimantsOf(hash: Hex): Hex[] {
    return [...(this.claimants.get(hash) ?? [])];
  }

  /** Whether some pooled transaction commits to this payload hash. */
  isClaimed(hash: Hex): boolean {
    return (this.claimants.get(hash)?.size ?? 0) > 0;
  }

  /**
   * Adds a payload for sub-chain `subchainId` and returns its hash; a payload already held is not
   * added twice. `hash` is its keccak256 when the caller computed it already (never another value).
   * Throws PayloadPoolError for an undeclared sub-chain, an empty or oversized payload, or a pool
   * full of claimed payloads.
   */
  add(subchainId: number, payload: Uint8Array, hash: Hex = payloadHash(payload)): Hex {
    this.checkSize(subchainId, payload.length);
    if (this.entries.has(hash)) return hash;
    this.prune();
    const claimed = this.isClaimed(hash);
    this.makeRoom(payload.length, claimed);
    this.entries.set(hash, payload);
    this.totalBytes += payload.length;
    if (!claimed) this.markUnclaimed(hash, payload.length);
    this.emit(PayloadPoolEvent.added, hash, subchainId);
    return hash;
  }

  /**
   * Records that pooled transaction `txHash` commits to these payloads (they may not have arrived
   * yet). Idempotent per transaction. Throws for an undeclared sub-chain or a held payload too
   * large for the sub-chain the transaction puts it in; then nothing is recorded.
   */
  claim(txHash: Hex, commitments: readonly PayloadCommitment[]): void {
    if (this.claimsByTx.has(txHash)) return;
    for (const c of commitments) {
      const held = this.entries.get(c.payloadHash);
      if (held) this.checkSize(c.subchainId, held.length);
      else this.declaration(c.subchainId);
    }
    this.claimsByTx.set(txHash, [...commitments]);
    for (const c of commitments) {
      let txs = this.claimants.get(c.payloadHash);
      if (!txs) {
        txs = new Set();
        this.claimants.set(c.payloadHash, txs);
      }
      txs.add(txHash);
      const held = this.entries.get(c.payloadHash);
      if (held && this.unclaimed.delete(c.payloadHash)) this.unclaimedBytes -= held.length;
    }
  }

  /**
   * The transaction left the transaction pool: payloads no other pooled transaction commits to
   * leave too, except after a replacement (the replacing transaction may commit to the same
   * payload a moment later), when they stay unclaimed for unclaimedTtlMs.
   */
  release(txHash: Hex, reason: TxDropReason): void {
    const commitments = this.claimsByTx.get(txHash);
    if (!commitments) return;
    this.claimsByTx.delete(txHash);
    for (const hash of new Set(commitments.map((c) => c.payloadHash))) {
      const txs = this.claimants.get(hash);
      txs?.delete(txHash);
      if (txs && txs.size > 0) continue;
      this.claimants.delete(hash);
      const held = this.entries.get(hash);
      if (!held) continue;
      if (reason === TxDropReason.REPLACED) this.markUnclaimed(hash, held.length);
      else this.remove(hash, PayloadDropReason.RELEASED);
    }
  }

  /**
   * Takes back the claims of a transaction that is about to leave the transaction pool without
   * taking its payloads along: payloads no other pooled transaction commits to stay unclaimed for
   * unclaimedTtlMs (a bad transaction must not cost an honest one its payload).
   */
  unclaim(txHash: Hex): void {
    this.release(txHash, TxDropReason.REPLACED);
  }

  /** TxPoolEvent.dropped listener: releases the dropped transaction's payloads. */
  readonly onTxDropped = (txHash: Hex, reason: TxDropReason): void => this.release(txHash, reason);

  /**
   * The payloads a pooled transaction commits to, in its commitment order, when all are held;
   * undefined when one is missing (a miner leaves such a transaction out) or it made no claim.
   */
  payloadsFor(txHash: Hex): Uint8Array[] | undefined {
    const commitments = this.claimsByTx.get(txHash);
    if (!commitments) return undefined;
    const out: Uint8Array[] = [];
    for (const c of commitments) {
      const held = this.entries.get(c.payloadHash);
      if (!held) return undefined;
      out.push(held);
    }
    return out;
  }

  /** Hashes a pooled transaction commits to that the pool does not hold yet (to ask peers for). */
  missing(txHash: Hex): Hex[] {
    return (this.claimsByTx.get(txHash) ?? []).map((c) => c.payloadHash).filter((h) => !this.entries.has(h));
  }

  /** Up to `limit` payload hashes some pooled transaction commits to and the pool does not hold (to ask peers for). */
  missingPayloads(limit = Infinity): Hex[] {
    const out: Hex[] = [];
    for (const hash of this.claimants.keys()) {
      if (out.length >= limit) break;
      if (!this.entries.has(hash)) out.push(hash);
    }
    return out;
  }

  /** The sub-chain a pooled transaction puts the payload with this hash in, if one commits to it. */
  subchainOf(hash: Hex): number | undefined {
    for (const txHash of this.claimants.get(hash) ?? []) {
      const c = this.claimsByTx.get(txHash)?.find((x) => x.payloadHash === hash);
      if (c) return c.subchainId;
    }
    return undefined;
  }

  /** Drops unclaimed payloads whose time is up; returns how many. */
  prune(): number {
    const now = this.now();
    let dropped = 0;
    for (const [hash, expiresAt] of this.unclaimed) {
      if (expiresAt > now) break;
      this.remove(hash, PayloadDropReason.EXPIRED);
      dropped++;
    }
    return dropped;
  }

  private declaration(subchainId: number): SubchainDeclaration {
    const decl = this.subchains.get(subchainId);
    if (!decl) {
      throw new PayloadPoolError({ code: PayloadPoolErrorCode.UNKNOWN_SUBCHAIN }, `unknown sub-chain ${subchainId}: the genesis does not declare it`);
    }
    return decl;
  }

  private checkSize(subchainId: number, length: number): void {
    const decl = this.declaration(subchainId);
    if (length === 0) throw new PayloadPoolError({ code: PayloadPoolErrorCode.EMPTY_PAYLOAD }, "empty payload");
    if (length > decl.maxPayloadBytes) {
      throw new PayloadPoolError(
        { code: PayloadPoolErrorCode.PAYLOAD_TOO_LARGE },
        `payload too large: ${length} bytes, sub-chain ${decl.name} takes at most ${decl.maxPayloadBytes}`,
      );
    }
  }

  /** Evicts the oldest unclaimed payloads until `length` more bytes fit; throws POOL_FULL (pool unchanged) if they cannot. */
  private makeRoom(length: number, claimed: boolean): void {
    const { maxCount, maxBytes, maxUnclaimedBytes } = this.opts;
    const fits = (count: number, bytes: number, unclaimedBytes: number): boolean =>
      count + 1 <= maxCount && bytes + length <= maxBytes && (claimed || unclaimedBytes + length <= maxUnclaimedBytes);
    const victims: Hex[] = [];
    let [count, bytes, unclaimedBytes] = [this.entries.size, this.totalBytes, this.unclaimedBytes];
    for (const hash of this.unclaimed.keys()) {
      if (fits(count, bytes, unclaimedBytes)) break;
      const size = this.entries.get(hash)!.length;
      victims.push(hash);
      count--;
      bytes -= size;
      unclaimedBytes -= size;
    }
    if (!fits(count, bytes, unclaimedBytes)) {
      throw new PayloadPoolError(
        { code: PayloadPoolErrorCode.POOL_FULL },
        `payload pool is full (${this.size} payloads, ${this.bytes} bytes, ${this.unclaimedBytes} unclaimed; caps ${maxCount}, ${maxBytes}, ${maxUnclaimedBytes})`,
      );
    }
    for (const hash of victims) this.remove(hash, PayloadDropReason.EVICTED);
  }

  private markUnclaimed(hash: Hex, length: number): void {
    this.unclaimed.set(hash, this.now() + this.opts.unclaimedTtlMs);
    this.unclaimedBytes += length;
  }

  private remove(hash: Hex, reason: PayloadDropReason): void {
    const payload = this.entries.get(hash);
    if (!payload) return;
    this.entries.delete(hash);
    this.totalBytes -= payload.length;
    if (this.unclaimed.delete(hash)) this.unclaimedBytes -= payload.length;
    this.emit(PayloadPoolEvent.dropped, hash, reason);
  }
}
