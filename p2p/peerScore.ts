/** How much each kind of misbehaviour costs a peer (scores start at 0; at banThreshold the peer is banned). */
export const Penalty = {
  /** A block that fails validation (bad seal, bad state root...), or a chain that does not link. */
  invalidBlock: -60,
  /** A transaction that fails decoding or signature checks. */
  invalidTransaction: -10,
  /** A frame that does not decode, or is larger than allowed. */
  malformed: -25,
  /** More requests than the rate allows. */
  flood: -10,
  /** No answer in time, or a broken stream. */
  timeout: -5,
  /** Another chain id or genesis: banned at once. */
  wrongChain: -1_000_000,
} as const;
/** One of the Penalty kinds. */
export type PenaltyKind = keyof typeof Penalty;

/** Options of peer scoring. */
export interface PeerScoreOptions {
  /** Score at or below which a peer is disconnected and banned. */
  banThreshold: number;
  /** How long a ban lasts. */
  banMs: number;
  /** Score points a negative score recovers per minute (misbehaviour is forgiven slowly). */
  recoveryPerMinute: number;
  /** Requests per peer and protocol in each window before they count as a flood. */
  requestsPerWindow: number;
  windowMs: number;
}

/** Default scoring: ban at -100 for 10 minutes; 60 requests per protocol per 10 s. */
export const defaultPeerScoreOptions: PeerScoreOptions = {
  banThreshold: -100,
  banMs: 10 * 60_000,
  recoveryPerMinute: 10,
  requestsPerWindow: 60,
  windowMs: 10_000,
};

interface PeerRecord {
  score: number;
  updatedAt: number;
  /** Requests per protocol in the current window. */
  requests: Map<string, number>;
  windowStart: number;
  lastReason?: string;
}

/** A peer's standing as vs_peers shows it. */
export interface PeerStanding {
  score: number;
  bannedUntil?: number;
  lastPenalty?: string;
}

/**
 * Application-level peer scores and bans (gossipsub keeps its own mesh score beside this).
 * Penalties lower a peer's score; at the threshold `onBan` is told, which disconnects it, and the
 * connection gater refuses it until the ban ends. Bans are kept in memory: a restart forgives.
 */
export class PeerScores {
  private readonly opts: PeerScoreOptions;
  private readonly peers = new Map<string, PeerRecord>();
  private readonly bans = new Map<string, { until: number; reason: string }>();

  constructor(
    opts: Partial<PeerScoreOptions>,
    private readonly modules: { onBan: (peerId: string, reason: string) => void; now?: () => number },
  ) {
    this.opts = { ...defaultPeerScoreOptions, ...opts };
  }

  private now(): number {
    return this.modules.now?.() ?? Date.now();
  }

  private record(peerId: string): PeerRecord {
    const now = this.now();
    let r = this.peers.get(peerId);
    if (!r) {
      r = { score: 0, updatedAt: now, requests: new Map(), windowStart: now };
      this.peers.set(peerId, r);
    } else if (r.score < 0) {
      r.score = Math.min(0, r.score + ((now - r.updatedAt) / 60_000) * this.opts.recoveryPerMinute);
      r.updatedAt = now;
    }
    return r;
  }

  /** Lowers a peer's score; returns true if this penalty banned it. */
  penalize(peerId: string, kind: PenaltyKind, reason: string): boolean {
    if (this.isBanned(peerId)) return false;
    const r = this.record(peerId);
    r.score += Penalty[kind];
    r.lastReason = `${kind}: ${reason}`;
    if (r.score > this.opts.banThreshold) return false;
    this.bans.set(peerId, { until: this.now() + this.opts.banMs, reason: r.lastReason });
    this.peers.delete(peerId);
    this.modules.onBan(peerId, r.lastReason);
    return true;
  }

  /** Bans a peer now, whatever its score (an operator's decision, or a partition in tests). */
  ban(peerId: string, reason: string, ms = this.opts.banMs): void {
    this.bans.set(peerId, { until: this.now() + ms, reason });
    this.peers.delete(peerId);
    this.modules.onBan(peerId, reason);
  }

  /** Lifts a ban. */
  unban(peerId: string): void {
    this.bans.delete(peerId);
  }

  /** True while the peer is banned. */
  isBanned(peerId: string): boolean {
    const ban = this.bans.get(peerId);
    if (!ban) return false;
    if (ban.until > this.now()) return true;
    this.bans.delete(peerId);
    return false;
  }

  /** Counts one request of `protocol` from the peer; false when it is over the rate (a flood). */
  allowRequest(peerId: string, protocol: string): boolean {
    if (this.isBanned(peerId)) return false;
    const r = this.record(peerId);
    const now = this.now();
    if (now - r.windowStart >= this.opts.windowMs) {
      r.windowStart = now;
      r.requests.clear();
    }
    const n = (r.requests.get(protocol) ?? 0) + 1;
    r.requests.set(protocol, n);
    return n <= this.opts.requestsPerWindow;
  }

  /** The peer's score and ban, for display. */
  standing(peerId: string): PeerStanding {
    const ban = this.isBanned(peerId) ? this.bans.get(peerId) : undefined;
    if (ban) return { score: this.opts.banThreshold, bannedUntil: ban.until, lastPenalty: ban.reason };
    const r = this.peers.get(peerId) ? this.record(peerId) : undefined;
    return { score: Math.round(r?.score ?? 0), lastPenalty: r?.lastReason };
  }

  /** Forgets the score of a peer that disconnected in good standing (bans are kept). */
  forget(peerId: string): void {
    const r = this.peers.get(peerId);
    if (r && r.score >= 0) this.peers.delete(peerId);
  }

  /** Banned peers with the end of their ban (ms) and why. */
  banned(): Array<{ peerId: string; until: number; reason: string }> {
    return [...this.bans].filter(([id]) => this.isBanned(id)).map(([peerId, b]) => ({ peerId, ...b }));
  }
}
