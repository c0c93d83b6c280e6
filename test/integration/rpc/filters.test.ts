import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Wallet } from "ethers";
import { ChainEvent, type Block } from "../../../chain/blockchain.js";
import { NATIVE_TOKEN_ADDRESS, TRANSFER_TOPIC } from "../../../chain/execution.js";
import { TxPoolEvent } from "../../../chain/txPool.js";
import type { Hex } from "../../../chain/types.js";
import type { Ledger } from "../../../node/ledger.js";
import { FilterManager, type FilterManagerOptions, filterMethods } from "../../../rpc/filters.js";
import { defaultLogLimits } from "../../../rpc/logs.js";
import { RpcErrorCode } from "../../../rpc/rpcError.js";
import { MethodRegistry, type RpcConnection } from "../../../rpc/rpcMethod.js";
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
const miner = devWallet(9);
const nonces = new WeakMap<Ledger, Map<number, number>>();

/** Signs and pools a transfer from dev account `from` (nonces counted per ledger). */
async function transfer(ledger: Ledger, from: number, to: Hex, value: bigint): Promise<Hex> {
  const used = nonces.get(ledger) ?? new Map<number, number>();
  nonces.set(ledger, used);
  const nonce = used.get(from) ?? 0;
  used.set(from, nonce + 1);
  return sendTransfer(ledger, from, to, value, nonce);
}

const mine = (ledger: Ledger, m = miner): Promise<Block> => mineBlock(ledger, keyOf(m), addr(m));

interface Api {
  call(method: string, params?: unknown[], connection?: RpcConnection | null): Promise<unknown>;
  filters: FilterManager;
}

function api(ledger: Ledger, opts: Partial<FilterManagerOptions> = {}): Api {
  const filters = new FilterManager(opts, { chain: ledger.chain, pool: ledger.pool });
  filters.start();
  closers.push(() => filters.stop());
  const registry = new MethodRegistry().register(...filterMethods({ chain: ledger.chain, filters }));
  return {
    filters,
    call: (method, params = [], connection = null) => registry.get(method)!.call(params, { connection }),
  };
}


/** A WebSocket connection as the server would hand it to methods; `close()` runs its close handlers. */
function fakeConnection(id: string): RpcConnection & { close(): void } {
  const onClose: (() => void)[] = [];
  let closed = false;
  return {
    id,
    notify: () => true,
    // as the server's connection does: a handler added after the close runs at once
    onClose: (fn) => (closed ? fn() : void onClose.push(fn)),
    close: () => {
      closed = true;
      onClose.splice(0).forEach((fn) => fn());
    },
  };
}

interface LogJson {
  address: Hex;
  topics: Hex[];
  data: Hex;
  blockHash: Hex;
  blockNumber: Hex;
  transactionHash: Hex;
  transactionIndex: Hex;
  logIndex: Hex;
  removed: boolean;
}

describe("eth_getLogs over mined transfers", () => {
  let ledger: Ledger;
  let rpc: Api;
  const [x, y] = [addr(Wallet.createRandom()), addr(Wallet.createRandom())];
  const [a0, a1, a2] = [addr(devWallet(0)), addr(devWallet(1)), addr(devWallet(2))];
  // txs[i] = hash of the i-th transfer; blocks[n] = block at height n
  const sent: { hash: Hex; from: Hex; to: Hex; value: bigint; block: number }[] = [];
  const blocks: Block[] = [];

  beforeAll(async () => {
    const [l, close] = await openLedger(await testGenesis());
    closers.push(close);
    ledger = l;
    rpc = api(ledger);
    blocks.push(ledger.chain.head);
    const plan: [number, Hex, bigint][][] = [
      [[0, x, 1n], [1, y, 2n]], // block 1
      [[0, y, 3n]], // block 2
      [], // block 3: no transfers
      [[2, x, 4n], [1, x, 5n], [0, x, 6n]], // block 4
    ];
    for (const [i, txs] of plan.entries()) {
      for (const [from, to, vs] of txs) sent.push({ hash: await transfer(ledger, from, to, vs * ONE_VS), from: addr(devWallet(from)), to, value: vs * ONE_VS, block: i + 1 });
      blocks.push(await mine(ledger));
    }
    for (const s of sent) expect((await ledger.chain.getTxLocation(s.hash))?.blockNumber).toBe(BigInt(s.block));
  });

  const getLogs = (filter: Record<string, unknown>): Promise<LogJson[]> => rpc.call("eth_getLogs", [filter]) as Promise<LogJson[]>;
  const hashes = (logs: LogJson[]): Hex[] => logs.map((l) => l.transactionHash);

  it("returns every native Transfer log by address, in chain order, with Ethereum's log fields", async () => {
    const logs = await getLogs({ fromBlock: "earliest", toBlock: "latest", address: NATIVE_TOKEN_ADDRESS });
    expect(hashes(logs)).toEqual(sent.map((s) => s.hash));
    const first = logs[0]!;
    expect(first).toEqual({
      address: NATIVE_TOKEN_ADDRESS,
      topics: [TRANSFER_TOPIC, word(a0), word(x)],
      data: `0x${ONE_VS.toString(16).padStart(64, "0")}`,
      blockHash: blocks[1]!.hash,
      blockNumber: "0x1",
      blockTimestamp: `0x${blocks[1]!.header.timestamp.toString(16)}`,
      transactionHash: sent[0]!.hash,
      transactionIndex: "0x0",
      logIndex: "0x0",
      removed: false,
    });
    // log indexes count across the block's receipts
    expect(logs.filter((l) => l.blockNumber === "0x4").map((l) => [l.transactionIndex, l.logIndex])).toEqual([
      ["0x0", "0x0"],
      ["0x1", "0x1"],
      ["0x2", "0x2"],
    ]);
    expect(await getLogs({ fromBlock: "0x0", address: addr(Wallet.createRandom()) })).toEqual([]);
    expect(hashes(await getLogs({ fromBlock: "0x0", address: [addr(Wallet.createRandom()), NATIVE_TOKEN_ADDRESS] }))).toHaveLength(sent.length);
  });

  it("defaults to the latest block only", async () => {
    expect(hashes(await getLogs({}))).toEqual(sent.filter((s) => s.block === 4).map((s) => s.hash));
  });

  it("filters by the sender topic and by the recipient topic (addresses left-padded to 32 bytes)", async () => {
    const bySender = await getLogs({ fromBlock: "0x0", topics: [TRANSFER_TOPIC, word(a0)] });
    expect(hashes(bySender)).toEqual(sent.filter((s) => s.from === a0).map((s) => s.hash));
    const byRecipient = await getLogs({ fromBlock: "0x0", topics: [TRANSFER_TOPIC, null, word(x)] });
    expect(hashes(byRecipient)).toEqual(sent.filter((s) => s.to === x).map((s) => s.hash));
  });

  it("ORs the topics listed at one position and treats null as a wildcard", async () => {
    const either = await getLogs({ fromBlock: "0x0", topics: [null, [word(a1), word(a2)]] });
    expect(hashes(either)).toEqual(sent.filter((s) => s.from === a1 || s.from === a2).map((s) => s.hash));
    const toY = await getLogs({ fromBlock: "0x0", topics: [null, null, word(y)] });
    expect(hashes(toY)).toEqual(sent.filter((s) => s.to === y).map((s) => s.hash));
    expect(await getLogs({ fromBlock: "0x0", topics: [TRANSFER_TOPIC, null, null, TRANSFER_TOPIC] })).toEqual([]);
    expect(await getLogs({ fromBlock: "0x0", topics: [word(a0)] })).toEqual([]);
  });

  it("restricts to a numeric range", async () => {
    expect(hashes(await getLogs({ fromBlock: "0x2", toBlock: "0x3" }))).toEqual(sent.filter((s) => s.block === 2).map((s) => s.hash));
    // a range reaching past the head stops at the head
    expect(hashes(await getLogs({ fromBlock: "0x4", toBlock: "0xffffff" }))).toHaveLength(3);
    expect(await getLogs({ fromBlock: "0x100", toBlock: "0x200" })).toEqual([]);
  });

  it("reads one block by blockHash, and refuses an unknown hash or a hash with a range", async () => {
    expect(hashes(await getLogs({ blockHash: blocks[1]!.hash }))).toEqual(sent.filter((s) => s.block === 1).map((s) => s.hash));
    expect(await getLogs({ blockHash: blocks[3]!.hash })).toEqual([]);
    const unknown = await rpcError(getLogs({ blockHash: `0x${"ee".repeat(32)}` }));
    expect([unknown.code, unknown.message]).toEqual([RpcErrorCode.SERVER_ERROR, "unknown block"]);
    const both = await rpcError(getLogs({ blockHash: blocks[1]!.hash, fromBlock: "0x1" }));
    expect(both.code).toBe(RpcErrorCode.INVALID_PARAMS);
    expect(both.message).toBe("invalid argument 0: cannot specify both blockHash and fromBlock/toBlock, choose one or the other");
  });

  it("refuses fromBlock after toBlock with -32602", async () => {
    const e = await rpcError(getLogs({ fromBlock: "0x3", toBlock: "0x2" }));
    expect(e.code).toBe(RpcErrorCode.INVALID_PARAMS);
    expect(e.message).toBe("invalid block range: fromBlock 3 is after toBlock 2");
    expect((await rpcError(getLogs({ fromBlock: "latest", toBlock: "0x1" }))).code).toBe(RpcErrorCode.INVALID_PARAMS);
  });

  it("refuses malformed filters naming the field", async () => {
    const e = await rpcError(getLogs({ topics: ["0x1234"] }));
    expect([e.code, e.message]).toEqual([RpcErrorCode.INVALID_PARAMS, "invalid argument 0: topics[0]: hash must be 32 bytes (64 hex digits), got 4 hex digits"]);
    expect((await rpcError(rpc.call("eth_getLogs", []))).message).toBe("missing value for required argument 0 (filter)");
  });

  it("limits the block range to 10,000 blocks and the results to 10,000 logs (-32005)", async () => {
    expect(defaultLogLimits).toEqual({ maxBlockRange: 10_000, maxResults: 10_000 });
    expect(rpc.filters.logLimits).toEqual(defaultLogLimits);
    const small = api(ledger, { logLimits: { maxBlockRange: 3, maxResults: 3 } });
    const range = await rpcError(small.call("eth_getLogs", [{ fromBlock: "0x0", toBlock: "0x3" }]));
    expect([range.code, range.message]).toEqual([RpcErrorCode.LIMIT_EXCEEDED, "block range of 4 exceeds the limit of 3"]);
    expect(await small.call("eth_getLogs", [{ fromBlock: "0x1", toBlock: "0x3" }])).toHaveLength(3);
    const results = await rpcError(small.call("eth_getLogs", [{ fromBlock: "0x2", toBlock: "0x4" }]));
    expect([results.code, results.message]).toEqual([RpcErrorCode.LIMIT_EXCEEDED, "query returned more than 3 results"]);
    expect(await small.call("eth_getLogs", [{ fromBlock: "0x3", toBlock: "0x4" }])).toHaveLength(3);
    // the same limits for a filter's logs
    const id = await small.call("eth_newFilter", [{ fromBlock: "0x0", toBlock: "0x3" }]);
    expect((await rpcError(small.call("eth_getFilterLogs", [id]))).message).toBe("block range of 4 exceeds the limit of 3");
  });
});

describe("polling filters", () => {
  it("a block filter returns each new canonical block hash once, and a bounded buffer keeps the newest", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger, { maxChanges: 2 });
    const id = (await rpc.call("eth_newBlockFilter")) as Hex;
    expect(id).toMatch(/^0x[1-9a-f][0-9a-f]{0,31}$/);
    expect(await rpc.call("eth_getFilterChanges", [id])).toEqual([]);
    const b1 = await mine(ledger);
    const b2 = await mine(ledger);
    expect(await rpc.call("eth_getFilterChanges", [id])).toEqual([b1.hash, b2.hash]);
    expect(await rpc.call("eth_getFilterChanges", [id])).toEqual([]);
    const more = [await mine(ledger), await mine(ledger), await mine(ledger)];
    expect(await rpc.call("eth_getFilterChanges", [id])).toEqual([more[1]!.hash, more[2]!.hash]);
    // a block filter has no logs to list
    expect((await rpcError(rpc.call("eth_getFilterLogs", [id]))).message).toBe("filter not found");
  });

  it("a pending filter returns the hashes of transactions entering the pool", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger);
    const id = await rpc.call("eth_newPendingTransactionFilter");
    const h1 = await transfer(ledger, 0, addr(Wallet.createRandom()), ONE_VS);
    const h2 = await transfer(ledger, 1, addr(Wallet.createRandom()), ONE_VS);
    expect(await rpc.call("eth_getFilterChanges", [id])).toEqual([h1, h2]);
    expect(await rpc.call("eth_getFilterChanges", [id])).toEqual([]);
  });

  it("a log filter returns new matching logs, then after a reorg the dropped block's logs with removed: true before the new branch's", async () => {
    const genesis = await testGenesis();
    const [a, closeA] = await openLedger(genesis);
    const [b, closeB] = await openLedger(genesis);
    closers.push(closeA, closeB);
    const rpc = api(a);
    const x = addr(Wallet.createRandom());
    const all = await rpc.call("eth_newFilter", [{ address: NATIVE_TOKEN_ADDRESS }]);
    const toX = await rpc.call("eth_newFilter", [{ topics: [TRANSFER_TOPIC, null, word(x)] }]);
    const fromSeven = await rpc.call("eth_newFilter", [{ fromBlock: "0x7" }]);

    const onA = await transfer(a, 0, x, 5n * ONE_VS);
    const a1 = await mine(a);
    const seen = (await rpc.call("eth_getFilterChanges", [all])) as LogJson[];
    expect(seen.map((l) => [l.transactionHash, l.blockHash, l.removed])).toEqual([[onA, a1.hash, false]]);

    // a heavier branch from genesis, mined elsewhere, carrying another transfer
    const onB = await transfer(b, 1, addr(Wallet.createRandom()), 7n * ONE_VS);
    const branch = [await mine(b, devWallet(8)), await mine(b, devWallet(8))];
    for (const block of branch) await a.importBlock(block);
    await a.settled();
    expect(a.chain.head.hash).toBe(branch[1]!.hash);

    const afterReorg = (await rpc.call("eth_getFilterChanges", [all])) as LogJson[];
    expect(afterReorg.map((l) => [l.transactionHash, l.blockHash, l.removed])).toEqual([
      [onA, a1.hash, true],
      [onB, branch[0]!.hash, false],
    ]);
    expect(afterReorg[0]).toEqual({ ...seen[0], removed: true });
    const xLogs = (await rpc.call("eth_getFilterChanges", [toX])) as LogJson[];
    expect(xLogs.map((l) => [l.transactionHash, l.removed])).toEqual([
      [onA, false],
      [onA, true],
    ]);
    // numeric bounds apply to live logs too
    expect(await rpc.call("eth_getFilterChanges", [fromSeven])).toEqual([]);
    // eth_getFilterLogs queries the chain as it is now
    const now = (await rpc.call("eth_getFilterLogs", [all])) as LogJson[];
    expect(now.map((l) => l.transactionHash)).toEqual([]);
    const ranged = await rpc.call("eth_newFilter", [{ fromBlock: "earliest", address: NATIVE_TOKEN_ADDRESS }]);
    expect(((await rpc.call("eth_getFilterLogs", [ranged])) as LogJson[]).map((l) => l.transactionHash)).toEqual([onB]);
  });

  it("a log filter sees nothing of head changes before it was installed", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger);
    const early = await rpc.call("eth_newFilter", [{}]);
    await transfer(ledger, 0, addr(Wallet.createRandom()), ONE_VS);
    // install the second filter while the first block's logs are still being read for the first
    const imported = new Promise<unknown>((resolve) => {
      const onHead = (): void => {
        ledger.chain.off(ChainEvent.newHead, onHead);
        resolve(rpc.call("eth_newFilter", [{}]));
      };
      ledger.chain.on(ChainEvent.newHead, onHead);
    });
    await mine(ledger);
    const late = await imported;
    expect(await rpc.call("eth_getFilterChanges", [early])).toHaveLength(1);
    expect(await rpc.call("eth_getFilterChanges", [late])).toEqual([]);
  });

  it("uninstalls a filter once (true, then false), and answers 'filter not found' after", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger);
    const id = await rpc.call("eth_newBlockFilter");
    expect(await rpc.call("eth_uninstallFilter", [id])).toBe(true);
    expect(await rpc.call("eth_uninstallFilter", [id])).toBe(false);
    const e = await rpcError(rpc.call("eth_getFilterChanges", [id]));
    expect([e.code, e.message]).toEqual([RpcErrorCode.SERVER_ERROR, "filter not found"]);
    expect(await rpc.call("eth_uninstallFilter", ["0xabc"])).toBe(false);
    expect((await rpcError(rpc.call("eth_uninstallFilter", ["abc"]))).message).toBe("invalid argument 0: id must be a hex quantity");
  });

  it("expires a filter not polled for 5 minutes, and polling keeps it alive", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    let now = 1_000_000;
    const rpc = api(ledger, { now: () => now });
    const polled = await rpc.call("eth_newBlockFilter");
    const idle = await rpc.call("eth_newPendingTransactionFilter");
    const swept = await rpc.call("eth_newFilter", [{}]);
    now += 4 * 60_000;
    expect(await rpc.call("eth_getFilterChanges", [polled])).toEqual([]);
    now += 60_000 + 1;
    // 5 minutes and 1 ms since `idle` and `swept` were last used; `polled` was used a minute ago
    expect((await rpcError(rpc.call("eth_getFilterChanges", [idle]))).message).toBe("filter not found");
    expect(rpc.filters.size).toBe(2);
    rpc.filters.sweep();
    expect(rpc.filters.size).toBe(1);
    expect((await rpcError(rpc.call("eth_getFilterLogs", [swept]))).message).toBe("filter not found");
    expect(await rpc.call("eth_getFilterChanges", [polled])).toEqual([]);
    now += 5 * 60_000;
    expect(await rpc.call("eth_getFilterChanges", [polled])).toEqual([]);
    now += 5 * 60_000 + 1;
    rpc.filters.sweep();
    expect(rpc.filters.size).toBe(0);
  });

  it("caps filters at 100 per connection (-32005), counts HTTP in one shared bucket, and drops a connection's filters on close", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const rpc = api(ledger, { maxHttp: 3 });
    const c1 = fakeConnection("ws-1");
    const c2 = fakeConnection("ws-2");
    for (let i = 0; i < 100; i++) await rpc.call(i % 2 ? "eth_newBlockFilter" : "eth_newFilter", i % 2 ? [] : [{}], c1);
    const e = await rpcError(rpc.call("eth_newPendingTransactionFilter", [], c1));
    expect([e.code, e.message]).toEqual([RpcErrorCode.LIMIT_EXCEEDED, "too many filters: at most 100 per connection"]);
    const other = await rpc.call("eth_newBlockFilter", [], c2);
    for (let i = 0; i < 3; i++) await rpc.call("eth_newBlockFilter");
    const http = await rpcError(rpc.call("eth_newBlockFilter"));
    expect([http.code, http.message]).toEqual([RpcErrorCode.LIMIT_EXCEEDED, "too many filters: at most 3 over HTTP"]);
    expect(rpc.filters.size).toBe(104);
    // filter ids are not bound to a connection: another one may poll it
    expect(await rpc.call("eth_getFilterChanges", [other])).toEqual([]);
    c1.close();
    expect(rpc.filters.size).toBe(4);
    // a call still in flight when its connection closed leaves nothing behind
    await rpc.call("eth_newBlockFilter", [], c1);
    expect(rpc.filters.size).toBe(4);
    expect(await rpc.call("eth_newBlockFilter", [], c2)).toMatch(/^0x/);
  });

  it("stop() removes its chain and pool listeners", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const heads = ledger.chain.listenerCount(ChainEvent.newHead);
    const adds = ledger.pool.listenerCount(TxPoolEvent.added);
    const filters = new FilterManager({}, { chain: ledger.chain, pool: ledger.pool });
    filters.start();
    filters.start();
    expect(ledger.chain.listenerCount(ChainEvent.newHead)).toBe(heads + 1);
    expect(ledger.pool.listenerCount(TxPoolEvent.added)).toBe(adds + 1);
    filters.stop();
    filters.stop();
    expect(ledger.chain.listenerCount(ChainEvent.newHead)).toBe(heads);
    expect(ledger.pool.listenerCount(TxPoolEvent.added)).toBe(adds);
  });
});

describe("filter memory bounds", () => {
  it("keeps all filters' buffered changes under maxChangesTotal, and only polling keeps a filter alive", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    let clock = 0;
    const { call, filters } = api(ledger, { maxChangesTotal: 10, now: () => clock });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await call("eth_newPendingTransactionFilter")) as Hex);
    for (let i = 0; i < 6; i++) await transfer(ledger, 1, addr(devWallet(5)), 1n);
    const sizes = await Promise.all(ids.map(async (id) => ((await call("eth_getFilterChanges", [id])) as Hex[]).length));
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10);
    expect(sizes.every((n) => n > 0)).toBe(true);

    // eth_getFilterLogs reads a log filter without keeping it alive; eth_getFilterChanges does
    const logFilter = (await call("eth_newFilter", [{}])) as Hex;
    clock += 4 * 60_000;
    await call("eth_getFilterLogs", [logFilter]);
    clock += 2 * 60_000;
    filters.sweep();
    await expect(call("eth_getFilterChanges", [logFilter])).rejects.toThrow("filter not found");
  });
});
