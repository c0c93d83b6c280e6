import { ChainEvent, TxPoolEvent, type Block, type Hex, type SignedTx } from "../chain/index.js";
import { type ChainEventSource, type NewHeadEvent, type PendingTxSource, idParam, randomId } from "./filters.js";
import { type BlockJson, formatBlock, formatTransaction, quantity } from "./format.js";
import { type LogFilter, bloomMayMatch, formatLogEntry, headChangeLogs, matchesEntry, parseLogFilter } from "./logs.js";
import { custom, optional } from "./params.js";
import { RpcError, RpcErrorCode, invalidParam } from "./rpcError.js";
import { type RpcConnection, type RpcMethod, defineMethod } from "./rpcMethod.js";

/** The kinds of eth_subscribe. */
export const SubscriptionKind = {
  newHeads: "newHeads",
  logs: "logs",
  newPendingTransactions: "newPendingTransactions",
  /** Sync progress from the P2P layer, geth's shape (see SubscriptionManager.notifySyncing). */
  syncing: "syncing",
} as const;
/** One of SubscriptionKind. */
export type SubscriptionKind = (typeof SubscriptionKind)[keyof typeof SubscriptionKind];

/** Settings of the WebSocket subscriptions. */
export interface SubscriptionManagerOptions {
  /** Most subscriptions one connection may hold. */
  maxPerConnection: number;
  /** Least time between two `syncing` progress notifications. */
  syncingIntervalMs: number;
}

/** Default subscription settings. */
export const defaultSubscriptionManagerOptions: SubscriptionManagerOptions = { maxPerConnection: 100, syncingIntervalMs: 1_000 };

/** What subscriptions read: the chain's head changes and logs (plus the head's total difficulty), the pool's additions. */
export interface SubscriptionManagerModules {
  chain: ChainEventSource & { readonly headTotalDifficulty: bigint };
  pool: PendingTxSource;
  /** Told of a failure while reading the logs of a new head (the node logs it). */
  onError?: (e: unknown) => void;
}

/** What a subscription asks for. */
export type SubscriptionRequest =
  | { kind: "newHeads" }
  | { kind: "syncing" }
  | { kind: "logs"; filter: LogFilter }
  | { kind: "newPendingTransactions"; fullTransactions: boolean };

type Subscription = SubscriptionRequest & {
  id: Hex;
  connection: RpcConnection;
  /** Head changes numbered up to this one happened before the subscription existed. */
  sinceHead: number;
};

/** The header JSON of newHeads notifications: eth_getBlockByNumber's block without transactions and uncles. */
export type HeaderJson = Omit<BlockJson, "transactions" | "uncles">;

function headerJson(block: Block, totalDifficulty: bigint): HeaderJson {
  const { transactions: _t, uncles: _u, ...header } = formatBlock(block, totalDifficulty, false);
  return header;
}

/** The notification method of every subscription message. */
export const SUBSCRIPTION_NOTIFICATION = "eth_subscription";

/**
 * eth_subscribe over WebSocket: sends `eth_subscription` notifications for new heads (each block
 * joining the canonical chain, in order), logs (removed ones first on a reorg), pool additions; caps
 * subscriptions per connection, drops one whose connection refuses a message, and all of a
 * connection's on its close.
 */
export class SubscriptionManager {
  private readonly opts: SubscriptionManagerOptions;
  private readonly subs = new Map<Hex, Subscription>();
  private readonly byConnection = new Map<string, Set<Hex>>();
  private started = false;
  private headSeq = 0;
  private logWork: Promise<void> = Promise.resolve();
  /** When the last syncing progress was sent; null when no sync is being reported. */
  private lastSyncingAt: number | null = null;

  constructor(
    opts: Partial<SubscriptionManagerOptions>,
    private readonly modules: SubscriptionManagerModules,
  ) {
    this.opts = { ...defaultSubscriptionManagerOptions, ...opts };
  }

  /** Follows the chain and the pool. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.modules.chain.on(ChainEvent.newHead, this.onNewHead);
    this.modules.pool.on(TxPoolEvent.added, this.onTxAdded);
  }

  /** Stops following events and drops every subscription. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.modules.chain.off(ChainEvent.newHead, this.onNewHead);
    this.modules.pool.off(TxPoolEvent.added, this.onTxAdded);
    this.subs.clear();
    this.byConnection.clear();
  }

  /** Number of live subscriptions. */
  get size(): number {
    return this.subs.size;
  }

  /** Resolves when the log notifications of every head change seen so far have been sent. */
  settled(): Promise<void> {
    return this.logWork;
  }

  /** Subscribes a connection; returns the subscription id. */
  subscribe(connection: RpcConnection, request: SubscriptionRequest): Hex {
    const ids = this.byConnection.get(connection.id) ?? new Set<Hex>();
    if (ids.size >= this.opts.maxPerConnection) {
      throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `too many subscriptions: at most ${this.opts.maxPerConnection} per connection`);
    }
    let id = randomId();
    while (this.subs.has(id)) id = randomId();
    this.subs.set(id, { ...request, id, connection, sinceHead: this.headSeq });
    ids.add(id);
    if (!this.byConnection.has(connection.id)) {
      this.byConnection.set(connection.id, ids);
      // registered after the subscription is stored: a connection already closed runs this at once
      connection.onClose(() => this.dropConnection(connection.id));
    }
    return id;
  }

  /** Ends a subscription of this connection; false when it has none of that id. */
  unsubscribe(connection: RpcConnection, id: Hex): boolean {
    const sub = this.subs.get(id);
    if (!sub || sub.connection.id !== connection.id) return false;
    this.remove(sub);
    return true;
  }

  private remove(sub: Subscription): void {
    this.subs.delete(sub.id);
    const ids = this.byConnection.get(sub.connection.id);
    ids?.delete(sub.id);
  }

  private dropConnection(connectionId: string): void {
    for (const id of this.byConnection.get(connectionId) ?? []) this.subs.delete(id);
    this.byConnection.delete(connectionId);
  }

  /** Sends one notification; a connection that refuses it (closed, or too slow) loses the subscription. */
  private send(sub: Subscription, result: unknown): boolean {
    if (!this.subs.has(sub.id)) return false;
    if (sub.connection.notify(SUBSCRIPTION_NOTIFICATION, { subscription: sub.id, result })) return true;
    this.remove(sub);
    return false;
  }

  private readonly onNewHead = (e: NewHeadEvent): void => {
    const seq = ++this.headSeq;
    const subs = [...this.subs.values()];
    const heads = subs.filter((s) => s.kind === "newHeads");
    if (heads.length > 0) {
      // Listeners run inside the chain's emit, right after it set the head, so the head's total
      // difficulty is that of e.head; each earlier added block's is found by subtracting.
      let td = e.head.hash === this.modules.chain.head.hash ? this.modules.chain.headTotalDifficulty : 0n;
      const tds: bigint[] = [];
      for (let i = e.added.length - 1; i >= 0; i--) {
        tds[i] = td;
        td -= e.added[i]!.header.difficulty;
      }
      const json = e.added.map((b, i) => headerJson(b, tds[i]!));
      for (const sub of heads) {
        for (const h of json) if (!this.send(sub, h)) break;
      }
    }
    if (!subs.some((s) => s.kind === "logs")) return;
    this.logWork = this.logWork
      .then(() => this.deliverLogs(seq, e))
      .catch((err: unknown) => this.modules.onError?.(err));
  };

  private async deliverLogs(seq: number, e: NewHeadEvent): Promise<void> {
    type LogSub = Subscription & { kind: "logs" };
    const targets = (): LogSub[] => [...this.subs.values()].filter((s): s is LogSub => s.kind === "logs" && s.sinceHead < seq);
    const wanted = targets();
    if (wanted.length === 0) return;
    const entries = await headChangeLogs(this.modules.chain, e, (bloom) => wanted.some((s) => bloomMayMatch(s.filter, bloom)));
    if (entries.length === 0) return;
    for (const sub of targets()) {
      for (const entry of entries) {
        if (matchesEntry(sub.filter, entry) && !this.send(sub, formatLogEntry(entry))) break;
      }
    }
  }

  /**
   * Tells `syncing` subscribers how a sync goes, geth's way: `{syncing: true, status: {...}}` when
   * it starts and then at most once per `syncingIntervalMs`, and `false` when it ends.
   */
  notifySyncing(progress: { startingBlock: bigint; currentBlock: bigint; highestBlock: bigint } | false): void {
    const now = Date.now();
    if (progress !== false) {
      if (this.lastSyncingAt !== null && now - this.lastSyncingAt < this.opts.syncingIntervalMs) return;
      this.lastSyncingAt = now;
    } else {
      if (this.lastSyncingAt === null) return;
      this.lastSyncingAt = null;
    }
    const result =
      progress === false
        ? false
        : {
            syncing: true,
            status: {
              startingBlock: quantity(progress.startingBlock),
              currentBlock: quantity(progress.currentBlock),
              highestBlock: quantity(progress.highestBlock),
            },
          };
    for (const sub of [...this.subs.values()]) if (sub.kind === "syncing") this.send(sub, result);
  }

  private readonly onTxAdded = (tx: SignedTx): void => {
    let full: unknown = null;
    for (const sub of this.subs.values()) {
      if (sub.kind !== "newPendingTransactions") continue;
      if (sub.fullTransactions) {
        full ??= formatTransaction(tx, null);
        this.send(sub, full);
      } else {
        this.send(sub, tx.hash);
      }
    }
  };
}

const KINDS = Object.values(SubscriptionKind) as string[];

/** Parses eth_subscribe's arguments (kind, and the kind's options) into a request. */
export function parseSubscriptionRequest(kind: string, options: unknown): SubscriptionRequest {
  switch (kind) {
    case SubscriptionKind.newHeads:
    case SubscriptionKind.syncing:
      return { kind };
    case SubscriptionKind.logs:
      try {
        return { kind, filter: parseLogFilter(options ?? {}) };
      } catch (e) {
        throw invalidParam(1, (e as Error).message);
      }
    case SubscriptionKind.newPendingTransactions:
      if (options !== undefined && typeof options !== "boolean") throw invalidParam(1, "newPendingTransactions takes an optional boolean (full transactions)");
      return { kind, fullTransactions: options === true };
    default:
      throw invalidParam(0, `unknown subscription kind ${JSON.stringify(kind)}, want one of ${KINDS.join(", ")}`);
  }
}

function requireConnection(connection: RpcConnection | null): RpcConnection {
  // geth's answer when subscriptions are asked for over HTTP
  if (!connection) throw new RpcError(RpcErrorCode.METHOD_NOT_FOUND, "notifications not supported");
  return connection;
}

/** Collaborators of the subscription methods. */
export interface SubscriptionMethodsModules {
  subscriptions: SubscriptionManager;
}

/** eth_subscribe and eth_unsubscribe (WebSocket only). */
export function subscriptionMethods(modules: SubscriptionMethodsModules): RpcMethod[] {
  const { subscriptions } = modules;
  return [
    defineMethod({
      name: "eth_subscribe",
      summary: "Starts a subscription (WebSocket only): newHeads, logs, newPendingTransactions or syncing; returns its id.",
      params: [
        custom("subscription kind", { type: "string", enum: KINDS }, (v) => {
          if (typeof v !== "string") throw new Error(`subscription kind must be a string, got ${typeof v}`);
          return v;
        }),
        optional(custom("options", { oneOf: [{ type: "object" }, { type: "boolean" }] }, (v): unknown => v)),
      ],
      result: { name: "Subscription id", schema: { title: "hex encoded unsigned integer", type: "string", pattern: "^0x(0|[1-9a-f][0-9a-f]*)$" } },
      handler: ([kind, options], ctx) => {
        const connection = requireConnection(ctx.connection);
        return subscriptions.subscribe(connection, parseSubscriptionRequest(kind, options));
      },
    }),
    defineMethod({
      name: "eth_unsubscribe",
      summary: "Ends a subscription of this connection (WebSocket only); false when there is none of that id.",
      params: [idParam("subscription id")],
      result: { name: "Success", schema: { type: "boolean" } },
      handler: ([id], ctx) => subscriptions.unsubscribe(requireConnection(ctx.connection), id),
    }),
  ];
}
