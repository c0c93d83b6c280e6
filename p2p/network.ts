import { EventEmitter } from "node:events";
import type { PeerId, PrivateKey } from "@libp2p/interface";
import { TopicValidatorResult, type Message } from "@libp2p/gossipsub";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import type { Logger } from "pino";
import {
  ChainEvent,
  TxPoolErrorCode,
  type TxPoolError,
  headerHash,
  isNodeError,
  type Block,
  type Blockchain,
  type ChainEventData,
  type Hex,
  type ImportResult,
  type PayloadPool,
} from "../chain/index.js";
import { addressScope, dialableScopes, multiaddrIp, type AddressScope } from "./addressScope.js";
import { createHost, type Host, type HostOptions } from "./host.js";
import {
  decodeBlock,
  decodeBodiesRequest,
  decodeBodies,
  decodeHeaders,
  decodeHeadersRequest,
  decodePayloads,
  decodePayloadsRequest,
  decodePeers,
  decodeStatus,
  decodeStem,
  encodeBlock,
  encodeBodies,
  encodeBodiesRequest,
  encodeHeaders,
  encodeHeadersRequest,
  encodePayloads,
  encodePayloadsRequest,
  encodePeers,
  encodeStatus,
  encodeStem,
  MAX_PEERS_PER_RESPONSE,
  maxStemBytes,
  type HeadersRequest,
  type PayloadItem,
  type PeerRecord,
  type Status,
  WireError,
  WireErrorCode,
} from "./messages.js";
import { PayloadExchange, type PayloadExchangeOptions } from "./payloadExchange.js";
import { PeerScores, type PeerScoreOptions, type PenaltyKind } from "./peerScore.js";
import { ReqResp, RequestErrorCode, type ReqRespOptions } from "./reqresp.js";
import { StemError, StemErrorCode, StemRouter, type StemOptions } from "./stem.js";
import { Syncer, serveBodies, serveHeaders, type SyncOptions, type SyncPeers, type SyncProgress } from "./sync.js";
import { isInvalidBlockError, isInvalidTransactionError } from "./validity.js";

/** Options of the P2P network. */
export interface NetworkOptions extends HostOptions {
  /** Multiaddrs with `/p2p/<GuardID>` dialled at start and whenever the node has no peer. */
  bootnodes: string[];
  /** How often the node dials bootnodes (when alone) and asks a peer for more peers. */
  maintenanceMs: number;
  /** Ask peers for their peers (on each new peer and every maintenance round); off keeps the topology as dialled (benchmarks, tests). */
  peerExchange: boolean;
  /**
   * Also dial private (LAN) addresses that peers tell of when listening on a public address or on
   * 0.0.0.0; see `dialableScopes`. Absent: only with a private or loopback `addr`.
   */
  privatePeers?: boolean;
  /** A peer's status older than this is asked for again (a fallback for a missed head announcement). */
  statusRefreshMs: number;
  reqResp: Partial<ReqRespOptions>;
  scores: Partial<PeerScoreOptions>;
  stem: Partial<StemOptions>;
  sync: Partial<SyncOptions>;
  /** Sub-chains whose payload gossip topics the node joins (followed ones; a miner joins all, it needs the payloads to include publishes). */
  payloadSubchains: number[];
  payloads: Partial<PayloadExchangeOptions>;
}

/** Defaults of the network (HostOptions have no defaults: the node always gives them). */
export const defaultNetworkOptions: Omit<NetworkOptions, keyof HostOptions> = {
  bootnodes: [],
  maintenanceMs: 5_000,
  peerExchange: true,
  statusRefreshMs: 30_000,
  reqResp: {},
  scores: {},
  stem: {},
  sync: {},
  payloadSubchains: [],
  payloads: {},
};

/** What the network needs from the node. */
export interface NetworkModules {
  chain: Blockchain;
  /** Guard key (the libp2p peer key). */
  privateKey: PrivateKey;
  /** Imports a block through the consensus rules. */
  importBlock: (block: Block) => Promise<ImportResult>;
  /** Validates and pools a raw transaction; returns its hash; throws TxError / TxPoolError. */
  addTransaction: (raw: Uint8Array) => Promise<Hex>;
  /** Payloads beside pooled transactions (gossiped and stem payloads go in; requests are served from it). */
  payloads: Pick<PayloadPool, "add" | "get" | "has" | "isClaimed" | "missingPayloads" | "subchainOf">;
  log: Logger;
}

/** A connected peer as `vs_peers` shows it. */
export interface PeerInfo {
  /** Guard ID. */
  id: string;
  addresses: string[];
  direction: "inbound" | "outbound";
  /** Application score (0 = clean; banned at the threshold). */
  score: number;
  /** Gossipsub's mesh score of the peer. */
  gossipScore: number;
  /** Its chain as its last status said, if it sent one. */
  head?: { number: bigint; hash: Hex; totalDifficulty: bigint };
}

/** Events of the network. */
export interface NetworkEvents {
  /** A gossiped transaction was accepted: its hash and the Guard ID that published it first. */
  transactionGossip: [{ hash: Hex; publisher: string | null }];
  /** A peer's status was accepted. */
  peerStatus: [{ peerId: string; status: Status }];
  /** A peer was banned. */
  peerBanned: [{ peerId: string; reason: string }];
  /** Sync progress after each imported block of a sync, and false when the sync ends. */
  syncProgress: [SyncProgress | false];
}

/** The status a node with this chain sends its peers. */
export function chainStatus(chain: Blockchain): Status {
  return {
    chainId: chain.genesis.chainId,
    genesisHash: chain.genesisHash,
    headHash: chain.head.hash,
    headNumber: chain.head.header.number,
    totalDifficulty: chain.headTotalDifficulty,
  };
}

const STATUS = "status";
const HEADERS = "headers";
const BODIES = "bodies";
const PEERS = "peers";
const STEM = "stem";
const PAYLOADS = "payloads";

/** How long a peer over the limit that dialled us is kept, to let it ask for other peers. */
const SURPLUS_GRACE_MS = 5_000;

/** Most block hashes remembered as having come from the network (they are never re-published). */
const REMEMBERED_BLOCKS = 4096;

/**
 * The node's place in the VS1984 network: a libp2p host with the status, headers, bodies, peers
 * and stem protocols, block and transaction gossip validated before forwarding, header-first sync,
 * peer exchange, peer scoring with bans, and the stem phase of this node's own transactions.
 */
export class Network extends EventEmitter<NetworkEvents> {
  private readonly opts: NetworkOptions;
  /** Address scopes this node dials when peers tell of addresses (peer exchange). */
  private readonly dialScopes: ReadonlySet<AddressScope>;
  private host: Host | null = null;
  private reqResp: ReqResp | null = null;
  readonly scores: PeerScores;
  readonly syncer: Syncer;
  private readonly stem: StemRouter<StemItem>;
  /** Payload gossip validation, the payloads protocol, fetching by hash and filling in wanted payloads. */
  readonly payloads: PayloadExchange;
  /** Peers whose status was accepted. */
  private readonly statuses = new Map<string, Status>();
  /** When each peer's status was last accepted (ms). */
  private readonly statusAt = new Map<string, number>();
  /** Blocks that came from the network (gossip or sync), oldest first. */
  private readonly fromNetwork = new Set<Hex>();
  private readonly blocksTopic: string;
  private readonly txTopic: string;
  /** Payload topic of every declared sub-chain, by id. */
  private readonly payloadTopics: Map<number, string>;
  /** The sub-chains whose payload topics this node joins. */
  private readonly joinedPayloadTopics: Map<number, string>;
  private maintenance: NodeJS.Timeout | null = null;
  private started = false;

  constructor(
    opts: Partial<NetworkOptions> & HostOptions,
    private readonly modules: NetworkModules,
  ) {
    super();
    this.opts = { ...defaultNetworkOptions, ...opts };
    this.dialScopes = dialableScopes(this.opts.addr, this.opts.privatePeers);
    const chainId = modules.chain.genesis.chainId;
    this.blocksTopic = `/vs1984/${chainId}/blocks`;
    this.txTopic = `/vs1984/${chainId}/transactions`;
    this.payloadTopics = new Map(modules.chain.genesis.subchains.map((d) => [d.id, `/vs1984/${chainId}/payloads/${d.name}`]));
    this.joinedPayloadTopics = new Map([...this.payloadTopics].filter(([id]) => this.opts.payloadSubchains.includes(id)));
    this.payloads = new PayloadExchange(this.opts.payloads, {
      chain: modules.chain,
      pool: modules.payloads,
      peers: () => [...this.statuses.keys()],
      request: async (peerId, hashes, signal) =>
        decodePayloads(
          await this.requireReqResp().request(peerId, PAYLOADS, encodePayloadsRequest(hashes), signal),
          hashes.length,
          this.payloads.maxResponseBytes,
        ),
      penalize: (peerId, kind, reason) => this.penalize(peerId, kind, reason),
      log: modules.log.child({ module: "payloads" }),
    });
    this.scores = new PeerScores(this.opts.scores, { onBan: (peerId, reason) => this.onBan(peerId, reason) });
    this.syncer = new Syncer(this.opts.sync, {
      chain: modules.chain,
      importBlock: (block) => this.importFromNetwork(block),
      peers: this.syncPeers(),
      logger: modules.log.child({ module: "sync" }),
      onProgress: (p) => {
        // a sync that ended moved our head without gossip: tell the peers, so that those behind
        // find the parent unknown and sync in turn
        if (p === false) this.announceHead();
        this.emit("syncProgress", p);
      },
    });
    this.stem = new StemRouter<StemItem>(this.opts.stem, {
      neighbours: () => [...this.statuses.keys()],
      send: (peerId, hopsLeft, item) => this.sendStem(peerId, hopsLeft, item),
      fluff: (item) => this.publishTransaction(item),
      onError: (e) => modules.log.debug({ err: e }, "stem hop failed"),
    });
  }

  /** Starts the host, the protocols, gossip and sync; dials the bootnodes. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { log } = this.modules;
    const topics = [this.blocksTopic, this.txTopic, ...this.joinedPayloadTopics.values()];
    const host = await createHost({ ...this.opts, topics, maxMessageBytes: this.payloads.maxPayloadBytes }, {
      privateKey: this.modules.privateKey,
      gater: {
        denyDialPeer: (peer: PeerId) => this.scores.isBanned(peer.toString()),
        denyInboundEncryptedConnection: (peer: PeerId) => this.scores.isBanned(peer.toString()),
        denyOutboundEncryptedConnection: (peer: PeerId) => this.scores.isBanned(peer.toString()),
      },
    });
    this.host = host;
    this.reqResp = new ReqResp(this.opts.reqResp, {
      host,
      allowRequest: (peer, protocol) => this.scores.allowRequest(peer, protocol),
      onMisbehaviour: (peer, reason) => this.penalize(peer, reason.includes("flood") ? "flood" : "malformed", reason),
      onError: (e) => log.warn({ err: e }, "P2P request handler failed"),
    });
    try {
      await host.start();
    } catch (e) {
      throw listenFailure(this.opts.addr, this.opts.port, e);
    }
    await this.registerProtocols(this.reqResp);
    const pubsub = host.services.pubsub;
    pubsub.topicValidators.set(this.blocksTopic, (peer, msg) => this.validateBlock(peer.toString(), msg));
    pubsub.topicValidators.set(this.txTopic, (peer, msg) => this.validateTransaction(peer.toString(), msg));
    pubsub.subscribe(this.blocksTopic);
    pubsub.subscribe(this.txTopic);
    for (const [id, topic] of this.joinedPayloadTopics) {
      pubsub.topicValidators.set(topic, (peer, msg) => Promise.resolve(this.payloads.receive(peer.toString(), id, msg.data)));
      pubsub.subscribe(topic);
    }
    host.addEventListener("peer:connect", this.onConnect);
    host.addEventListener("peer:disconnect", this.onDisconnect);
    this.modules.chain.on(ChainEvent.newHead, this.onNewHead);
    this.syncer.start();
    this.maintenance = setInterval(() => void this.maintain(), this.opts.maintenanceMs);
    this.maintenance.unref();
    void this.maintain();
    log.info({ guardId: this.peerId, addresses: this.addresses() }, "P2P listening");
  }

  /** Stops sync and gossip and closes every connection. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (this.maintenance) clearInterval(this.maintenance);
    this.maintenance = null;
    this.modules.chain.off(ChainEvent.newHead, this.onNewHead);
    this.stem.stop();
    await this.syncer.stop();
    const host = this.host;
    this.host = null;
    this.statuses.clear();
    if (host) {
      host.removeEventListener("peer:connect", this.onConnect);
      host.removeEventListener("peer:disconnect", this.onDisconnect);
      await host.stop();
    }
  }

  /** This node's Guard ID. */
  get peerId(): string {
    return this.modules.privateKey.publicKey.toString();
  }

  /** The addresses the host listens on, with `/p2p/<GuardID>`. */
  addresses(): string[] {
    return this.host?.getMultiaddrs().map((a) => a.toString()) ?? [];
  }

  /** Connected peers whose status was accepted. */
  get peerCount(): number {
    return this.statuses.size;
  }

  /** Sync progress for eth_syncing: false when in step with the best peer. */
  syncProgress(): SyncProgress | false {
    return this.syncer.progress();
  }

  /** Every connected peer with its score, direction and last status. */
  peers(): PeerInfo[] {
    const host = this.host;
    if (!host) return [];
    const gossip = host.services.pubsub;
    const seen = new Map<string, PeerInfo>();
    for (const conn of host.getConnections()) {
      const id = conn.remotePeer.toString();
      const info = seen.get(id) ?? {
        id,
        addresses: [],
        direction: conn.direction,
        score: this.scores.standing(id).score,
        gossipScore: Math.round((gossip as unknown as { getScore(id: string): number }).getScore(id) * 100) / 100,
      };
      info.addresses.push(conn.remoteAddr.toString());
      const status = this.statuses.get(id);
      if (status) info.head = { number: status.headNumber, hash: status.headHash, totalDifficulty: status.totalDifficulty };
      seen.set(id, info);
    }
    return [...seen.values()];
  }

  /**
   * Sends a transaction this node's wallet or RPC submitted (already pooled) into its stem phase;
   * a publish's payload travels with it, and is gossiped on its sub-chain's topic when it fluffs.
   */
  async announceTransaction(hash: Hex, raw: Uint8Array, payload?: PayloadItem): Promise<void> {
    if (!this.started) return;
    await this.stem.originate(hash, payload ? { raw, payload } : { raw });
  }

  /**
   * Fetches a payload by hash from peers (up to PayloadExchangeOptions.maxPeersPerFetch, each with
   * the request deadline); undefined if none has it, or none answered before `signal` aborted.
   */
  async fetchPayload(hash: Hex, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    if (!this.started) return undefined;
    try {
      return (await this.payloads.fetch([hash], signal)).get(hash);
    } catch (e) {
      if (signal?.aborted) return undefined;
      throw e;
    }
  }

  /** Dials a peer (multiaddr with /p2p/); resolves when connected. */
  async dial(addr: string): Promise<void> {
    await this.requireHost().dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) });
  }

  /** Bans a peer for `ms` (default: the scoring ban time) and disconnects it; an operator's tool, and partitions in tests. */
  ban(peerId: string, reason: string, ms?: number): void {
    this.scores.ban(peerId, reason, ms);
  }

  /** Lifts a ban; the peer may connect again. */
  unban(peerId: string): void {
    this.scores.unban(peerId);
  }

  /** Closes every connection to the peer (tests, operator tools). */
  async hangUp(peerId: string): Promise<void> {
    await this.requireHost().hangUp(peerIdFromString(peerId));
  }

  // -------------------------------------------------------------------------------------------
  // protocols

  private async registerProtocols(rr: ReqResp): Promise<void> {
    const { chain } = this.modules;
    await rr.register(STATUS, async (peer, request) => {
      this.acceptStatus(peer, decodeStatus(request));
      return encodeStatus(this.status());
    });
    await rr.register(HEADERS, async (_peer, request) => encodeHeaders(await serveHeaders(chain, decodeHeadersRequest(request))));
    await rr.register(BODIES, async (_peer, request) => encodeBodies(await serveBodies(chain, decodeBodiesRequest(request))));
    await rr.register(PEERS, async (peer) => encodePeers(await this.peerRecords(peer)));
    await rr.register(STEM, (peer, request) => this.onStemRequest(peer, request), { maxRequestBytes: maxStemBytes(this.payloads.maxPayloadBytes) });
    await rr.register(PAYLOADS, async (_peer, request) => encodePayloads(await this.payloads.serve(decodePayloadsRequest(request))), {
      maxResponseBytes: this.payloads.maxResponseBytes,
    });
  }

  /** A transaction in its stem phase from a neighbour: pool it, then pass it on or gossip it. */
  private async onStemRequest(peer: string, request: Uint8Array): Promise<Uint8Array> {
    const { hopsLeft, raw, payload } = decodeStem(request, maxStemBytes(this.payloads.maxPayloadBytes));
    let hash: Hex;
    try {
      // the transaction first: one this node already has (a stem that came round) is refused
      // with its reason before its payload is hashed, and the sender passes it to another
      // neighbour or gossips it itself
      hash = await this.modules.addTransaction(raw);
    } catch (e) {
      if (isInvalidTransactionError(e)) this.penalize(peer, "invalidTransaction", `stem: ${e.message}`);
      throw e;
    }
    // the pooled publish claims its payload when it arrives (and leaves if its gas cannot pay it)
    if (payload && this.payloads.receive(peer, payload.subchainId, payload.bytes) === TopicValidatorResult.Reject) {
      // payloads.receive scored the sender already; this is the answer's reason, not a fault of ours
      throw new StemError({ code: StemErrorCode.PAYLOAD_REFUSED }, `stem payload refused: not a payload sub-chain ${payload.subchainId} takes`);
    }
    void this.stem.onStem(peer, hash, hopsLeft, payload ? { raw, payload } : { raw }).catch((e: unknown) => this.modules.log.debug({ err: e }, "stem failed"));
    return new Uint8Array(0);
  }

  /** This node's status. */
  status(): Status {
    return chainStatus(this.modules.chain);
  }

  /** Accepts a peer's status if it is on our chain; bans it otherwise. */
  private acceptStatus(peer: string, status: Status): boolean {
    const { chain } = this.modules;
    if (status.chainId !== chain.genesis.chainId || status.genesisHash !== chain.genesisHash) {
      this.penalize(peer, "wrongChain", `chain ${status.chainId} genesis ${status.genesisHash}`);
      return false;
    }
    if (this.scores.isBanned(peer)) return false;
    const isNew = !this.statuses.has(peer);
    this.statuses.set(peer, status);
    this.statusAt.set(peer, Date.now());
    if (isNew) {
      this.modules.log.debug({ peer, head: status.headNumber }, "peer joined");
      this.onNewPeer(peer);
    }
    this.emit("peerStatus", { peerId: peer, status });
    this.syncer.peerUpdated(peer);
    return true;
  }

  /**
   * A peer joined. While we are below the limit, ask it for more peers at once (a node given one
   * bootnode finds the rest in one round trip). Over the limit, a peer that dialled us is kept for
   * a grace period, long enough to ask us for other peers, then let go: a full bootnode still
   * introduces newcomers to the network instead of refusing them.
   */
  private onNewPeer(peer: string): void {
    if (this.statuses.size <= this.opts.maxPeers) {
      if (this.opts.peerExchange && this.statuses.size < this.opts.maxPeers) {
        this.exchangePeers(peer).catch((e: unknown) => this.modules.log.debug({ err: e, peer }, "peer exchange failed"));
      }
      return;
    }
    const inbound = this.host?.getConnections(peerIdFromString(peer)).every((c) => c.direction === "inbound") ?? false;
    if (!inbound) return;
    const timer = setTimeout(() => {
      if (this.statuses.size > this.opts.maxPeers) {
        this.statuses.delete(peer);
        void this.hangUp(peer).catch(() => undefined);
      }
    }, SURPLUS_GRACE_MS);
    timer.unref();
  }

  /** Asks a peer for its status (and tells it ours). */
  private async exchangeStatus(peer: string): Promise<void> {
    try {
      const answer = await this.requireReqResp().request(peer, STATUS, encodeStatus(this.status()));
      this.acceptStatus(peer, decodeStatus(answer));
    } catch (e) {
      if (isNodeError(e) && e.code.startsWith("P2P_MALFORMED")) this.penalize(peer, "malformed", e.message);
      else this.modules.log.debug({ err: e, peer }, "status exchange failed");
    }
  }

  private syncPeers(): SyncPeers {
    return {
      peers: () => [...this.statuses].map(([id, status]) => ({ id, status })),
      requestHeaders: async (peerId: string, req: HeadersRequest, signal?: AbortSignal) =>
        decodeHeaders(await this.requireReqResp().request(peerId, HEADERS, encodeHeadersRequest(req), signal)),
      requestBodies: async (peerId: string, hashes: Hex[], signal?: AbortSignal) =>
        decodeBodies(await this.requireReqResp().request(peerId, BODIES, encodeBodiesRequest(hashes), signal)),
      penalize: (peerId: string, reason: string, fatal: boolean) => this.penalize(peerId, fatal ? "invalidBlock" : "timeout", reason),
    };
  }

  private async peerRecords(except: string): Promise<PeerRecord[]> {
    const host = this.requireHost();
    const records: PeerRecord[] = [];
    for (const conn of host.getConnections()) {
      const id = conn.remotePeer.toString();
      if (id === except || !this.statuses.has(id) || records.some((r) => r.id === id)) continue;
      // the address it listens on as identify told it, else the one it connected from
      const listen = await this.listenAddrs(conn.remotePeer);
      const addrs = listen.length > 0 ? listen : conn.direction === "outbound" ? [withoutPeer(conn.remoteAddr)] : [];
      if (addrs.length > 0) records.push({ id, addrs: addrs.slice(0, 8) });
      if (records.length >= MAX_PEERS_PER_RESPONSE) break;
    }
    return records;
  }

  /** The listen addresses a peer announced through identify (in the peer store); none if it has not yet. */
  private async listenAddrs(peer: PeerId): Promise<string[]> {
    try {
      const record = await this.requireHost().peerStore.get(peer);
      return record.addresses.map((a) => a.multiaddr.toString()).filter((a) => !a.includes("/p2p-circuit"));
    } catch {
      return [];
    }
  }

  // -------------------------------------------------------------------------------------------
  // gossip

  private async validateBlock(peer: string, msg: Message): Promise<TopicValidatorResult> {
    const { chain, log } = this.modules;
    let block: Block;
    try {
      block = decodeBlock(msg.data, chain.genesis.chainId);
    } catch (e) {
      this.penalize(peer, "malformed", `block gossip: ${(e as Error).message}`);
      return TopicValidatorResult.Reject;
    }
    const hash = headerHash(block.header);
    if ((await chain.getTotalDifficulty(hash)) !== undefined) return TopicValidatorResult.Ignore;
    if ((await chain.getTotalDifficulty(block.header.parentHash)) === undefined) {
      // we miss its ancestors: learn where the peer is and let sync fetch them
      void this.exchangeStatus(peer);
      return TopicValidatorResult.Ignore;
    }
    try {
      await this.importFromNetwork(block);
      return TopicValidatorResult.Accept;
    } catch (e) {
      if (isInvalidBlockError(e)) {
        this.penalize(peer, "invalidBlock", `block ${hash}: ${(e as Error).message}`);
        return TopicValidatorResult.Reject;
      }
      log.debug({ err: e, hash }, "gossiped block not imported");
      return TopicValidatorResult.Ignore;
    }
  }

  private async validateTransaction(peer: string, msg: Message): Promise<TopicValidatorResult> {
    let hash: Hex;
    try {
      hash = await this.modules.addTransaction(msg.data);
    } catch (e) {
      if (isNodeError(e) && e.code === TxPoolErrorCode.ALREADY_KNOWN) {
        // it may be one we hold in its stem: the stem is over once it is gossiped
        this.stem.seenInGossip((e as TxPoolError).type.hash);
        return TopicValidatorResult.Ignore;
      }
      if (isInvalidTransactionError(e)) {
        this.penalize(peer, "invalidTransaction", (e as Error).message);
        return TopicValidatorResult.Reject;
      }
      return TopicValidatorResult.Ignore;
    }
    this.stem.seenInGossip(hash);
    this.emit("transactionGossip", { hash, publisher: msg.type === "signed" ? msg.from.toString() : null });
    return TopicValidatorResult.Accept;
  }

  /** Imports a block that came from a peer; it is remembered so it is not published again. */
  private importFromNetwork(block: Block): Promise<ImportResult> {
    const hash = headerHash(block.header);
    this.fromNetwork.add(hash);
    if (this.fromNetwork.size > REMEMBERED_BLOCKS) this.fromNetwork.delete(this.fromNetwork.values().next().value as Hex);
    return this.modules.importBlock(block);
  }

  /** Publishes the blocks this node made (in-process miner or submitted work) as they become canonical. */
  private readonly onNewHead = (e: ChainEventData[typeof ChainEvent.newHead]): void => {
    for (const block of e.added) {
      if (this.fromNetwork.has(block.hash)) continue;
      this.fromNetwork.add(block.hash);
      void this.publish(this.blocksTopic, encodeBlock(block));
    }
    // after a reorg, peers still on the old branch may not have heard of the new head
    if (e.removed.length > 0) this.announceHead();
    // blocks imported without some followed payloads: fetch them (the sender has them)
    if (e.added.some((b) => (b.subBlocks?.length ?? 0) > 0)) this.fillWantedPayloads();
  };

  private fillWantedPayloads(): void {
    this.payloads.fillWanted().catch((e: unknown) => this.modules.log.warn({ err: e }, "fetching wanted payloads failed"));
  }

  private fillMissingPayloads(): void {
    this.payloads.fillMissing().catch((e: unknown) => this.modules.log.warn({ err: e }, "fetching missing payloads failed"));
  }

  /** Gossips the head block again (gossip drops it where it was seen; elsewhere it starts a sync). */
  private announceHead(): void {
    if (this.host) void this.publish(this.blocksTopic, encodeBlock(this.modules.chain.head));
  }

  /**
   * Gossips a transaction, then a publish's payload on its sub-chain's topic: receivers forward a
   * payload only once a pooled transaction claims it (PayloadExchange.receive).
   */
  private async publishTransaction(item: StemItem): Promise<void> {
    await this.publish(this.txTopic, item.raw);
    if (!item.payload) return;
    // a payload of an undeclared sub-chain never gets this far: the pool refused it
    const topic = this.payloadTopics.get(item.payload.subchainId);
    if (topic) await this.publish(topic, item.payload.bytes);
  }

  private async publish(topic: string, data: Uint8Array): Promise<void> {
    const host = this.host;
    if (!host) return;
    try {
      await host.services.pubsub.publish(topic, data);
    } catch (e) {
      // a duplicate (already seen) or no peer yet: gossip needs nothing more from us
      this.modules.log.debug({ err: e, topic }, "publish skipped");
    }
  }

  private async sendStem(peerId: string, hopsLeft: number, item: StemItem): Promise<void> {
    await this.requireReqResp().request(peerId, STEM, encodeStem({ hopsLeft, ...item }));
  }

  // -------------------------------------------------------------------------------------------
  // peers

  private readonly onConnect = (e: CustomEvent<PeerId>): void => {
    void this.exchangeStatus(e.detail.toString());
  };

  private readonly onDisconnect = (e: CustomEvent<PeerId>): void => {
    const id = e.detail.toString();
    this.statuses.delete(id);
    this.statusAt.delete(id);
    this.scores.forget(id);
  };

  /** Dials bootnodes when alone, and asks a random peer for more peers while below the limit. */
  private async maintain(): Promise<void> {
    const host = this.host;
    if (!host) return;
    try {
      const stale = Date.now() - this.opts.statusRefreshMs;
      await Promise.all([...this.statuses.keys()].filter((id) => (this.statusAt.get(id) ?? 0) < stale).map((id) => this.exchangeStatus(id)));
      if (this.statuses.size === 0) {
        await Promise.all(this.opts.bootnodes.map((b) => this.dial(b).catch((e: unknown) => this.modules.log.debug({ err: e, bootnode: b }, "bootnode dial failed"))));
      }
      if (this.statuses.size > 0) {
        this.fillWantedPayloads();
        this.fillMissingPayloads();
      }
      if (!this.opts.peerExchange || host.getConnections().length >= this.opts.maxPeers) return;
      const peers = [...this.statuses.keys()];
      const asked = peers[Math.floor(Math.random() * peers.length)];
      if (asked) await this.exchangePeers(asked);
    } catch (e) {
      if (!(isNodeError(e) && Object.values(RequestErrorCode).includes(e.code as never))) this.modules.log.warn({ err: e }, "peer maintenance failed");
    }
  }

  /** Asks one peer for the peers it knows and dials those we lack, up to the limit. */
  private async exchangePeers(asked: string): Promise<void> {
    const host = this.requireHost();
    const answer = await this.requireReqResp().request(asked, PEERS, new Uint8Array(0));
    let records: PeerRecord[];
    try {
      records = decodePeers(answer).map((r) => checkedPeerRecord(r));
    } catch (e) {
      this.penalize(asked, "malformed", `peers answer: ${(e as Error).message}`);
      return;
    }
    const connected = new Set(host.getConnections().map((c) => c.remotePeer.toString()));
    for (const r of records) {
      if (r.id === this.peerId || connected.has(r.id) || this.scores.isBanned(r.id)) continue;
      if (this.statuses.size >= this.opts.maxPeers) break;
      // only addresses in scopes this node dials: a peer must not make it probe its own machine or LAN
      const addr = r.addrs.find((a) => {
        const ip = multiaddrIp(a);
        return ip !== undefined && this.dialScopes.has(addressScope(ip));
      });
      if (addr) await this.dial(`${addr}/p2p/${r.id}`).catch((e: unknown) => this.modules.log.debug({ err: e, peer: r.id }, "peer exchange dial failed"));
    }
  }

  private penalize(peer: string, kind: PenaltyKind, reason: string): void {
    this.modules.log.debug({ peer, kind, reason }, "peer penalized");
    this.scores.penalize(peer, kind, reason);
  }

  private onBan(peerId: string, reason: string): void {
    this.modules.log.info({ peer: peerId, reason }, "peer banned");
    this.statuses.delete(peerId);
    this.emit("peerBanned", { peerId, reason });
    void this.hangUp(peerId).catch(() => undefined);
  }

  private requireHost(): Host {
    if (!this.host) throw new Error("the P2P network is not started");
    return this.host;
  }

  private requireReqResp(): ReqResp {
    if (!this.reqResp) throw new Error("the P2P network is not started");
    return this.reqResp;
  }
}

/** What travels in a stem: a raw transaction, with its payload for a publish. */
interface StemItem {
  raw: Uint8Array;
  payload?: PayloadItem;
}

/** A peer record whose Guard ID is a peer id and whose addresses are multiaddrs; else a WireError. */
function checkedPeerRecord(r: PeerRecord): PeerRecord {
  try {
    peerIdFromString(r.id);
    for (const a of r.addrs) multiaddr(a);
  } catch (e) {
    throw new WireError({ code: WireErrorCode.MALFORMED }, `malformed peers answer: ${(e as Error).message}`);
  }
  return r;
}

/**
 * libp2p folds a listen failure into a long text with the socket error's stack: this keeps its
 * code (EADDRINUSE, ...) as Node's own listen errors carry it, in a one-line message.
 */
function listenFailure(addr: string, port: number, e: unknown): Error {
  const message = (e as Error).message;
  const code = /\b(E[A-Z]{3,})\b/.exec(message)?.[1];
  return Object.assign(new Error(`cannot listen on ${addr}:${port}: ${code ?? message.split("\n")[0]}`, { cause: e }), { code, syscall: "listen" });
}

function withoutPeer(addr: Multiaddr): string {
  const s = addr.toString();
  const i = s.indexOf("/p2p/");
  return i >= 0 ? s.slice(0, i) : s;
}
