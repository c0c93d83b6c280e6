import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  BaseError,
  FeeCapTooLowError,
  InsufficientFundsError,
  IntrinsicGasTooLowError,
  NonceTooHighError,
  NonceTooLowError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  parseAbiItem,
  parseEther,
  parseGwei,
  webSocket,
} from "viem";
import { type PrivateKeyAccount, mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { NATIVE_TOKEN_ADDRESS, type Hex } from "../../../chain/index.js";
import type { VsNode } from "../../../node/node.js";
import { DEV_MNEMONIC, devAddress, devWallet } from "../../helpers/ledger.js";
import { mineAs } from "../../helpers/mine.js";
import { waitFor } from "../../helpers/net.js";
import { startTestNode } from "../../helpers/node.js";

// viem 2's public and wallet actions end to end against a node on RocksDB: what a dApp built on
// viem calls, with the node's answers parsed by viem's own formatters and error classes.

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

/** The dev chain as viem describes chains (the URL is the transport's, given per client). */
const vsChain = defineChain({
  id: 1984,
  name: "VS1984 dev",
  nativeCurrency: { name: "VS", symbol: "VS", decimals: 18 },
  rpcUrls: { default: { http: ["http://127.0.0.1:8545"] } },
});
const publicClient = (url: string) => createPublicClient({ chain: vsChain, transport: http(url), pollingInterval: 50 });
const walletClient = (url: string, account: PrivateKeyAccount) => createWalletClient({ chain: vsChain, transport: http(url), account });

const TRANSFER = parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)");

describe("viem public and wallet clients against a dev node", () => {
  let node: VsNode;
  let client: ReturnType<typeof publicClient>;
  let wallet: ReturnType<typeof walletClient>;
  let url: string;
  const account = privateKeyToAccount(devWallet(0).privateKey as Hex);
  const to = devAddress(1);

  beforeAll(async () => {
    const [n, close] = await startTestNode({ mine: false });
    closers.push(close);
    node = n;
    url = node.rpc!.url;
    client = publicClient(url);
    wallet = walletClient(url, account);
    await mineAs(node.ledger, 9);
    await mineAs(node.ledger, 8);
  });

  it("derives the dev accounts from the mnemonic as the node funds them", async () => {
    expect(mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 0 }).address).toBe(account.address);
    expect(await client.getChainId()).toBe(1984);
    expect(await client.getBalance({ address: devAddress(6) })).toBe(parseEther("10000"));
  });

  it("reads blocks by tag, number and hash, with hashes or whole transactions", async () => {
    const head = node.ledger.chain.head;
    expect(await client.getBlockNumber({ cacheTime: 0 })).toBe(head.header.number);
    const latest = await client.getBlock();
    expect([latest.number, latest.hash]).toEqual([head.header.number, head.hash]);
    expect((await client.getBlock({ blockTag: "pending" })).hash).toBe(head.hash);
    expect((await client.getBlock({ blockTag: "earliest" })).number).toBe(0n);
    const below = (depth: bigint): bigint => (head.header.number > depth ? head.header.number - depth : 0n);
    expect((await client.getBlock({ blockTag: "safe" })).number).toBe(below(6n));
    expect((await client.getBlock({ blockTag: "finalized" })).number).toBe(below(24n));
    const byNumber = await client.getBlock({ blockNumber: 1n });
    expect(await client.getBlock({ blockHash: byNumber.hash })).toEqual(byNumber);
    const full = await client.getBlock({ blockNumber: 1n, includeTransactions: true });
    expect(full.transactions).toEqual([]);
    expect(await client.getBlockTransactionCount({ blockNumber: 1n })).toBe(0);
    expect(latest.baseFeePerGas).toBe(parseGwei("1"));
  });

  it("signs locally, sends raw, and follows the transfer from the pool to its receipt and logs", async () => {
    const nonce = await client.getTransactionCount({ address: account.address, blockTag: "pending" });
    const request = await wallet.prepareTransactionRequest({ to, value: parseEther("1.5") });
    expect([request.type, request.gas, request.nonce]).toEqual(["eip1559", 21000n, nonce]);
    const serializedTransaction = await wallet.signTransaction(request);
    const hash = await client.sendRawTransaction({ serializedTransaction });
    expect(await client.getTransactionCount({ address: account.address, blockTag: "pending" })).toBe(nonce + 1);
    expect(await client.getTransactionCount({ address: account.address })).toBe(nonce);
    const pending = await client.getTransaction({ hash });
    expect([pending.blockNumber, pending.blockHash, pending.from.toLowerCase(), pending.value]).toEqual([null, null, devAddress(0), parseEther("1.5")]);

    const waiting = client.waitForTransactionReceipt({ hash, pollingInterval: 50, timeout: 20_000 });
    const block = await mineAs(node.ledger, 7);
    const receipt = await waiting;
    expect(receipt).toMatchObject({ status: "success", blockHash: block.hash, blockNumber: block.header.number, gasUsed: 21000n, transactionIndex: 0, type: "eip1559" });
    expect(await client.getTransactionReceipt({ hash })).toEqual(receipt);
    const mined = await client.getTransaction({ hash });
    expect([mined.blockHash, mined.blockNumber, mined.transactionIndex]).toEqual([block.hash, block.header.number, 0]);
    expect(await client.getTransaction({ blockNumber: block.header.number, index: 0 })).toEqual(mined);
    expect(await client.getTransactionConfirmations({ hash })).toBe(1n);

    const logs = await client.getLogs({ address: NATIVE_TOKEN_ADDRESS, event: TRANSFER, args: { to }, fromBlock: 0n });
    expect(logs.map((l) => [l.transactionHash, l.args.from?.toLowerCase(), l.args.value])).toEqual([[hash, devAddress(0), parseEther("1.5")]]);
    expect(await client.getLogs({ blockHash: block.hash })).toHaveLength(1);
    expect(await client.getLogs({ address: NATIVE_TOKEN_ADDRESS, event: TRANSFER, args: { from: devAddress(5) }, fromBlock: 0n })).toEqual([]);
    const full = await client.getBlock({ blockHash: block.hash, includeTransactions: true });
    expect(full.transactions.map((t) => t.hash)).toEqual([hash]);
  });

  it("sends through a wallet client's local account, nonce and fees filled from the node", async () => {
    const hash = await wallet.sendTransaction({ to, value: 7n });
    const waiting = client.waitForTransactionReceipt({ hash, pollingInterval: 50, timeout: 20_000 });
    await mineAs(node.ledger, 9);
    expect((await waiting).status).toBe("success");
  });

  it("estimates fees and gas, and reports fee history with reward percentiles", async () => {
    const tip = await client.estimateMaxPriorityFeePerGas();
    expect(tip).toBe(BigInt((await client.request({ method: "eth_maxPriorityFeePerGas" })) as string));
    const fees = await client.estimateFeesPerGas();
    expect(fees.maxPriorityFeePerGas).toBe(tip);
    expect(fees.maxFeePerGas).toBeGreaterThanOrEqual(parseGwei("1") + tip);
    expect((await client.estimateFeesPerGas({ type: "legacy" })).gasPrice).toBeGreaterThanOrEqual(parseGwei("1"));
    expect(await client.estimateGas({ account: account.address, to, value: 1n })).toBe(21000n);
    expect(await client.estimateGas({ account: account.address, to, data: "0x00ff" })).toBe(21020n);
    const head = await client.getBlockNumber({ cacheTime: 0 });
    const history = await client.getFeeHistory({ blockCount: 3, rewardPercentiles: [25, 75] });
    expect(history.oldestBlock).toBe(head - 2n);
    expect(history.baseFeePerGas).toEqual(Array(4).fill(parseGwei("1")));
    expect(history.gasUsedRatio).toHaveLength(3);
    expect(history.reward).toHaveLength(3);
  });

  it("watches block numbers and blocks by HTTP polling and over WebSocket", async () => {
    const ws = createPublicClient({ chain: vsChain, transport: webSocket(url.replace(/^http/, "ws")) });
    closers.push(async () => (await ws.transport.getRpcClient()).close());
    const start = node.ledger.chain.head.header.number;
    const seen = { httpNumbers: [] as bigint[], httpBlocks: [] as bigint[], wsNumbers: [] as bigint[], wsBlocks: [] as bigint[] };
    const errors: Error[] = [];
    const record = (list: bigint[], n: bigint | null): void => {
      if (n !== null) list.push(n);
    };
    const stops = [
      client.watchBlockNumber({ poll: true, pollingInterval: 50, onBlockNumber: (n) => record(seen.httpNumbers, n), onError: (e) => errors.push(e) }),
      client.watchBlocks({ pollingInterval: 50, onBlock: (b) => record(seen.httpBlocks, b.number), onError: (e) => errors.push(e) }),
      ws.watchBlockNumber({ onBlockNumber: (n) => record(seen.wsNumbers, n), onError: (e) => errors.push(e) }),
      ws.watchBlocks({ onBlock: (b) => record(seen.wsBlocks, b.number), onError: (e) => errors.push(e) }),
    ];
    try {
      // the WebSocket watchers subscribe to newHeads a moment after they start: mine until both
      // have seen two blocks; the HTTP pollers, seeing every block, pace the loop
      for (let i = 0; i < 8 && !(seen.wsNumbers.length >= 2 && seen.wsBlocks.length >= 2); i++) {
        const block = await mineAs(node.ledger, 7 + (i % 3));
        const n = block.header.number;
        await waitFor(`the HTTP pollers to see block ${n}`, () => seen.httpNumbers.includes(n) && seen.httpBlocks.includes(n));
      }
    } finally {
      for (const stop of stops) stop();
    }
    expect(errors).toEqual([]);
    const head = node.ledger.chain.head.header.number;
    const range = (from: bigint): bigint[] => Array.from({ length: Number(head - from + 1n) }, (_, i) => from + BigInt(i));
    // the pollers start from the head they find, then see every block once, in order
    for (const list of [seen.httpNumbers, seen.httpBlocks]) expect(list.filter((n) => n > start)).toEqual(range(start + 1n));
    // the subscriptions see every block from the first one they are told of
    for (const list of [seen.wsNumbers, seen.wsBlocks]) {
      expect(list.length).toBeGreaterThanOrEqual(2);
      expect(list).toEqual(range(list[0]!));
    }
  });

  it("watches Transfer events and pending transactions by HTTP filters and over WebSocket subscriptions", async () => {
    const ws = createPublicClient({ chain: vsChain, transport: webSocket(url.replace(/^http/, "ws")) });
    closers.push(async () => (await ws.transport.getRpcClient()).close());
    const payee = devAddress(3);
    const seen = { httpLogs: new Map<Hex, bigint>(), wsLogs: new Map<Hex, bigint>(), httpPending: new Set<Hex>(), wsPending: new Set<Hex>() };
    const errors: Error[] = [];
    const onLogs = (into: Map<Hex, bigint>) => (logs: { transactionHash: Hex | null; args: { value?: bigint } }[]): void => {
      for (const l of logs) into.set(l.transactionHash!, l.args.value!);
    };
    const onPending = (into: Set<Hex>) => (hashes: Hex[]): void => {
      for (const h of hashes) into.add(h);
    };
    const stops = [
      client.watchEvent({ address: NATIVE_TOKEN_ADDRESS, event: TRANSFER, args: { to: payee }, onLogs: onLogs(seen.httpLogs), onError: (e) => errors.push(e) }),
      ws.watchEvent({ address: NATIVE_TOKEN_ADDRESS, event: TRANSFER, args: { to: payee }, onLogs: onLogs(seen.wsLogs), onError: (e) => errors.push(e) }),
      client.watchPendingTransactions({ onTransactions: onPending(seen.httpPending), onError: (e) => errors.push(e) }),
      ws.watchPendingTransactions({ onTransactions: onPending(seen.wsPending), onError: (e) => errors.push(e) }),
    ];
    // each watcher installs its filter or subscription a moment after it starts: send and mine
    // transfers until all four have seen the same one
    let last: Hex | null = null;
    const sawLast = (): boolean =>
      last !== null && seen.httpLogs.has(last) && seen.wsLogs.has(last) && seen.httpPending.has(last) && seen.wsPending.has(last);
    try {
      for (let i = 1n; i <= 6n && !sawLast(); i++) {
        last = await wallet.sendTransaction({ to: payee, value: i });
        await mineAs(node.ledger, 7 + Number(i % 3n));
        // a watcher that missed this transfer (not installed yet) will see the next one
        await waitFor("all four watchers to see the transfer", sawLast, 2_000).catch(() => undefined);
      }
    } finally {
      for (const stop of stops) stop();
    }
    expect(errors).toEqual([]);
    expect(sawLast()).toBe(true);
    const value = (await client.getTransaction({ hash: last! })).value;
    expect([seen.httpLogs.get(last!), seen.wsLogs.get(last!)]).toEqual([value, value]);
  });

  it("answers rejected transactions with the words behind viem's error classes", async () => {
    // its own sender with one mined transaction, so nonce 0 is spent whatever ran before
    const sender = privateKeyToAccount(devWallet(4).privateKey as Hex);
    const w = walletClient(url, sender);
    const base = { to, value: 1n, gas: 21000n, maxFeePerGas: parseGwei("3"), maxPriorityFeePerGas: parseGwei("1") };
    const first = await w.sendTransaction({ ...base, nonce: 0 });
    const mined = client.waitForTransactionReceipt({ hash: first, pollingInterval: 50, timeout: 20_000 });
    await mineAs(node.ledger, 9);
    await mined;
    const classOf = async (p: Promise<unknown>): Promise<unknown> => {
      try {
        await p;
      } catch (e) {
        if (!(e instanceof BaseError)) throw e;
        const known = [NonceTooLowError, NonceTooHighError, InsufficientFundsError, IntrinsicGasTooLowError, FeeCapTooLowError];
        return known.find((k) => e.walk((c) => c instanceof k) !== null) ?? e.walk();
      }
      throw new Error("expected the send to fail");
    };
    const nonce = await client.getTransactionCount({ address: sender.address, blockTag: "pending" });
    expect(nonce).toBe(1);
    expect(await classOf(w.sendTransaction({ ...base, nonce: 0 }))).toBe(NonceTooLowError);
    expect(await classOf(w.sendTransaction({ ...base, nonce: nonce + 1000 }))).toBe(NonceTooHighError);
    expect(await classOf(w.sendTransaction({ ...base, nonce, value: parseEther("1000000") }))).toBe(InsufficientFundsError);
    expect(await classOf(w.sendTransaction({ ...base, nonce, gas: 20_000n }))).toBe(IntrinsicGasTooLowError);
    // a fee cap under the base fee (1 gwei): geth's words, which viem's FeeCapTooLowError matches
    expect(await classOf(w.sendTransaction({ ...base, nonce, maxFeePerGas: parseGwei("0.5"), maxPriorityFeePerGas: 1n }))).toBe(FeeCapTooLowError);
    const poor = privateKeyToAccount(`0x${"42".repeat(32)}`);
    expect(await classOf(client.estimateGas({ account: poor.address, to, value: 1n }))).toBe(InsufficientFundsError);
    expect(await classOf(client.call({ account: poor.address, to, value: 1n }))).toBe(InsufficientFundsError);
  });
});
