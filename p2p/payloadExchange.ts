import { TopicValidatorResult } from "@libp2p/gossipsub";
import type { Logger } from "pino";
import { PayloadPoolErrorCode, SubchainError, isNodeError, payloadHash, type Blockchain, type Hex, type PayloadPool } from "../chain/index.js";
import { MAX_PAYLOADS_PER_REQUEST, MAX_RESPONSE_BYTES } from "./messages.js";
import type { PenaltyKind } from "./peerScore.js";

/** Options of the payload exchange. */
export interface PayloadExchangeOptions {
  /** Peers asked for missing payloads before giving up on them for now. */
  maxPeersPerFetch: number;
  /** Payloads of pooled publishes fetched per round (a miner includes a publish only with its payload). */
  missingPerRound: number;
  /** Wanted payloads (followed sub-chains, imported without their bytes) fetched per round. */
  wantedPerRound: number;
}

/** A missing payload no peer had is asked for again after this long. */
const MISSING_RETRY_MS = 30_000;

/** Defaults: ask up to 4 peers, fetch up to 64 wanted payloads and 16 missing ones a round. */
export const defaultPayloadExchangeOptions: PayloadExchangeOptions = { maxPeersPerFetch: 4, wantedPerRound: 64, missingPerRound: 16 };

/** What the payload exchange needs from the node and the network. */
export interface PayloadExchangeModules {
  /** Sub-chain records: stored payloads, wanted payloads, declarations. */
  chain: Pick<Blockchain, "subchains" | "genesis">;
  /** Payloads beside pooled transactions. */
  pool: Pick<PayloadPool, "add" | "get" | "has" | "isClaimed" | "missingPayloads" | "subchainOf">;
  /** Peers to ask (connected, status accepted). */
  peers: () => string[];
  /** Asks one peer for payloads by hash; one answer per hash (undefined: it has none). */
  request: (peerId: string, hashes: Hex[], signal?: AbortSignal) => Promise<(Uint8Array | undefined)[]>;
  penalize: (peerId: string, kind: PenaltyKind, reason: string) => void;
  log: Logger;
  /** Uniform in [0, 1); tests pass a seeded one. */
  random?: () => number;
}

/**
 * Sub-chain payloads between nodes (docs/p2p.md, "Payloads"): the gossip validator of the payload
 * topics, the `payloads` request served from the store and the pool, fetching payloads by hash
 * from peers (each answer is checked against the hash it was asked for, a wrong one costs the
 * peer), and filling in the payloads of followed sub-chains that blocks were imported without.
 */
export class PayloadExchange {
  private readonly opts: PayloadExchangeOptions;
  private wantedRound: Promise<number> | null = null;
  /** Missing payloads asked for without success, with when they may be asked for again (ms). */
  private readonly missingRetryAt = new Map<Hex, number>();
  /** The last wanted hash a round looked at: the next round goes on after it, so unfindable payloads do not starve the rest. */
  private wantedCursor: Hex | undefined;

  constructor(
    opts: Partial<PayloadExchangeOptions>,
    private readonly modules: PayloadExchangeModules,
  ) {
    this.opts = { ...defaultPayloadExchangeOptions, ...opts };
    this.maxPayloadBytes = Math.max(0, ...modules.chain.genesis.subchains.map((d) => d.maxPayloadBytes));
    this.maxResponseBytes = Math.max(MAX_RESPONSE_BYTES, this.maxPayloadBytes + 64 * 1024);
  }

  /** The largest payload any declared sub-chain takes. */
  readonly maxPayloadBytes: number;
  /** Largest `payloads` answer: the usual response cap, or one largest payload if that is more. */
  readonly maxResponseBytes: number;

  /** Answers a `payloads` request: each payload held (stored or pooled) while the answer stays under the cap. */
  async serve(hashes: readonly Hex[]): Promise<(Uint8Array | undefined)[]> {
    const { chain, pool } = this.modules;
    let room = this.maxResponseBytes - 1024;
    const out: (Uint8Array | undefined)[] = [];
    for (const hash of hashes) {
      const payload = pool.get(hash) ?? (await chain.subchains.getPayload(hash));
      if (payload && payload.length + 8 <= room) {
        room -= payload.length + 8;
        out.push(payload);
      } else {
        out.push(undefined);
      }
    }
    return out;
  }

  /**
   * A payload from a peer (its sub-chain's gossip topic, or beside a stem transaction), answered
   * as a gossip validator. The pool takes it (an empty or oversized one costs the sender and is
   * rejected); it is forwarded (accepted) only if a pooled transaction commits to it, else kept
   * unclaimed for a while and not forwarded (ignored), so payloads no transaction asks for go no
   * further than one hop. A transaction is gossiped before its payload, so honest payloads find
   * their claim; a node that missed one fetches it by hash (fillMissing). One already held, or a
   * full pool, is ignored.
   */
  receive(peer: string, subchainId: number, data: Uint8Array): TopicValidatorResult {
    const { pool, log } = this.modules;
    const hash = payloadHash(data);
    if (pool.has(hash)) return TopicValidatorResult.Ignore;
    try {
      pool.add(subchainId, data, hash);
      return pool.isClaimed(hash) ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore;
    } catch (e) {
      if (isNodeError(e) && e.code === PayloadPoolErrorCode.POOL_FULL) {
        log.debug({ err: e }, "gossiped payload dropped");
        return TopicValidatorResult.Ignore;
      }
      this.modules.penalize(peer, "malformed", `payload: ${(e as Error).message}`);
      return TopicValidatorResult.Reject;
    }
  }

  /**
   * Fetches payloads by hash from peers in random order, up to maxPeersPerFetch of them, until
   * every hash is answered; returns those found (each hashes to what was asked). A peer that sends
   * bytes of another hash is penalized; one that fails is only passed over.
   */
  async fetch(hashes: readonly Hex[], signal?: AbortSignal): Promise<Map<Hex, Uint8Array>> {
    const found = new Map<Hex, Uint8Array>();
    const missing = new Set(hashes);
    const peers = this.modules.peers();
    const random = this.modules.random ?? Math.random;
    for (let asked = 0; asked < this.opts.maxPeersPerFetch && peers.length > 0 && missing.size > 0; asked++) {
      signal?.throwIfAborted();
      const [peer] = peers.splice(Math.floor(random() * peers.length), 1) as [string];
      const list = [...missing];
      try {
        for (let i = 0; i < list.length; i += MAX_PAYLOADS_PER_REQUEST) {
          const chunk = list.slice(i, i + MAX_PAYLOADS_PER_REQUEST);
          const answers = await this.modules.request(peer, chunk, signal);
          answers.forEach((bytes, j) => {
            if (!bytes) return;
            const hash = chunk[j]!;
            if (payloadHash(bytes) !== hash) throw new Error(`peer sent a payload that does not hash to ${hash}`);
            found.set(hash, bytes);
            missing.delete(hash);
          });
        }
      } catch (e) {
        if (signal?.aborted) throw e;
        const bad = e instanceof Error && e.message.startsWith("peer sent a payload");
        if (bad || (isNodeError(e) && e.code.startsWith("P2P_MALFORMED"))) this.modules.penalize(peer, "malformed", `payloads: ${(e as Error).message}`);
        else this.modules.log.debug({ err: e, peer }, "payload request failed");
      }
    }
    return found;
  }

  /**
   * One round of filling in wanted payloads (followed sub-chains whose blocks were imported
   * without the bytes): from the pool if they arrived since, else from peers. Returns how many were
   * stored. Rounds do not overlap: a call during a round returns that round's result.
   */
  fillWanted(): Promise<number> {
    this.wantedRound ??= this.runWantedRound().finally(() => {
      this.wantedRound = null;
    });
    return this.wantedRound;
  }

  /**
   * Fetches from peers the payloads pooled publishes commit to and the pool lacks (a miner
   * includes a publish only with its payload); returns how many it added.
   */
  async fillMissing(): Promise<number> {
    const { pool } = this.modules;
    const now = Date.now();
    const missing = pool.missingPayloads();
    // forget hashes no longer missing; ask for the others at most every MISSING_RETRY_MS
    const stillMissing = new Set(missing);
    for (const h of this.missingRetryAt.keys()) if (!stillMissing.has(h)) this.missingRetryAt.delete(h);
    const hashes = missing.filter((h) => (this.missingRetryAt.get(h) ?? 0) <= now).slice(0, this.opts.missingPerRound);
    if (hashes.length === 0) return 0;
    for (const h of hashes) this.missingRetryAt.set(h, now + MISSING_RETRY_MS);
    let added = 0;
    for (const [hash, payload] of await this.fetch(hashes)) {
      const subchainId = pool.subchainOf(hash);
      if (subchainId === undefined || pool.has(hash)) continue;
      try {
        pool.add(subchainId, payload, hash);
        added++;
      } catch (e) {
        this.modules.log.debug({ err: e, hash }, "fetched payload not pooled");
      }
    }
    return added;
  }

  private async runWantedRound(): Promise<number> {
    const { chain, pool } = this.modules;
    let wanted = await chain.subchains.getWantedPayloads(this.opts.wantedPerRound, this.wantedCursor);
    if (wanted.length === 0 && this.wantedCursor !== undefined) wanted = await chain.subchains.getWantedPayloads(this.opts.wantedPerRound);
    this.wantedCursor = wanted.at(-1)?.hash;
    if (wanted.length === 0) return 0;
    let stored = 0;
    const store = async (payload: Uint8Array): Promise<boolean> => {
      try {
        return await chain.subchains.storeWantedPayload(payload);
      } catch (e) {
        // bytes that hash right but break the length a sub-block committed to: said, not stored
        if (!(e instanceof SubchainError)) throw e;
        this.modules.log.warn({ err: e }, "wanted payload refused");
        return false;
      }
    };
    const fromPeers: Hex[] = [];
    for (const { hash } of wanted) {
      const held = pool.get(hash);
      if (held && (await store(held))) stored++;
      // one whose block left the canonical chain stays wanted (it may come back) but is not asked for
      else if (!held && (await chain.subchains.getPayloadLocation(hash))) fromPeers.push(hash);
    }
    if (fromPeers.length === 0) return stored;
    for (const payload of (await this.fetch(fromPeers)).values()) {
      if (await store(payload)) stored++;
    }
    if (stored > 0) this.modules.log.debug({ stored, wanted: wanted.length }, "wanted payloads stored");
    return stored;
  }
}
