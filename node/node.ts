import type { Logger } from "pino";
import { type GenesisConfig, type Hex, publishCommitment, subchainIdsByName } from "../chain/index.js";
import {
  contentMethods,
  defaultRpcServerOptions,
  FilterManager,
  MethodRegistry,
  RpcServer,
  type RpcServerOptions,
  SubscriptionManager,
  clientVersion,
  discoverMethod,
  ethMethods,
  filterMethods,
  netMethods,
  payloadMethods,
  subscriptionMethods,
  vsMethods,
  web3Methods,
} from "../rpc/index.js";
import { Network, loadOrCreateGuard, type HostOptions, type NetworkOptions, type PayloadItem } from "../p2p/index.js";
import type { DevAccount } from "./devAccounts.js";
import { KeyDeliveryService, type KeyDeliveryOptions } from "./content/deliveryService.js";
import { Ledger } from "./ledger.js";
import { NodeMetrics } from "./metrics.js";
import { VERSION } from "./version.js";
import { listenError } from "./listenError.js";

/** How long vs_getPayload waits for peers to answer for a payload this node does not hold. */
const PAYLOAD_FETCH_TIMEOUT_MS = 15_000;

/** Options of a full node. */
export interface NodeOptions {
  datadir: string;
  genesis: GenesisConfig;
  /** The in-process miner's key (Real ID), or null for no mining. */
  minerKey: Uint8Array | null;
  /** Address `eth_getWork` hands packages for by default (the in-process miner's, or an external one's). */
  coinbase: Hex | null;
  /** Dev accounts served by eth_accounts / eth_sendTransaction (dev chain only). */
  devAccounts: DevAccount[];
  /** JSON-RPC server options, or null for none. */
  rpc: Partial<RpcServerOptions> | null;
  /** Serve Prometheus metrics at /metrics on the RPC port. */
  metrics: boolean;
  /** P2P network options (the Guard key comes from `<datadir>/guard.key`), or null to run alone. */
  p2p: (Partial<NetworkOptions> & HostOptions) | null;
  /** Unix seconds now (test-only clock override). */
  now?: () => bigint;
  /** Names of the sub-chains whose payloads this node stores besides pins (`--subchains posts,bt`); absent: pins only. */
  subchains?: string[];
  /** The author's key-delivery service (`--content.keystore`): the author's key, the content keys' password, settings; null or absent for none. */
  contentDelivery?: (Partial<Omit<KeyDeliveryOptions, "datadir">> & { authorKey: Uint8Array; contentKeyPassword: string }) | null;
}

/**
 * A VS1984 full node: the ledger (chain, pool, consensus, miner) and the JSON-RPC/WebSocket API
 * around it. Built in dependency order, started in that order, stopped in reverse.
 */
export class VsNode {
  readonly ledger: Ledger;
  readonly metrics: NodeMetrics | null;
  readonly rpc: RpcServer | null;
  /** The P2P network once started (null before start and without P2P). */
  network: Network | null = null;
  /** The author's key-delivery service, when configured. */
  readonly contentDelivery: KeyDeliveryService | null;
  private readonly filters: FilterManager;
  private readonly subscriptions: SubscriptionManager;
  private started = false;

  constructor(
    private readonly opts: NodeOptions,
    private readonly log: Logger,
  ) {
    const metrics = opts.metrics ? new NodeMetrics() : null;
    this.metrics = metrics;
    this.ledger = new Ledger({
      datadir: opts.datadir,
      genesis: opts.genesis,
      minerKey: opts.minerKey ?? undefined,
      subchains: subchainIdsByName(opts.genesis.subchains, opts.subchains ?? []),
      now: opts.now,
      onError: (e) => log.warn({ err: e }, "Background task failed"),
      onImported: metrics ? (s) => metrics.observeImport(s) : undefined,
    });
    const { chain, pool } = this.ledger;
    const onError = (e: unknown): void => log.warn({ err: e }, "Background task failed");
    this.filters = new FilterManager({}, { chain, pool, onError });
    this.subscriptions = new SubscriptionManager({}, { chain, pool, onError });
    const registry = new MethodRegistry();
    registry.register(
      ...web3Methods({ clientVersion: clientVersion(VERSION) }),
      ...netMethods({ chainId: opts.genesis.chainId, peerCount: () => this.network?.peerCount ?? 0 }),
      ...ethMethods({
        chain,
        pool,
        submitRawTransaction: (raw) => this.submitRawTransaction(raw),
        syncing: () => this.network?.syncProgress() ?? false,
        work: this.ledger.work,
        miner: this.ledger.miner,
        coinbase: opts.coinbase,
        devAccounts: opts.devAccounts,
      }),
      ...filterMethods({ chain, filters: this.filters }),
      ...subscriptionMethods({ subscriptions: this.subscriptions }),
      ...vsMethods({ chain, peers: () => this.network?.peers() ?? [] }),
      ...contentMethods({
        chain,
        subscriptions: this.subscriptions,
        localAccounts: () => opts.devAccounts.map((a) => a.address),
        submitRawTransactionWithPayload: (raw, payload) => this.submitRawTransactionWithPayload(raw, payload),
      }),
      ...payloadMethods({
        submitRawTransactionWithPayload: (raw, payload) => this.submitRawTransactionWithPayload(raw, payload),
        chain,
        payloads: this.ledger.payloads,
        // an RPC call waits for peers at most this long (each peer asked has the request deadline)
        fetchPayload: async (hash) => this.network?.fetchPayload(hash, AbortSignal.timeout(PAYLOAD_FETCH_TIMEOUT_MS)),
      }),
    );
    registry.register(discoverMethod(registry, { version: VERSION }));
    const cd = opts.contentDelivery;
    if (cd) {
      const { authorKey, contentKeyPassword, ...settings } = cd;
      const submitRawTransaction = (raw: Uint8Array): Promise<Hex> => this.submitRawTransaction(raw);
      this.contentDelivery = new KeyDeliveryService(
        { ...settings, datadir: opts.datadir },
        { chain, pool, submitRawTransaction, authorKey, contentKeyPassword, log: log.child({ module: "content" }) },
      );
    } else {
      this.contentDelivery = null;
    }
    this.rpc = opts.rpc
      ? new RpcServer(opts.rpc, {
          registry,
          metrics,
          logger: log.child({ module: "rpc" }),
          metricsText: metrics ? () => metrics.text() : null,
        })
      : null;
  }

  /** Starts the ledger, then the API; stops what started if a later part fails. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    try {
      await this.ledger.start();
      this.metrics?.trackLedger(this.ledger.chain, this.ledger.pool);
      await this.startNetwork();
      this.filters.start();
      this.subscriptions.start();
      await this.rpc?.start().catch((e: unknown) => {
        throw listenError("JSON-RPC", `${this.opts.rpc?.host ?? defaultRpcServerOptions.host}:${this.opts.rpc?.port ?? defaultRpcServerOptions.port}`, "--rpc.addr / --rpc.port", e);
      });
      await this.contentDelivery?.start();
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Pools a transaction submitted here (RPC, wallet) and starts its stem phase towards the network. */
  async submitRawTransaction(raw: Uint8Array): Promise<Hex> {
    return this.announce(await this.ledger.submitRawTransaction(raw), raw);
  }

  /** Pools a publish transaction with its payload (vs_sendRawTransactionWithPayload) and starts the stem phase of both. */
  async submitRawTransactionWithPayload(raw: Uint8Array, payload: Uint8Array): Promise<Hex> {
    const hash = await this.ledger.submitRawTransactionWithPayload(raw, payload);
    const tx = this.ledger.pool.get(hash);
    const commitment = tx && publishCommitment(tx);
    return this.announce(hash, raw, commitment ? { subchainId: commitment.subchainId, bytes: payload } : undefined);
  }

  /** Starts the stem phase of a transaction pooled here (with its payload for a publish); returns its hash. */
  private announce(hash: Hex, raw: Uint8Array, payload?: PayloadItem): Hex {
    this.network?.announceTransaction(hash, raw, payload).catch((e: unknown) => this.log.warn({ err: e }, "Transaction announcement failed"));
    return hash;
  }

  /**
   * Sub-chains whose payload topics the node joins: the followed ones, and every declared one when
   * it makes blocks (in-process miner or work for an external miner), as a publish goes into a
   * block only with its payload.
   */
  private payloadSubchains(): number[] {
    const { chain } = this.ledger;
    const makesBlocks = this.opts.minerKey !== null || this.opts.coinbase !== null;
    return chain.genesis.subchains.map((d) => d.id).filter((id) => makesBlocks || chain.subchains.follows(id));
  }

  private async startNetwork(): Promise<void> {
    if (!this.opts.p2p) return;
    const { identity, created } = await loadOrCreateGuard(this.opts.datadir);
    if (created) this.log.info({ guardId: identity.guardId }, "Guard identity created");
    this.network = new Network({ payloadSubchains: this.payloadSubchains(), ...this.opts.p2p }, {
      chain: this.ledger.chain,
      payloads: this.ledger.payloads,
      privateKey: identity.privateKey,
      importBlock: (block) => this.ledger.importBlock(block),
      addTransaction: (raw) => this.ledger.submitRawTransaction(raw),
      log: this.log.child({ module: "p2p" }),
    });
    this.network.on("syncProgress", (p) => this.subscriptions.notifySyncing(p));
    await this.network.start().catch((e: unknown) => {
      const failed = e as NodeJS.ErrnoException;
      throw failed.syscall === "listen" ? listenError("P2P", `${this.opts.p2p?.addr}:${this.opts.p2p?.port}`, "--p2p.addr / --p2p.port", e) : e;
    });
  }

  /** Stops the API first (no new requests), then mining, then the ledger (closing the database). */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.contentDelivery?.stop();
    await this.rpc?.stop();
    await this.network?.stop();
    // log reads the managers started for the last heads finish before the database closes
    await Promise.all([this.filters.settled(), this.subscriptions.settled()]);
    this.subscriptions.stop();
    this.filters.stop();
    this.metrics?.stop();
    await this.ledger.stop();
  }
}
