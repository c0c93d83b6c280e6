import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { ChainEvent, TxPoolEvent, type Blockchain, type ChainEventData, type TxPool } from "../chain/index.js";

/** Options of the node's metrics. */
export interface NodeMetricsOptions {
  /** Also export Node.js process metrics (CPU, memory, event loop lag, GC); off only in tests that count series. */
  defaultMetrics: boolean;
  /** Distinct `method` label values kept; calls to further methods count as "other" (callers choose method names). */
  maxMethods: number;
}

/** Default metrics options. */
export const defaultNodeMetricsOptions: NodeMetricsOptions = { defaultMetrics: true, maxMethods: 256 };

const OTHER_METHOD = "other";

/**
 * Prometheus metrics of a node in their own registry (not prom-client's global one, so several
 * nodes in one process do not collide): block import time, head, pool, peers, RPC calls.
 */
export class NodeMetrics {
  /** The registry `text()` exposes. */
  readonly registry = new Registry();
  /** Seconds to import one block (validation, execution, write). */
  readonly blockImportSeconds: Histogram;
  /** Number of the canonical head block. */
  readonly headNumber: Gauge;
  /** Transactions in the pool. */
  readonly txpoolTransactions: Gauge;
  /** Raw bytes of the transactions in the pool. */
  readonly txpoolBytes: Gauge;
  /** Connected peers (0 until the P2P layer exists). */
  readonly peers: Gauge;
  /** JSON-RPC calls by method and status ("ok" or "error"). */
  readonly rpcCalls: Counter<"method" | "status">;
  /** JSON-RPC call latency by method. */
  readonly rpcCallSeconds: Histogram<"method">;
  private readonly opts: NodeMetricsOptions;
  private readonly methods = new Set<string>();
  private tracked: { chain: Blockchain; pool: TxPool } | null = null;

  constructor(opts: Partial<NodeMetricsOptions> = {}) {
    this.opts = { ...defaultNodeMetricsOptions, ...opts };
    const registers = [this.registry];
    this.blockImportSeconds = new Histogram({
      name: "vs1984_block_import_seconds",
      help: "Time to import one block: validation, execution and the database write",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.headNumber = new Gauge({ name: "vs1984_head_number", help: "Number of the canonical head block", registers });
    this.txpoolTransactions = new Gauge({ name: "vs1984_txpool_transactions", help: "Transactions in the pool", registers });
    this.txpoolBytes = new Gauge({ name: "vs1984_txpool_bytes", help: "Raw bytes of the transactions in the pool", registers });
    this.peers = new Gauge({ name: "vs1984_peers", help: "Connected peers", registers });
    this.rpcCalls = new Counter({
      name: "vs1984_rpc_calls_total",
      help: "JSON-RPC calls by method and status (ok or error)",
      labelNames: ["method", "status"] as const,
      registers,
    });
    this.rpcCallSeconds = new Histogram({
      name: "vs1984_rpc_call_seconds",
      help: "JSON-RPC call latency by method",
      labelNames: ["method"] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.peers.set(0);
    if (this.opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one JSON-RPC call and its latency (the `RpcMetrics` shape rpc/server.ts calls). */
  observeCall(method: string, seconds: number, ok: boolean): void {
    // Method names come from clients: cap the label set so random names cannot grow memory without bound.
    let label = method;
    if (!this.methods.has(method)) {
      if (this.methods.size >= this.opts.maxMethods) label = OTHER_METHOD;
      else this.methods.add(method);
    }
    this.rpcCalls.inc({ method: label, status: ok ? "ok" : "error" });
    this.rpcCallSeconds.observe({ method: label }, seconds);
  }

  /** Records the time one block import took. */
  observeImport(seconds: number): void {
    this.blockImportSeconds.observe(seconds);
  }

  /** Sets the peer count (for the P2P layer). */
  setPeers(count: number): void {
    this.peers.set(count);
  }

  /** Follows a started chain and pool: the head gauge on each new head, the pool gauges on each pool change. */
  trackLedger(chain: Blockchain, pool: TxPool): void {
    this.stop();
    this.tracked = { chain, pool };
    chain.on(ChainEvent.newHead, this.onNewHead);
    pool.on(TxPoolEvent.added, this.onPoolChange);
    pool.on(TxPoolEvent.dropped, this.onPoolChange);
    this.headNumber.set(Number(chain.head.header.number));
    this.onPoolChange();
  }

  /** The exposition text for a Prometheus scrape (`GET /metrics`). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type of `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Unsubscribes from the chain and pool (idempotent). */
  stop(): void {
    if (!this.tracked) return;
    const { chain, pool } = this.tracked;
    chain.off(ChainEvent.newHead, this.onNewHead);
    pool.off(TxPoolEvent.added, this.onPoolChange);
    pool.off(TxPoolEvent.dropped, this.onPoolChange);
    this.tracked = null;
  }

  private readonly onNewHead = (e: ChainEventData[typeof ChainEvent.newHead]): void => {
    this.headNumber.set(Number(e.head.header.number));
  };

  private readonly onPoolChange = (): void => {
    if (!this.tracked) return;
    this.txpoolTransactions.set(this.tracked.pool.size);
    this.txpoolBytes.set(this.tracked.pool.bytes);
  };
}
