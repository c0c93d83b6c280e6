import { RLP } from "@ethereumjs/rlp";
import { pino, type Logger } from "pino";
import { NodeError, headerHash, isNodeError, orderedTrieRoot, subchainsRoot, type Block, type BlockHeader, type Blockchain, type Hex, type ImportResult } from "../chain/index.js";
import { isBetterTip } from "../consensus/index.js";
import { MAX_BODIES_PER_REQUEST, MAX_HEADERS_PER_REQUEST, MAX_RESPONSE_BYTES, WireErrorCode, decodeBlockBody, type HeadersRequest, type Status } from "./messages.js";
import { isInvalidBlockError } from "./validity.js";

// Header-first chain sync, independent of the transport: the network layer hands it peers that
// answer header and body requests (SyncPeers) and tells it when a peer's status changes; the
// serving side (serveHeaders, serveBodies) answers the same requests from our chain.

/** A connected peer as sync sees it: its id and the last status it sent. */
export interface SyncPeer {
  id: string;
  status: Status;
}

/** What sync needs of the network: the peers, two requests, and a way to score a peer down. */
export interface SyncPeers {
  /** Connected peers whose status was accepted (same chain id and genesis). */
  peers(): SyncPeer[];
  /** The peer's canonical headers [start, start+count), fewer if it has fewer; throws on timeout, transport error or a malformed answer. */
  requestHeaders(peerId: string, req: HeadersRequest, signal?: AbortSignal): Promise<BlockHeader[]>;
  /** Encoded bodies (chain's encodeBody) of the given blocks, in order, possibly fewer than asked; throws like requestHeaders. */
  requestBodies(peerId: string, hashes: Hex[], signal?: AbortSignal): Promise<Uint8Array[]>;
  /**
   * A peer failed us. `fatal`: its answer was provably wrong (headers that do not link, a body that
   * does not match its header, a block that breaks a consensus or chain rule, another genesis);
   * otherwise a light penalty (timeout, transport error, a claimed chain it does not serve).
   */
  penalize(peerId: string, reason: string, fatal: boolean): void;
}

/** How far a sync has come, as eth_syncing reports it. */
export interface SyncProgress {
  /** Our head number when this sync started. */
  startingBlock: bigint;
  /** Our head number now. */
  currentBlock: bigint;
  /** The highest head number of the peers we sync from. */
  highestBlock: bigint;
}

/** Options of the Syncer. */
export interface SyncOptions {
  /** Milliseconds a peer has to answer one request. */
  requestTimeoutMs: number;
  /** Headers asked for per request (at most MAX_HEADERS_PER_REQUEST). */
  headersPerRequest: number;
  /** Bodies asked for per request (at most MAX_BODIES_PER_REQUEST). */
  bodiesPerRequest: number;
  /** Body requests in flight at once, over all peers. */
  bodyRequests: number;
  /** Body requests in flight at once to one peer. */
  bodyRequestsPerPeer: number;
  /** Most blocks whose headers are fetched but not imported yet (bounds memory; at least headersPerRequest). */
  maxBlocksAhead: number;
  /** Headers in the first step back of the common-ancestor search; the step doubles each round. */
  ancestorStep: number;
  /** Times one block's body is asked for before the sync from that header peer is given up. */
  maxBodyAttempts: number;
  /** Milliseconds after a sync that ended with a peer still ahead (it failed us) before trying again. */
  retryMs: number;
}

/** Default Syncer options. */
export const defaultSyncOptions: SyncOptions = {
  requestTimeoutMs: 10_000,
  headersPerRequest: MAX_HEADERS_PER_REQUEST,
  bodiesPerRequest: 32,
  bodyRequests: 8,
  bodyRequestsPerPeer: 2,
  maxBlocksAhead: 2 * MAX_HEADERS_PER_REQUEST,
  ancestorStep: 64,
  maxBodyAttempts: 5,
  retryMs: 5_000,
};

/** Collaborators of the Syncer. */
export interface SyncModules {
  chain: Blockchain;
  /** Imports one block through the consensus rules (the ledger's importer). */
  importBlock: (block: Block) => Promise<ImportResult>;
  peers: SyncPeers;
  logger?: Logger;
  /** Told the progress after each imported block, and `false` when a sync ends (eth_subscribe "syncing"). */
  onProgress?: (progress: SyncProgress | false) => void;
}

/** Why a sync from a peer stopped. */
const SyncErrorCode = {
  WRONG_GENESIS: "SYNC_WRONG_GENESIS",
  BAD_HEADERS: "SYNC_BAD_HEADERS",
  BAD_BODY: "SYNC_BAD_BODY",
  INVALID_BLOCK: "SYNC_INVALID_BLOCK",
  UNIMPORTABLE_BLOCK: "SYNC_UNIMPORTABLE_BLOCK",
  REQUEST_FAILED: "SYNC_REQUEST_FAILED",
  /** An answer arrived but does not decode (wrong RLP shape, a header that is not one, over a cap). */
  MALFORMED_ANSWER: "SYNC_MALFORMED_ANSWER",
  NOT_SERVED: "SYNC_NOT_SERVED",
  PEER_GONE: "SYNC_PEER_GONE",
  ABORTED: "SYNC_ABORTED",
} as const;
type SyncErrorCode = (typeof SyncErrorCode)[keyof typeof SyncErrorCode];

/** How a peer is scored for a failure: provably wrong, unhelpful, or not its fault. */
type Penalty = "fatal" | "light" | "none";

/** A sync from one peer that cannot go on; says whom to blame and how much. */
class SyncError extends NodeError<{ code: SyncErrorCode; peerId: string; penalty: Penalty }> {}

/** Peers penalized as fatal that are remembered (a node disconnects them; this only keeps sync away meanwhile). */
const MAX_REMEMBERED_BAD_PEERS = 1024;

/**
 * Serves a headers request: the canonical headers [start, start+count), count clipped to
 * MAX_HEADERS_PER_REQUEST, fewer past our head. Walked back by parent hash from the last one, so
 * the answer always links even if the head moves while it is read.
 */
export async function serveHeaders(chain: Blockchain, req: HeadersRequest): Promise<BlockHeader[]> {
  if (!Number.isSafeInteger(req.count) || req.count < 1 || req.start < 0n) return [];
  const head = chain.head;
  if (req.start > head.header.number) return [];
  let last = req.start + BigInt(Math.min(req.count, MAX_HEADERS_PER_REQUEST)) - 1n;
  if (last > head.header.number) last = head.header.number;
  const lastHash = last === head.header.number ? head.hash : await chain.getCanonicalHash(last);
  if (!lastHash) return [];
  const out: BlockHeader[] = [];
  let header = await chain.getHeader(lastHash);
  while (header && header.number >= req.start) {
    out.push(header);
    if (header.number === req.start) break;
    header = await chain.getHeader(header.parentHash);
  }
  return out.reverse();
}

/**
 * Serves a bodies request: the encoded bodies of the blocks asked for (at most
 * MAX_BODIES_PER_REQUEST), in order, stopping at the first unknown block or before the response
 * would grow past MAX_RESPONSE_BYTES.
 */
export async function serveBodies(chain: Blockchain, hashes: readonly Hex[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  // room for the RLP list prefix of the response itself
  let size = 9;
  for (const hash of hashes.slice(0, MAX_BODIES_PER_REQUEST)) {
    const body = await chain.getEncodedBody(hash);
    if (!body) break;
    size += rlpStringSize(body);
    if (size > MAX_RESPONSE_BYTES) break;
    out.push(body);
  }
  return out;
}

/** Bytes of a byte string once RLP-encoded. */
function rlpStringSize(b: Uint8Array): number {
  if (b.length === 1 && b[0]! < 0x80) return 1;
  if (b.length < 56) return b.length + 1;
  let lengthBytes = 0;
  for (let n = b.length; n > 0; n = Math.floor(n / 256)) lengthBytes++;
  return b.length + 1 + lengthBytes;
}

/**
 * Header-first chain sync. When a peer announces more total difficulty than our head, it finds
 * the common ancestor with that peer, fetches its headers by ranges, fetches the bodies from every
 * peer that has them in parallel (each checked against its header, so a bad body blames its
 * sender), and imports the blocks in order through the consensus importer, until our head is as
 * heavy as the best peer's. Peer failures are scored through SyncPeers.penalize and never thrown.
 */
export class Syncer {
  private readonly opts: SyncOptions;
  private readonly log: Logger;
  private started = false;
  private running: Promise<void> | null = null;
  private controller: AbortController | null = null;
  /** A status changed while a sync was ending: look again before stopping. */
  private recheck = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Peers that failed us during the current sync (tried again by a later one). */
  private failed = new Set<string>();
  /** Peers penalized as fatal (never synced from again). */
  private readonly bad = new Set<string>();
  private state: { startingBlock: bigint; highestBlock: bigint } | null = null;

  constructor(
    opts: Partial<SyncOptions>,
    private readonly modules: SyncModules,
  ) {
    const o = { ...defaultSyncOptions, ...opts };
    o.headersPerRequest = clampInt(o.headersPerRequest, 1, MAX_HEADERS_PER_REQUEST);
    o.bodiesPerRequest = clampInt(o.bodiesPerRequest, 1, MAX_BODIES_PER_REQUEST);
    o.maxBlocksAhead = Math.max(o.maxBlocksAhead, o.headersPerRequest);
    o.ancestorStep = clampInt(o.ancestorStep, 1, Number.MAX_SAFE_INTEGER);
    o.bodyRequests = clampInt(o.bodyRequests, 1, Number.MAX_SAFE_INTEGER);
    o.bodyRequestsPerPeer = clampInt(o.bodyRequestsPerPeer, 1, o.bodyRequests);
    o.maxBodyAttempts = clampInt(o.maxBodyAttempts, 1, Number.MAX_SAFE_INTEGER);
    this.opts = o;
    this.log = modules.logger ?? pino({ level: "silent" });
  }

  /** Starts following peers: syncs at once if one is already ahead. */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.anyAhead()) this.launch();
  }

  /** Stops: aborts the requests in flight and waits for the block being imported. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.controller?.abort();
    await this.idle();
  }

  /** A peer's status arrived or changed (status exchange, or a gossiped block whose parent is unknown): sync if it is ahead. */
  peerUpdated(peerId: string): void {
    if (!this.started) return;
    if (this.running) {
      this.recheck = true;
      return;
    }
    const peer = this.modules.peers.peers().find((p) => p.id === peerId);
    if (peer && this.isCandidate(peer, new Set())) this.launch();
  }

  /** `false` when not syncing, else how far the sync has come (eth_syncing). */
  progress(): SyncProgress | false {
    if (!this.state) return false;
    const currentBlock = this.modules.chain.head.header.number;
    const highestBlock = this.state.highestBlock > currentBlock ? this.state.highestBlock : currentBlock;
    return { startingBlock: this.state.startingBlock, currentBlock, highestBlock };
  }

  /** Resolves when no sync runs (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private launch(): void {
    if (this.running) return;
    const controller = new AbortController();
    this.controller = controller;
    this.failed = new Set();
    this.state = { startingBlock: this.modules.chain.head.header.number, highestBlock: 0n };
    this.running = (async () => {
      try {
        do {
          this.recheck = false;
          await this.syncLoop(controller.signal);
        } while (this.recheck && !controller.signal.aborted);
        this.log.info({ from: this.state?.startingBlock, head: this.modules.chain.head.header.number }, "Sync ended");
      } catch (e) {
        // syncLoop handles every peer failure itself; this is a bug or a failing database
        this.log.error({ err: e }, "Sync stopped");
      } finally {
        this.running = null;
        this.controller = null;
        this.state = null;
        this.callProgress(false);
        this.scheduleRetry();
      }
    })();
  }

  /** Syncs from the best peer ahead of us, then the next, until none is ahead. */
  private async syncLoop(signal: AbortSignal): Promise<void> {
    const { chain, peers } = this.modules;
    for (;;) {
      if (signal.aborted || !this.started) return;
      const peer = this.bestPeer();
      if (!peer) return;
      this.raiseHighest(peer.status.headNumber);
      const tdBefore = chain.headTotalDifficulty;
      this.log.info({ peer: peer.id, head: chain.head.header.number, peerHead: peer.status.headNumber }, "Syncing");
      try {
        const ancestor = await this.findAncestor(peer, signal);
        await new RangeSync(this.opts, {
          chain,
          peers,
          importBlock: this.modules.importBlock,
          headerPeer: peer.id,
          ancestor,
          signal,
          isExcluded: (id) => this.bad.has(id) || this.failed.has(id),
          penalize: (e) => this.penalize(e),
          request: (id, fn, s) => this.request(id, fn, s),
          onTarget: (n) => this.raiseHighest(n),
          onImported: () => this.callProgress(this.progress()),
        }).run();
        const now = peers.peers().find((p) => p.id === peer.id);
        if (chain.headTotalDifficulty <= tdBefore && now && now.status.totalDifficulty > chain.headTotalDifficulty) {
          throw new SyncError({ code: SyncErrorCode.NOT_SERVED, peerId: peer.id, penalty: "light" }, "peer announced a heavier chain than it serves");
        }
      } catch (e) {
        this.onSyncError(e, peer.id);
      }
    }
  }

  private onSyncError(e: unknown, headerPeer: string): void {
    if (!(e instanceof SyncError)) {
      // not a peer's doing (a bug, the database): stop using this peer for now, blame nobody
      this.log.error({ peer: headerPeer, err: e }, "Sync from peer failed");
      this.failed.add(headerPeer);
      return;
    }
    if (e.type.code === SyncErrorCode.ABORTED) return;
    this.log.debug({ peer: e.type.peerId, code: e.type.code, reason: e.message }, "Sync from peer failed");
    this.penalize(e);
    this.failed.add(e.type.peerId);
    // the header peer is given up whoever is blamed: its range sync has ended
    this.failed.add(headerPeer);
  }

  private penalize(e: SyncError): void {
    const { peerId, penalty } = e.type;
    if (penalty !== "none") this.modules.peers.penalize(peerId, e.message, penalty === "fatal");
    if (penalty === "fatal") this.rememberBad(peerId);
  }

  private rememberBad(peerId: string): void {
    if (this.bad.size >= MAX_REMEMBERED_BAD_PEERS) {
      const first = this.bad.values().next();
      if (!first.done) this.bad.delete(first.value);
    }
    this.bad.add(peerId);
  }

  private isCandidate(peer: SyncPeer, failed: ReadonlySet<string>): boolean {
    const { chain } = this.modules;
    return (
      !failed.has(peer.id) &&
      !this.bad.has(peer.id) &&
      peer.status.chainId === chain.genesis.chainId &&
      // fork choice's own rule, so that a tie of total difficulty is settled the same way everywhere
      isBetterTip(tipOf(peer), { hash: chain.head.hash, totalDifficulty: chain.headTotalDifficulty })
    );
  }

  /** True when a peer not penalized as fatal announces a better tip than ours (fork choice). */
  private anyAhead(): boolean {
    return this.modules.peers.peers().some((p) => this.isCandidate(p, new Set()));
  }

  /** The peer announcing the best tip above ours (fork choice), among those that have not failed us. */
  private bestPeer(): SyncPeer | undefined {
    let best: SyncPeer | undefined;
    for (const p of this.modules.peers.peers()) {
      if (!this.isCandidate(p, this.failed)) continue;
      if (!best || isBetterTip(tipOf(p), tipOf(best))) best = p;
    }
    return best;
  }

  /**
   * The highest block both chains share: header ranges going back from the lower head (the step
   * doubling, so a deep fork costs a few requests) until one whose hash we know. Ranges may leave
   * gaps; the forward phase then skips the headers it already knows.
   */
  private async findAncestor(peer: SyncPeer, signal: AbortSignal): Promise<{ number: bigint; hash: Hex }> {
    const { chain } = this.modules;
    const wrongGenesis = (why: string): SyncError =>
      new SyncError({ code: SyncErrorCode.WRONG_GENESIS, peerId: peer.id, penalty: "fatal" }, `peer is on another chain: ${why}`);
    if (peer.status.genesisHash !== chain.genesisHash) throw wrongGenesis(`genesis ${peer.status.genesisHash}`);
    const ourHead = chain.head.header.number;
    let hi = ourHead < peer.status.headNumber ? ourHead : peer.status.headNumber;
    let step = BigInt(this.opts.ancestorStep);
    for (;;) {
      const want = min(step, BigInt(this.opts.headersPerRequest), hi + 1n);
      const start = hi - want + 1n;
      const req = { start, count: Number(want) };
      const headers = await this.request(peer.id, (s) => this.modules.peers.requestHeaders(peer.id, req, s), signal);
      if (headers.length === 0) {
        throw new SyncError({ code: SyncErrorCode.NOT_SERVED, peerId: peer.id, penalty: "light" }, `no headers from ${start} though its head is ${peer.status.headNumber}`);
      }
      const hashes = checkHeaderRange(headers, req, peer.id);
      for (let i = headers.length - 1; i >= 0; i--) {
        if ((await chain.getTotalDifficulty(hashes[i]!)) !== undefined) return { number: headers[i]!.number, hash: hashes[i]! };
      }
      if (start === 0n) throw wrongGenesis(`its block 0 is ${hashes[0]}`);
      // the next range ends `step` below this one's end: contiguous at first, then with gaps
      hi = hi - step > 0n ? hi - step : 0n;
      step *= 2n;
    }
  }

  /** Runs one request with the timeout; a failure becomes a light SyncError unless the sync was stopped. */
  private async request<T>(peerId: string, fn: (signal: AbortSignal) => Promise<T>, outer: AbortSignal): Promise<T> {
    if (outer.aborted) throw aborted(peerId);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.opts.requestTimeoutMs);
    const onAbort = (): void => controller.abort();
    outer.addEventListener("abort", onAbort);
    let cancel = (): void => undefined;
    const abortedByUs = new Promise<never>((_, reject) => {
      const fail = (): void => reject(new Error("aborted"));
      controller.signal.addEventListener("abort", fail);
      cancel = () => controller.signal.removeEventListener("abort", fail);
    });
    try {
      // raced, so a transport that ignores the signal cannot hold the sync up
      return await Promise.race([fn(controller.signal), abortedByUs]);
    } catch (e) {
      if (outer.aborted) throw aborted(peerId);
      // the answer came and is garbage: the peer's doing, not a slow or broken link
      if (isNodeError(e) && (e.code === WireErrorCode.MALFORMED || e.code === WireErrorCode.TOO_LARGE)) {
        throw new SyncError({ code: SyncErrorCode.MALFORMED_ANSWER, peerId, penalty: "fatal" }, `malformed answer: ${e.message}`);
      }
      const reason = timedOut ? `no answer within ${this.opts.requestTimeoutMs} ms` : `request failed: ${(e as Error).message}`;
      throw new SyncError({ code: SyncErrorCode.REQUEST_FAILED, peerId, penalty: "light" }, reason);
    } finally {
      clearTimeout(timer);
      cancel();
      outer.removeEventListener("abort", onAbort);
    }
  }

  private raiseHighest(n: bigint): void {
    if (this.state && n > this.state.highestBlock) this.state.highestBlock = n;
  }

  private callProgress(p: SyncProgress | false): void {
    try {
      this.modules.onProgress?.(p);
    } catch (e) {
      this.log.warn({ err: e }, "Sync progress listener failed");
    }
  }

  /** A sync that ended with a peer still ahead (it failed us) is tried again later. */
  private scheduleRetry(): void {
    if (!this.started || this.retryTimer || !this.anyAhead()) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.started && !this.running && this.anyAhead()) this.launch();
    }, this.opts.retryMs);
    this.retryTimer.unref();
  }
}

/** A block on its way: header known, body being fetched, then imported. */
interface Slot {
  header: BlockHeader;
  hash: Hex;
  block: Block | null;
  fetching: boolean;
  attempts: number;
  /** Peers asked for this body that did not give it. */
  triedBy: Set<string>;
}

/** Collaborators of one range sync. */
interface RangeSyncModules {
  chain: Blockchain;
  peers: SyncPeers;
  importBlock: (block: Block) => Promise<ImportResult>;
  /** The peer whose chain is followed (headers). */
  headerPeer: string;
  /** The last block both chains share. */
  ancestor: { number: bigint; hash: Hex };
  signal: AbortSignal;
  /** Peers not to ask at all (penalized as fatal, or failed us in this sync). */
  isExcluded: (peerId: string) => boolean;
  /** Scores a body sender down (and remembers a fatal one). */
  penalize: (e: SyncError) => void;
  request: <T>(peerId: string, fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal) => Promise<T>;
  /** The header peer's head number, each time its status is read. */
  onTarget: (headNumber: bigint) => void;
  onImported: () => void;
}

/**
 * Follows one peer's chain from a common ancestor to that peer's head: headers from it by ranges,
 * bodies from several peers at once, imports strictly in order, with at most maxBlocksAhead
 * blocks between the import and the last header fetched. Resolves when the peer's headers run
 * out and every block is imported; rejects with a SyncError naming whom to blame.
 */
class RangeSync {
  private readonly slots: Slot[] = [];
  private next: bigint;
  private tipHash: Hex;
  private headersDone = false;
  private fetchingHeaders = false;
  private importing = false;
  private bodyRequests = 0;
  private readonly perPeer = new Map<string, number>();
  /** Peers not asked for bodies again in this range sync (failed or lied). */
  private readonly bodyExcluded = new Set<string>();
  private roundRobin = 0;
  private failure: SyncError | null = null;
  private settled = false;
  private readonly controller = new AbortController();
  private resolve: () => void = () => undefined;
  private reject: (e: SyncError) => void = () => undefined;

  constructor(
    private readonly opts: SyncOptions,
    private readonly m: RangeSyncModules,
  ) {
    this.next = m.ancestor.number + 1n;
    this.tipHash = m.ancestor.hash;
  }

  run(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.m.signal.addEventListener("abort", this.onAbort);
    if (this.m.signal.aborted) this.onAbort();
    this.pump();
    return done.finally(() => this.m.signal.removeEventListener("abort", this.onAbort));
  }

  private readonly onAbort = (): void => this.fail(aborted(this.m.headerPeer));

  /** Ends the range sync with `e` (the first failure wins) once the running import is over. */
  private fail(e: SyncError): void {
    if (!this.failure) this.failure = e;
    this.controller.abort();
    this.pump();
  }

  /** Starts whatever can start now: the next header range, body requests, the import; or ends. */
  private pump(): void {
    if (this.settled) return;
    if (this.failure) {
      if (!this.importing) {
        this.settled = true;
        this.reject(this.failure);
      }
      return;
    }
    // the peer's head is read again each time: it moves on while we sync, and the target with it
    const target = this.headersDone ? undefined : this.targetHead();
    const moreHeaders = !this.headersDone && (target === undefined || this.next <= target);
    if (moreHeaders && !this.fetchingHeaders && this.slots.length <= this.opts.maxBlocksAhead - this.opts.headersPerRequest) {
      void this.fetchHeaders();
    }
    this.dispatchBodies();
    if (this.failure) return;
    if (!this.importing && this.slots[0]?.block) void this.importReady();
    if (!moreHeaders && !this.fetchingHeaders && !this.importing && this.slots.length === 0) {
      this.settled = true;
      this.resolve();
    }
  }

  /** The header peer's head number as its status says now; undefined once it has disconnected. */
  private targetHead(): bigint | undefined {
    const peer = this.m.peers.peers().find((p) => p.id === this.m.headerPeer);
    if (peer) this.m.onTarget(peer.status.headNumber);
    return peer?.status.headNumber;
  }

  private async fetchHeaders(): Promise<void> {
    const { headerPeer } = this.m;
    this.fetchingHeaders = true;
    try {
      const target = this.targetHead();
      if (target === undefined) throw new SyncError({ code: SyncErrorCode.PEER_GONE, peerId: headerPeer, penalty: "none" }, "peer disconnected");
      if (this.next > target) return;
      const req = { start: this.next, count: Number(min(BigInt(this.opts.headersPerRequest), target - this.next + 1n)) };
      const headers = await this.m.request(headerPeer, (s) => this.m.peers.requestHeaders(headerPeer, req, s), this.controller.signal);
      if (this.failure) return;
      if (headers.length === 0) {
        // it has nothing past what it gave: its chain ends below its status (or it reorganised)
        this.headersDone = true;
        return;
      }
      const hashes = checkHeaderRange(headers, req, headerPeer);
      if (headers[0]!.parentHash !== this.tipHash) {
        // not fatal: an honest peer that reorganised between two requests answers this way
        throw new SyncError(
          { code: SyncErrorCode.BAD_HEADERS, peerId: headerPeer, penalty: "light" },
          `headers from ${req.start} do not link to the previous range`,
        );
      }
      let first = 0;
      // right after the ancestor (or a gap of its search) the peer's headers may be ours already
      if (this.slots.length === 0) {
        while (first < headers.length && (await this.m.chain.getTotalDifficulty(hashes[first]!)) !== undefined) first++;
        if (this.failure) return;
      }
      for (let i = first; i < headers.length; i++) {
        this.slots.push({ header: headers[i]!, hash: hashes[i]!, block: null, fetching: false, attempts: 0, triedBy: new Set() });
      }
      this.next = req.start + BigInt(headers.length);
      this.tipHash = hashes[hashes.length - 1]!;
    } catch (e) {
      this.fail(asSyncError(e, headerPeer));
    } finally {
      this.fetchingHeaders = false;
      this.pump();
    }
  }

  /** Sends body requests for the first blocks still without a body, to every peer that can serve them. */
  private dispatchBodies(): void {
    while (this.bodyRequests < this.opts.bodyRequests) {
      const i = this.slots.findIndex((s) => !s.block && !s.fetching);
      if (i < 0) return;
      const chunk: Slot[] = [];
      for (let j = i; j < this.slots.length && chunk.length < this.opts.bodiesPerRequest; j++) {
        const s = this.slots[j]!;
        if (s.block || s.fetching) break;
        chunk.push(s);
      }
      if (chunk[0]!.attempts >= this.opts.maxBodyAttempts) {
        this.fail(
          new SyncError(
            { code: SyncErrorCode.NOT_SERVED, peerId: this.m.headerPeer, penalty: "light" },
            `no peer served the body of block ${chunk[0]!.header.number} after ${chunk[0]!.attempts} attempts`,
          ),
        );
        return;
      }
      const peer = this.pickBodyPeer(chunk);
      if (peer === "busy") return;
      if (peer === "none") {
        this.fail(
          new SyncError(
            { code: SyncErrorCode.NOT_SERVED, peerId: this.m.headerPeer, penalty: "none" },
            `no peer left to serve the body of block ${chunk[0]!.header.number}`,
          ),
        );
        return;
      }
      void this.fetchBodies(peer, chunk);
    }
  }

  /** A peer for a chunk of bodies: round robin over the peers whose head reaches it, preferring those not asked yet. */
  private pickBodyPeer(chunk: readonly Slot[]): string | "busy" | "none" {
    const lastNumber = chunk[chunk.length - 1]!.header.number;
    const candidates = this.m.peers
      .peers()
      .filter((p) => !this.bodyExcluded.has(p.id) && !this.m.isExcluded(p.id) && (p.id === this.m.headerPeer || p.status.headNumber >= lastNumber))
      .map((p) => p.id)
      .sort();
    if (candidates.length === 0) return "none";
    const untried = candidates.filter((id) => !chunk[0]!.triedBy.has(id));
    const pool = (untried.length > 0 ? untried : candidates).filter((id) => (this.perPeer.get(id) ?? 0) < this.opts.bodyRequestsPerPeer);
    if (pool.length === 0) return "busy";
    return pool[this.roundRobin++ % pool.length]!;
  }

  private async fetchBodies(peerId: string, chunk: Slot[]): Promise<void> {
    this.bodyRequests++;
    this.perPeer.set(peerId, (this.perPeer.get(peerId) ?? 0) + 1);
    for (const s of chunk) {
      s.fetching = true;
      s.attempts++;
    }
    let got = 0;
    try {
      const hashes = chunk.map((s) => s.hash);
      const bodies = await this.m.request(peerId, (sig) => this.m.peers.requestBodies(peerId, hashes, sig), this.controller.signal);
      if (this.failure) return;
      if (bodies.length > chunk.length) {
        throw new SyncError({ code: SyncErrorCode.BAD_BODY, peerId, penalty: "light" }, `${bodies.length} bodies for ${chunk.length} hashes`);
      }
      for (; got < bodies.length; got++) {
        const block = await this.checkBody(peerId, chunk[got]!, bodies[got]!);
        if (this.failure) return;
        chunk[got]!.block = block;
      }
    } catch (e) {
      const err = asSyncError(e, peerId);
      if (err.type.code === SyncErrorCode.ABORTED || this.failure) return;
      // the header peer's chain is at fault (an invalid block), or the header peer itself lied: switch peers
      if (err.type.peerId !== peerId || err.type.code === SyncErrorCode.INVALID_BLOCK || (peerId === this.m.headerPeer && err.type.penalty === "fatal")) {
        this.fail(err);
        return;
      }
      // the sender failed us: score it (once, though several of its answers may fail) and ask someone else
      if (!this.bodyExcluded.has(peerId)) this.m.penalize(err);
      this.bodyExcluded.add(peerId);
    } finally {
      for (const s of chunk.slice(got)) {
        s.fetching = false;
        s.triedBy.add(peerId);
      }
      this.bodyRequests--;
      this.perPeer.set(peerId, (this.perPeer.get(peerId) ?? 1) - 1);
      this.pump();
    }
  }

  /**
   * A body checked against its header before import: its transactions root must match (else the
   * sender lied: fatal for it); a body that matches but holds an undecodable transaction makes the
   * block itself invalid (fatal for the header peer).
   */
  private async checkBody(peerId: string, slot: Slot, body: Uint8Array): Promise<Block> {
    const bad = (why: string): SyncError =>
      new SyncError({ code: SyncErrorCode.BAD_BODY, peerId, penalty: "fatal" }, `body of block ${slot.header.number}: ${why}`);
    let items: unknown;
    try {
      items = RLP.decode(body);
    } catch {
      throw bad("not RLP");
    }
    // a body that seals sub-blocks is [[raw transactions], [sub-block headers]] (chain's encodeBody)
    const raws: unknown = Array.isArray(items) && Array.isArray(items[0]) ? items[0] : items;
    if (!Array.isArray(raws) || !raws.every((i) => i instanceof Uint8Array)) throw bad("not a list of transactions");
    if ((await orderedTrieRoot(raws as Uint8Array[])) !== slot.header.transactionsRoot) throw bad("does not match the header's transactionsRoot");
    let block: Block;
    try {
      block = decodeBlockBody(slot.header, body, this.m.chain.genesis.chainId);
    } catch (e) {
      throw new SyncError(
        { code: SyncErrorCode.INVALID_BLOCK, peerId: this.m.headerPeer, penalty: "fatal" },
        `block ${slot.header.number} holds an invalid transaction: ${(e as Error).message}`,
      );
    }
    if (subchainsRoot(block.subBlocks ?? []) !== slot.header.subchainsRoot) throw bad("does not match the header's subchainsRoot");
    return block;
  }

  /** Imports the blocks at the front whose bodies are in, one at a time, in order. */
  private async importReady(): Promise<void> {
    this.importing = true;
    try {
      while (!this.failure && this.slots[0]?.block) {
        const slot = this.slots.shift()!;
        try {
          await this.m.importBlock(slot.block!);
        } catch (e) {
          this.fail(importFailure(e, slot.header.number, this.m.headerPeer));
          return;
        }
        this.m.onImported();
        // room freed in the window: fetch on while the next block imports
        this.pump();
      }
    } finally {
      this.importing = false;
      this.pump();
    }
  }
}

/** Checks a header answer: no more than asked, consecutive numbers from the start, each linking to the one before. Returns the hashes. */
function checkHeaderRange(headers: readonly BlockHeader[], req: HeadersRequest, peerId: string): Hex[] {
  const bad = (why: string): SyncError => new SyncError({ code: SyncErrorCode.BAD_HEADERS, peerId, penalty: "fatal" }, `headers from ${req.start}: ${why}`);
  if (headers.length > req.count) throw bad(`${headers.length} headers for ${req.count} asked`);
  const hashes: Hex[] = [];
  headers.forEach((h, i) => {
    if (h.number !== req.start + BigInt(i)) throw bad(`header ${i} is number ${h.number}`);
    if (i > 0 && h.parentHash !== hashes[i - 1]) throw bad(`header ${h.number} does not link to its predecessor`);
    hashes.push(headerHash(h));
  });
  return hashes;
}

/**
 * Whom a failed import blames: the header peer, fatally, when a rule every node checks alike proves
 * the block invalid; nobody when it depends on this node's view (clock, which twin it saw first).
 */
function importFailure(e: unknown, number: bigint, headerPeer: string): SyncError {
  if (isInvalidBlockError(e)) {
    return new SyncError({ code: SyncErrorCode.INVALID_BLOCK, peerId: headerPeer, penalty: "fatal" }, `block ${number} is invalid: ${e.code}: ${e.message}`);
  }
  const code = isNodeError(e) ? e.code : "error";
  return new SyncError({ code: SyncErrorCode.UNIMPORTABLE_BLOCK, peerId: headerPeer, penalty: "none" }, `block ${number} not imported: ${code}: ${(e as Error).message}`);
}

function asSyncError(e: unknown, peerId: string): SyncError {
  if (e instanceof SyncError) return e;
  return new SyncError({ code: SyncErrorCode.REQUEST_FAILED, peerId, penalty: "light" }, (e as Error).message);
}

function aborted(peerId: string): SyncError {
  return new SyncError({ code: SyncErrorCode.ABORTED, peerId, penalty: "none" }, "sync stopped");
}

function min(...xs: bigint[]): bigint {
  return xs.reduce((a, b) => (b < a ? b : a));
}

function clampInt(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(n)));
}

/** A peer's announced head as fork choice compares tips. */
function tipOf(peer: SyncPeer): { hash: Hex; totalDifficulty: bigint } {
  return { hash: peer.status.headHash, totalDifficulty: peer.status.totalDifficulty };
}
