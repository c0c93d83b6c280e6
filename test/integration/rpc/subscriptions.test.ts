import { afterAll, describe, expect, it } from "@jest/globals";
import { Wallet } from "ethers";
import { ChainEvent, type Block } from "../../../chain/blockchain.js";
import { NATIVE_TOKEN_ADDRESS, TRANSFER_TOPIC } from "../../../chain/execution.js";
import { TxPoolEvent } from "../../../chain/txPool.js";
import type { Hex } from "../../../chain/types.js";
import type { Ledger } from "../../../node/ledger.js";
import { formatBlock } from "../../../rpc/format.js";
import { RpcErrorCode } from "../../../rpc/rpcError.js";
import { MethodRegistry, type RpcConnection } from "../../../rpc/rpcMethod.js";
import { SubscriptionManager, type SubscriptionManagerOptions, subscriptionMethods } from "../../../rpc/subscriptions.js";
import { devWallet, keyOf, openLedger, testGenesis, sendTransfer } from "../../helpers/ledger.js";
import { mineBlock } from "../../helpers/mine.js";
import { rpcError } from "../../helpers/rpcClient.js";

const ONE_VS = 10n ** 18n;
const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const addr = (w: { address: string }): Hex => w.address.toLowerCase() as Hex;
const word = (a: Hex): Hex => `0x${a.slice(2).padStart(64, "0")}`;
const nonces = new WeakMap<Ledger, Map<number, number>>();

/** Signs and pools a transfer from dev account `from` (nonces counted per ledger). */
async function transfer(ledger: Ledger, from: number, to: Hex, value: bigint): Promise<Hex> {
  const used = nonces.get(ledger) ?? new Map<number, number>();
  nonces.set(ledger, used);
  const nonce = used.get(from) ?? 0;
  used.set(from, nonce + 1);
  return sendTransfer(ledger, from, to, value, nonce);
}

const mine = (ledger: Ledger, m = devWallet(9)): Promise<Block> => mineBlock(ledger, keyOf(m), addr(m));

/** An in-memory WebSocket connection: collects notifications; `refuse` makes notify fail; `close()` runs close handlers. */
interface FakeConnection extends RpcConnection {
  sent: { method: string; params: { subscription: Hex; result: unknown } }[];
  refuse: boolean;
  close(): void;
  /** Results sent for one subscription, in order. */
  results(id: unknown): unknown[];
}

function fakeConnection(id: string): FakeConnection {
  const onClose: (() => void)[] = [];
  let closed = false;
  const c: FakeConnection = {
    id,
    sent: [],
    refuse: false,
    notify(method, params) {
      if (c.refuse) return false;
      c.sent.push({ method, params: params as { subscription: Hex; result: unknown } });
      return true;
    },
    // as the server's connection does: a handler added after the close runs at once
    onClose: (fn) => (closed ? fn() : void onClose.push(fn)),
    close: () => {
      closed = true;
      onClose.splice(0).forEach((fn) => fn());
    },
    results: (sub) => c.sent.filter((m) => m.params.subscription === sub).map((m) => m.params.result),
  };
  return c;
}

interface Api {
  call(method: string, params: unknown[], connection: RpcConnection | null): Promise<unknown>;
  subs: SubscriptionManager;
}

function api(ledger: Ledger, opts: Partial<SubscriptionManagerOptions> = {}): Api {
  const subs = new SubscriptionManager(opts, { chain: ledger.chain, pool: ledger.pool });
  subs.start();
  closers.push(() => subs.stop());
  const registry = new MethodRegistry().register(...subscriptionMethods({ subscriptions: subs }));
  return { subs, call: (method, params, connection) => registry.get(method)!.call(params, { connection }) };
}


interface LogJson {
  transactionHash: Hex;
  blockHash: Hex;
  removed: boolean;
  topics: Hex[];
}

describe("eth_subscribe", () => {
  it("newHeads sends the header of every new canonical block in order, as eth_getBlockByNumber without transactions", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger);
    const conn = fakeConnection("c");
    const id = await rpc.call("eth_subscribe", ["newHeads", {}], conn);
    expect(id).toMatch(/^0x[1-9a-f][0-9a-f]{0,31}$/);
    await transfer(ledger, 0, addr(Wallet.createRandom()), ONE_VS);
    const blocks = [await mine(ledger), await mine(ledger), await mine(ledger)];
    expect(conn.sent.every((m) => m.method === "eth_subscription")).toBe(true);
    const heads = conn.results(id) as Record<string, unknown>[];
    expect(heads.map((h) => h.hash)).toEqual(blocks.map((b) => b.hash));
    expect(heads.map((h) => h.number)).toEqual(["0x1", "0x2", "0x3"]);
    const td = (await ledger.chain.getTotalDifficulty(blocks[0]!.hash))!;
    const { transactions: _t, uncles: _u, ...expected } = formatBlock(blocks[0]!, td, false);
    expect(heads[0]).toEqual(expected);
    expect(heads[0]).not.toHaveProperty("transactions");
  });

  it("on a reorg, newHeads sends each block of the new branch in order and logs sends the removed logs first", async () => {
    const genesis = await testGenesis();
    const [a, closeA] = await openLedger(genesis);
    const [b, closeB] = await openLedger(genesis);
    closers.push(closeA, closeB);
    const rpc = api(a);
    const conn = fakeConnection("c");
    const heads = await rpc.call("eth_subscribe", ["newHeads"], conn);
    const logs = await rpc.call("eth_subscribe", ["logs", { address: NATIVE_TOKEN_ADDRESS }], conn);
    const x = addr(Wallet.createRandom());
    const toX = await rpc.call("eth_subscribe", ["logs", { topics: [TRANSFER_TOPIC, null, word(x)] }], conn);

    const onA = await transfer(a, 0, x, 2n * ONE_VS);
    const a1 = await mine(a);
    await rpc.subs.settled();
    expect((conn.results(logs) as LogJson[]).map((l) => [l.transactionHash, l.removed])).toEqual([[onA, false]]);

    const onB = await transfer(b, 1, addr(Wallet.createRandom()), 3n * ONE_VS);
    const branch = [await mine(b, devWallet(8)), await mine(b, devWallet(8)), await mine(b, devWallet(8))];
    for (const block of branch) await a.importBlock(block);
    await a.settled();
    await rpc.subs.settled();
    expect(a.chain.head.hash).toBe(branch[2]!.hash);

    const headHashes = (conn.results(heads) as { hash: Hex }[]).map((h) => h.hash);
    expect(headHashes[0]).toBe(a1.hash);
    expect(headHashes.slice(1)).toEqual(branch.map((blk) => blk.hash));
    for (const h of conn.results(heads) as { hash: Hex; totalDifficulty: Hex }[]) {
      expect(BigInt(h.totalDifficulty)).toBe(await a.chain.getTotalDifficulty(h.hash));
    }
    const logResults = conn.results(logs) as LogJson[];
    expect(logResults.map((l) => [l.transactionHash, l.blockHash, l.removed])).toEqual([
      [onA, a1.hash, false],
      [onA, a1.hash, true],
      [onB, branch[0]!.hash, false],
    ]);
    expect((conn.results(toX) as LogJson[]).map((l) => [l.transactionHash, l.removed])).toEqual([
      [onA, false],
      [onA, true],
    ]);
  });

  it("newPendingTransactions sends hashes, or whole transactions when asked with true", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger);
    const conn = fakeConnection("c");
    const hashes = await rpc.call("eth_subscribe", ["newPendingTransactions"], conn);
    const full = await rpc.call("eth_subscribe", ["newPendingTransactions", true], conn);
    const to = addr(Wallet.createRandom());
    const h = await transfer(ledger, 0, to, ONE_VS);
    expect(conn.results(hashes)).toEqual([h]);
    const [tx] = conn.results(full) as Record<string, unknown>[];
    expect(tx).toMatchObject({ hash: h, from: addr(devWallet(0)), to, value: `0x${ONE_VS.toString(16)}`, blockHash: null, blockNumber: null });
  });

  it("syncing sends the start of a sync, throttled progress, and false at its end", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger, { syncingIntervalMs: 60_000 });
    const conn = fakeConnection("c");
    const id = await rpc.call("eth_subscribe", ["syncing"], conn);
    rpc.subs.notifySyncing({ startingBlock: 0n, currentBlock: 1n, highestBlock: 300n });
    rpc.subs.notifySyncing({ startingBlock: 0n, currentBlock: 2n, highestBlock: 300n }); // within the interval: not sent
    rpc.subs.notifySyncing(false);
    rpc.subs.notifySyncing(false); // no sync running: nothing more
    expect(conn.results(id)).toEqual([
      { syncing: true, status: { startingBlock: "0x0", currentBlock: "0x1", highestBlock: "0x12c" } },
      false,
    ]);
  });

  it("accepts syncing (nothing to send while no sync runs) and refuses unknown kinds and bad options", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger);
    const conn = fakeConnection("c");
    const id = await rpc.call("eth_subscribe", ["syncing"], conn);
    await mine(ledger);
    expect(conn.results(id)).toEqual([]);
    const unknown = await rpcError(rpc.call("eth_subscribe", ["newBlocks"], conn));
    expect([unknown.code, unknown.message]).toEqual([
      RpcErrorCode.INVALID_PARAMS,
      'invalid argument 0: unknown subscription kind "newBlocks", want one of newHeads, logs, newPendingTransactions, syncing',
    ]);
    const badFilter = await rpcError(rpc.call("eth_subscribe", ["logs", { topics: ["0x12"] }], conn));
    expect(badFilter.message).toBe("invalid argument 1: topics[0]: hash must be 32 bytes (64 hex digits), got 2 hex digits");
    expect((await rpcError(rpc.call("eth_subscribe", ["newPendingTransactions", "yes"], conn))).code).toBe(RpcErrorCode.INVALID_PARAMS);
    expect((await rpcError(rpc.call("eth_subscribe", [], conn))).code).toBe(RpcErrorCode.INVALID_PARAMS);
  });

  it("over HTTP answers 'notifications not supported' (-32601) as geth does", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger);
    for (const [method, params] of [
      ["eth_subscribe", ["newHeads"]],
      ["eth_unsubscribe", ["0x1"]],
    ] as const) {
      const e = await rpcError(rpc.call(method, [...params], null));
      expect([e.code, e.message]).toEqual([RpcErrorCode.METHOD_NOT_FOUND, "notifications not supported"]);
    }
  });

  it("caps subscriptions at 100 per connection (-32005)", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger);
    const c1 = fakeConnection("c1");
    for (let i = 0; i < 100; i++) await rpc.call("eth_subscribe", [i % 2 ? "newHeads" : "logs"], c1);
    const e = await rpcError(rpc.call("eth_subscribe", ["newHeads"], c1));
    expect([e.code, e.message]).toEqual([RpcErrorCode.LIMIT_EXCEEDED, "too many subscriptions: at most 100 per connection"]);
    expect(await rpc.call("eth_subscribe", ["newHeads"], fakeConnection("c2"))).toMatch(/^0x/);
    // unsubscribing frees a place
    const c3 = fakeConnection("c3");
    const small = api(ledger, { maxPerConnection: 1 });
    const only = await small.call("eth_subscribe", ["newHeads"], c3);
    await rpcError(small.call("eth_subscribe", ["newHeads"], c3));
    expect(await small.call("eth_unsubscribe", [only], c3)).toBe(true);
    expect(await small.call("eth_subscribe", ["newHeads"], c3)).toMatch(/^0x/);
  });

  it("eth_unsubscribe stops notifications, once, and only from the connection that subscribed", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger);
    const conn = fakeConnection("c");
    const other = fakeConnection("o");
    const id = await rpc.call("eth_subscribe", ["newHeads"], conn);
    await mine(ledger);
    expect(await rpc.call("eth_unsubscribe", [id], other)).toBe(false);
    expect(await rpc.call("eth_unsubscribe", [id], conn)).toBe(true);
    expect(await rpc.call("eth_unsubscribe", [id], conn)).toBe(false);
    await mine(ledger);
    expect(conn.results(id)).toHaveLength(1);
    expect(rpc.subs.size).toBe(0);
  });

  it("drops every subscription of a connection when it closes", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger);
    const conn = fakeConnection("c");
    const stays = fakeConnection("s");
    await rpc.call("eth_subscribe", ["newHeads"], conn);
    await rpc.call("eth_subscribe", ["logs", {}], conn);
    await rpc.call("eth_subscribe", ["newPendingTransactions"], conn);
    const kept = await rpc.call("eth_subscribe", ["newHeads"], stays);
    expect(rpc.subs.size).toBe(4);
    conn.close();
    expect(rpc.subs.size).toBe(1);
    await mine(ledger);
    expect(conn.sent).toEqual([]);
    expect(stays.results(kept)).toHaveLength(1);
    // a call still in flight when its connection closed leaves nothing behind
    await rpc.call("eth_subscribe", ["newHeads"], conn);
    expect(rpc.subs.size).toBe(1);
  });

  it("drops a subscription whose connection refuses a notification (closed or too slow)", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger);
    const conn = fakeConnection("c");
    const heads = await rpc.call("eth_subscribe", ["newHeads"], conn);
    const logs = await rpc.call("eth_subscribe", ["logs", {}], conn);
    const pending = await rpc.call("eth_subscribe", ["newPendingTransactions"], conn);
    conn.refuse = true;
    await transfer(ledger, 0, addr(Wallet.createRandom()), ONE_VS);
    expect(rpc.subs.size).toBe(2);
    await mine(ledger);
    await rpc.subs.settled();
    expect(rpc.subs.size).toBe(0);
    conn.refuse = false;
    await transfer(ledger, 0, addr(Wallet.createRandom()), ONE_VS);
    await mine(ledger);
    await rpc.subs.settled();
    expect([conn.results(heads), conn.results(logs), conn.results(pending)]).toEqual([[], [], []]);
    expect(await rpc.call("eth_unsubscribe", [heads], conn)).toBe(false);
  });

  it("stop() removes its chain and pool listeners", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const heads = ledger.chain.listenerCount(ChainEvent.newHead);
    const adds = ledger.pool.listenerCount(TxPoolEvent.added);
    const subs = new SubscriptionManager({}, { chain: ledger.chain, pool: ledger.pool });
    subs.start();
    subs.start();
    expect(ledger.chain.listenerCount(ChainEvent.newHead)).toBe(heads + 1);
    expect(ledger.pool.listenerCount(TxPoolEvent.added)).toBe(adds + 1);
    subs.stop();
    subs.stop();
    expect(ledger.chain.listenerCount(ChainEvent.newHead)).toBe(heads);
    expect(ledger.pool.listenerCount(TxPoolEvent.added)).toBe(adds);
  });
});
