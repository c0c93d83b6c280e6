import { randomBytes } from "node:crypto";
import { ChainEvent, TxPoolEvent, type ChainEventData, type Hex, type SignedTx } from "../chain/index.js";
import { type LogJson, quantity } from "./format.js";
import {
  type LogEntry,
  type LogFilter,
  type LogLimits,
  type LogReader,
  LOG_SCHEMA,
  bloomMayMatch,
  defaultLogLimits,
  filterParam,
  formatLogEntry,
  headChangeLogs,
  matchesEntry,
  queryLogs,
} from "./logs.js";
import { custom } from "./params.js";
import { RpcError, RpcErrorCode } from "./rpcError.js";
import { type Param, type RpcCallContext, type RpcConnection, type RpcMethod, defineMethod } from "./rpcMethod.js";

/** The head-change payload of the chain's `chain.newHead` event. */
export type NewHeadEvent = ChainEventData[typeof ChainEvent.newHead];

/** What live filters and subscriptions read of the chain: logs, and its `chain.newHead` event. */
export interface ChainEventSource extends LogReader {
  on(event: typeof ChainEvent.newHead, listener: (e: NewHeadEvent) => void): unknown;
  off(event: typeof ChainEvent.newHead, listener: (e: NewHeadEvent) => void): unknown;
}

/** The pool's `txpool.added` event, which pending-transaction filters and subscriptions follow. */
export interface PendingTxSource {
  on(event: typeof TxPoolEvent.added, listener: (tx: SignedTx) => void): unknown;
  off(event: typeof TxPoolEvent.added, listener: (tx: SignedTx) => void): unknown;
}

/** Settings of the polling filters. */
export interface FilterManagerOptions {
  /** A filter not polled for this many milliseconds is removed (geth: 5 minutes). */
  timeoutMs: number;
  /** How often expired filters are swept, in milliseconds. */
  sweepIntervalMs: number;
  /** Most filters one WebSocket connection may hold. */
  maxPerConnection: number;
  /** Most filters installed over HTTP, all HTTP clients together (HTTP calls have no connection to count by). */
  maxHttp: number;
  /** Most changes a filter buffers between polls; beyond it the oldest are dropped. */
  maxChanges: number;
  /** Most changes all filters together buffer; beyond it the largest buffers lose their oldest entries. */
  maxChangesTotal: number;
  /** Limits of eth_getLogs and eth_getFilterLogs. */
  logLimits: LogLimits;
  /** Milliseconds now (test-only clock override). */
  now: () => number;
}

/** Default filter settings. */
export const defaultFilterManagerOptions: FilterManagerOptions = {
  timeoutMs: 5 * 60_000,
  sweepIntervalMs: 30_000,
  maxPerConnection: 100,
  maxHttp: 1_000,
  maxChanges: 10_000,
  maxChangesTotal: 1_000_000,
  logLimits: defaultLogLimits,
  now: () => Date.now(),
};

/** Collaborators of the FilterManager. */
export interface FilterManagerModules {
  chain: ChainEventSource;
  pool: PendingTxSource;
  /** Told of a failure while reading the logs of a new head (the node logs it). */
  onError?: (e: unknown) => void;
}

/** Kind of a polling filter. */
export type FilterKind = "log" | "block" | "pending";

interface FilterBase {
  id: Hex;
  /** Connection id of a WebSocket owner; null for the shared HTTP bucket. */
  owner: string | null;
  lastUsed: number;
}
interface LogFilterState extends FilterBase {
  kind: "log";
  filter: LogFilter;
  /** Head changes numbered up to this one happened before the filter existed. */
  sinceHead: number;
  changes: LogEntry[];
}
interface HashFilterState extends FilterBase {
  kind: "block" | "pending";
  changes: Hex[];
}
type FilterState = LogFilterState | HashFilterState;

/** A new 16-byte random id as a hex quantity (the form of geth's filter and subscription ids). */
export function randomId(): Hex {
  return quantity(BigInt(`0x${randomBytes(16).toString("hex")}`));
}

/** Parses a filter or subscription id: a hex quantity, compared without leading zeros and letter case. */
export function parseId(v: unknown): Hex {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{1,64}$/.test(v)) throw new Error("id must be a hex quantity");
  const digits = v.slice(2).toLowerCase().replace(/^0+/, "");
  return `0x${digits || "0"}`;
}

/** A filter or subscription id parameter. */
export function idParam(name: string): Param<Hex> {
  return custom(name, { title: "hex encoded unsigned integer", type: "string", pattern: "^0x[0-9a-fA-F]{1,64}$" }, parseId);
}

function push<T>(buffer: T[], items: readonly T[], max: number): void {
  for (const item of items) buffer.push(item);
  if (buffer.length > max) buffer.splice(0, buffer.length - max);
}

/**
 * Polling filters (eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter): buffers what
 * each filter has not been told yet, caps filters per WebSocket connection and over HTTP, bounds each
 * buffer, and removes filters nobody polled for `timeoutMs`.
 */
export class FilterManager {
  /** Log query limits, shared with eth_getLogs. */
  readonly logLimits: LogLimits;
  private readonly opts: FilterManagerOptions;
  private readonly filters = new Map<Hex, FilterState>();
  private readonly byOwner = new Map<string | null, Set<Hex>>();
  private readonly watchedConnections = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private headSeq = 0;
  private logWork: Promise<void> = Promise.resolve();

  constructor(
    opts: Partial<FilterManagerOptions>,
    private readonly modules: FilterManagerModules,
  ) {
    this.opts = { ...defaultFilterManagerOptions, ...opts };
    this.logLimits = this.opts.logLimits;
  }

  /** Follows the chain and the pool, and sweeps expired filters on a timer. */
  start(): void {
    if (this.timer) return;
    this.modules.chain.on(ChainEvent.newHead, this.onNewHead);
    this.modules.pool.on(TxPoolEvent.added, this.onTxAdded);
    this.timer = setInterval(() => this.sweep(), this.opts.sweepIntervalMs);
    this.timer.unref();
  }

  /** Stops following events and drops every filter. */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.modules.chain.off(ChainEvent.newHead, this.onNewHead);
    this.modules.pool.off(TxPoolEvent.added, this.onTxAdded);
    this.filters.clear();
    this.byOwner.clear();
  }

  /** Number of installed filters. */
  get size(): number {
    return this.filters.size;
  }

  /** Resolves when the logs of every head change seen so far are in the filters' buffers. */
  settled(): Promise<void> {
    return this.logWork;
  }

  /** Installs a log filter; returns its id. */
  newLogFilter(filter: LogFilter, connection: RpcConnection | null): Hex {
    return this.install(connection, (base) => ({ ...base, kind: "log", filter, sinceHead: this.headSeq, changes: [] }));
  }

  /** Installs a filter of new canonical block hashes, or of new pending transaction hashes; returns its id. */
  newHashFilter(kind: "block" | "pending", connection: RpcConnection | null): Hex {
    return this.install(connection, (base) => ({ ...base, kind, changes: [] }));
  }

  /** What happened since the last poll: log JSON objects for a log filter, hashes otherwise. */
  async changes(id: Hex): Promise<LogJson[] | Hex[]> {
    const f = this.get(id);
    if (f.kind !== "log") return f.changes.splice(0);
    await this.logWork;
    return f.changes.splice(0).map(formatLogEntry);
  }

  /** Every log the log filter matches now (its whole range), as log JSON objects. */
  async logs(id: Hex): Promise<LogJson[]> {
    const f = this.get(id, false);
    if (f.kind !== "log") throw new RpcError(RpcErrorCode.SERVER_ERROR, "filter not found");
    return (await queryLogs(this.modules.chain, f.filter, this.logLimits)).map(formatLogEntry);
  }

  /** Removes a filter; false when there is none of that id. */
  uninstall(id: Hex): boolean {
    const f = this.filters.get(id);
    if (!f) return false;
    this.remove(f);
    return true;
  }

  /** Removes the filters not polled for `timeoutMs` (the timer calls it; tests call it with their clock). */
  sweep(): void {
    const now = this.opts.now();
    for (const f of this.filters.values()) if (this.expired(f, now)) this.remove(f);
  }

  private expired(f: FilterState, now: number): boolean {
    return now - f.lastUsed > this.opts.timeoutMs;
  }

  /** The live filter of that id; `poll` marks it used (only eth_getFilterChanges keeps a filter alive). */
  private get(id: Hex, poll = true): FilterState {
    const f = this.filters.get(id);
    const now = this.opts.now();
    if (!f || this.expired(f, now)) {
      if (f) this.remove(f);
      throw new RpcError(RpcErrorCode.SERVER_ERROR, "filter not found");
    }
    if (poll) f.lastUsed = now;
    return f;
  }

  /** Keeps all buffers together under maxChangesTotal by trimming the oldest entries of the largest. */
  private enforceTotal(): void {
    let total = 0;
    for (const f of this.filters.values()) total += f.changes.length;
    if (total <= this.opts.maxChangesTotal) return;
    const largest = [...this.filters.values()].sort((a, b) => b.changes.length - a.changes.length);
    for (const f of largest) {
      if (total <= this.opts.maxChangesTotal) break;
      const drop = Math.min(f.changes.length, total - this.opts.maxChangesTotal, Math.ceil(f.changes.length / 2));
      f.changes.splice(0, drop);
      total -= drop;
    }
  }

  private install(connection: RpcConnection | null, make: (base: FilterBase) => FilterState): Hex {
    const owner = connection ? connection.id : null;
    const ids = this.byOwner.get(owner) ?? new Set<Hex>();
    const cap = connection ? this.opts.maxPerConnection : this.opts.maxHttp;
    if (ids.size >= cap) {
      throw new RpcError(
        RpcErrorCode.LIMIT_EXCEEDED,
        connection ? `too many filters: at most ${cap} per connection` : `too many filters: at most ${cap} over HTTP`,
      );
    }
    let id = randomId();
    while (this.filters.has(id)) id = randomId();
    this.filters.set(id, make({ id, owner, lastUsed: this.opts.now() }));
    ids.add(id);
    this.byOwner.set(owner, ids);
    if (connection && !this.watchedConnections.has(connection.id)) {
      this.watchedConnections.add(connection.id);
      // registered after the filter is stored: a connection already closed runs this at once
      connection.onClose(() => this.dropConnection(connection.id));
    }
    return id;
  }

  private dropConnection(connectionId: string): void {
    this.watchedConnections.delete(connectionId);
    for (const id of this.byOwner.get(connectionId) ?? []) this.filters.delete(id);
    this.byOwner.delete(connectionId);
  }

  private remove(f: FilterState): void {
    this.filters.delete(f.id);
    const ids = this.byOwner.get(f.owner);
    ids?.delete(f.id);
    if (ids?.size === 0) this.byOwner.delete(f.owner);
  }

  private readonly onNewHead = (e: NewHeadEvent): void => {
    const seq = ++this.headSeq;
    const hashes = e.added.map((b) => b.hash);
    let anyLog = false;
    for (const f of this.filters.values()) {
      if (f.kind === "block") push(f.changes, hashes, this.opts.maxChanges);
      else if (f.kind === "log") anyLog = true;
    }
    this.enforceTotal();
    if (!anyLog) return;
    this.logWork = this.logWork
      .then(() => this.deliverLogs(seq, e))
      .catch((err: unknown) => this.modules.onError?.(err));
  };

  private async deliverLogs(seq: number, e: NewHeadEvent): Promise<void> {
    const targets = (): LogFilterState[] => [...this.filters.values()].filter((f): f is LogFilterState => f.kind === "log" && f.sinceHead < seq);
    const wanted = targets();
    if (wanted.length === 0) return;
    const entries = await headChangeLogs(this.modules.chain, e, (bloom) => wanted.some((f) => bloomMayMatch(f.filter, bloom)));
    if (entries.length === 0) return;
    // filters uninstalled while the receipts were read are left out
    for (const f of targets()) {
      push(
        f.changes,
        entries.filter((x) => matchesEntry(f.filter, x)),
        this.opts.maxChanges,
      );
    }
    this.enforceTotal();
  }

  private readonly onTxAdded = (tx: SignedTx): void => {
    for (const f of this.filters.values()) if (f.kind === "pending") push(f.changes, [tx.hash], this.opts.maxChanges);
    this.enforceTotal();
  };
}

/** Collaborators of the filter methods. */
export interface FilterMethodsModules {
  chain: LogReader;
  filters: FilterManager;
}

const ID_RESULT = { name: "Filter identifier", schema: { title: "hex encoded unsigned integer", type: "string", pattern: "^0x(0|[1-9a-f][0-9a-f]*)$" } };
const CHANGES_SCHEMA = {
  oneOf: [
    { title: "new block or transaction hashes", type: "array", items: { type: "string", pattern: "^0x[0-9a-f]{64}$" } },
    { title: "new logs", type: "array", items: LOG_SCHEMA },
  ],
};

/** eth_getLogs and the polling filter methods. */
export function filterMethods(modules: FilterMethodsModules): RpcMethod[] {
  const { chain, filters } = modules;
  const conn = (ctx: RpcCallContext): RpcConnection | null => ctx.connection;
  return [
    defineMethod({
      name: "eth_getLogs",
      summary: "Returns an array of all logs matching the specified filter.",
      params: [filterParam("filter")],
      result: { name: "Log objects", schema: { type: "array", items: LOG_SCHEMA } },
      handler: async ([filter]) => (await queryLogs(chain, filter, filters.logLimits)).map(formatLogEntry),
    }),
    defineMethod({
      name: "eth_newFilter",
      summary: "Installs a log filter, for polling with eth_getFilterChanges; returns its id.",
      params: [filterParam("filter")],
      result: ID_RESULT,
      handler: ([filter], ctx) => filters.newLogFilter(filter, conn(ctx)),
    }),
    defineMethod({
      name: "eth_newBlockFilter",
      summary: "Installs a filter of new canonical block hashes; returns its id.",
      params: [],
      result: ID_RESULT,
      handler: (_args, ctx) => filters.newHashFilter("block", conn(ctx)),
    }),
    defineMethod({
      name: "eth_newPendingTransactionFilter",
      summary: "Installs a filter of hashes of transactions entering the pool; returns its id.",
      params: [],
      result: ID_RESULT,
      handler: (_args, ctx) => filters.newHashFilter("pending", conn(ctx)),
    }),
    defineMethod({
      name: "eth_getFilterChanges",
      summary: "Returns the logs, block hashes or transaction hashes the filter saw since the last poll.",
      params: [idParam("filter id")],
      result: { name: "Filter changes", schema: CHANGES_SCHEMA },
      handler: ([id]) => filters.changes(id),
    }),
    defineMethod({
      name: "eth_getFilterLogs",
      summary: "Returns every log matching the log filter of the given id.",
      params: [idParam("filter id")],
      result: { name: "Log objects", schema: { type: "array", items: LOG_SCHEMA } },
      handler: ([id]) => filters.logs(id),
    }),
    defineMethod({
      name: "eth_uninstallFilter",
      summary: "Removes the filter of the given id; false when there is none.",
      params: [idParam("filter id")],
      result: { name: "Success", schema: { type: "boolean" } },
      handler: ([id]) => filters.uninstall(id),
    }),
  ];
}
