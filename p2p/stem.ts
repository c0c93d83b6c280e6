import { NodeError } from "../chain/index.js";
import { MAX_STEM_HOPS } from "./messages.js";

/** Codes of stem requests this node refuses (the answer's reason; the sender is scored where it is at fault). */
export const StemErrorCode = {
  /** The payload beside a publish is not one its sub-chain takes (undeclared sub-chain, empty, too large). */
  PAYLOAD_REFUSED: "P2P_STEM_PAYLOAD_REFUSED",
} as const;
/** One of StemErrorCode. */
export type StemErrorCode = (typeof StemErrorCode)[keyof typeof StemErrorCode];

/** A stem request refused. */
export class StemError extends NodeError<{ code: StemErrorCode }> {}

/** Options of the stem phase (Dandelion++ is the model). */
export interface StemOptions {
  /** Chance that a stem node passes the transaction on rather than gossiping it. */
  forwardProbability: number;
  /** Hops a transaction submitted here may travel in its stem (1 to MAX_STEM_HOPS). */
  maxHops: number;
  /** A stem transaction not seen in gossip after this long (plus up to half again at random) is gossiped by whoever holds it. */
  embargoMs: number;
}

/** Defaults: forward with probability 0.9, at most 3 hops, gossip anyway after 4-6 s. */
export const defaultStemOptions: StemOptions = { forwardProbability: 0.9, maxHops: MAX_STEM_HOPS, embargoMs: 4_000 };

/** What the router does with the network; `T` is what travels (a raw transaction, with its payload for a publish). */
export interface StemModules<T = Uint8Array> {
  /** Connected peers the transaction may go to. */
  neighbours: () => string[];
  /** Sends a stem message to one peer (rejects if it could not be delivered). */
  send: (peerId: string, hopsLeft: number, raw: T) => Promise<void>;
  /** Starts gossip of the transaction. */
  fluff: (raw: T) => Promise<void>;
  /** Uniform in [0, 1); tests pass a seeded one. */
  random?: () => number;
  onError?: (e: unknown) => void;
}

/**
 * Stem phase of transactions: a transaction this node's wallet or RPC submits goes first to one
 * random neighbour, which passes it to one random neighbour of its own with probability 0.9
 * (while hops are left) or starts gossip; so the node that gossips first is usually not the
 * submitter's. Every node that holds a stem transaction arms an embargo timer and gossips it
 * itself if it has not seen it in gossip by then, so a neighbour that drops it delays it only.
 */
export class StemRouter<T = Uint8Array> {
  private readonly opts: StemOptions;
  private readonly embargoes = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    opts: Partial<StemOptions>,
    private readonly modules: StemModules<T>,
  ) {
    this.opts = { ...defaultStemOptions, ...opts };
    if (this.opts.maxHops < 1 || this.opts.maxHops > MAX_STEM_HOPS) throw new RangeError(`stem maxHops must be 1-${MAX_STEM_HOPS}`);
  }

  private random(): number {
    return (this.modules.random ?? Math.random)();
  }

  /** A transaction submitted at this node (already validated and pooled): start its stem. */
  async originate(hash: string, raw: T): Promise<void> {
    this.arm(hash, raw);
    await this.passOn(hash, raw, this.opts.maxHops - 1, undefined);
  }

  /** A stem transaction from `fromPeer` (already validated and pooled here). */
  async onStem(fromPeer: string, hash: string, hopsLeft: number, raw: T): Promise<void> {
    if (this.embargoes.has(hash)) return; // a loop: it passed here before
    this.arm(hash, raw);
    if (hopsLeft > 0 && this.random() < this.opts.forwardProbability) {
      await this.passOn(hash, raw, hopsLeft - 1, fromPeer);
    } else {
      await this.fluff(hash, raw);
    }
  }

  /** The transaction was seen in gossip: its stem is over here. */
  seenInGossip(hash: string): void {
    const timer = this.embargoes.get(hash);
    if (timer) clearTimeout(timer);
    this.embargoes.delete(hash);
  }

  /** Stem transactions waiting for their embargo here. */
  get pending(): number {
    return this.embargoes.size;
  }

  /** Cancels every embargo timer. */
  stop(): void {
    this.stopped = true;
    for (const t of this.embargoes.values()) clearTimeout(t);
    this.embargoes.clear();
  }

  private async passOn(hash: string, raw: T, hopsLeft: number, except: string | undefined): Promise<void> {
    const candidates = this.modules.neighbours().filter((p) => p !== except);
    // try neighbours in random order until one takes it; with none, gossip it at once
    while (candidates.length > 0) {
      const [peer] = candidates.splice(Math.floor(this.random() * candidates.length), 1);
      try {
        await this.modules.send(peer as string, hopsLeft, raw);
        return;
      } catch (e) {
        this.modules.onError?.(e);
      }
    }
    await this.fluff(hash, raw);
  }

  private async fluff(hash: string, raw: T): Promise<void> {
    this.seenInGossip(hash);
    await this.modules.fluff(raw);
  }

  private arm(hash: string, raw: T): void {
    if (this.stopped || this.embargoes.has(hash)) return;
    const delay = this.opts.embargoMs * (1 + this.random() / 2);
    const timer = setTimeout(() => {
      this.embargoes.delete(hash);
      this.modules.fluff(raw).catch((e: unknown) => this.modules.onError?.(e));
    }, delay);
    timer.unref();
    this.embargoes.set(hash, timer);
  }
}
