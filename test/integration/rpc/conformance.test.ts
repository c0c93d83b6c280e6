import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { JsonRpcProvider, Transaction, Wallet, parseEther } from "ethers";
import { NATIVE_TOKEN_ADDRESS, TRANSFER_TOPIC, type Block, type Hex } from "../../../chain/index.js";
import type { VsNode } from "../../../node/node.js";
import { RpcErrorCode } from "../../../rpc/rpcError.js";
import { devAddress, devWallet, sendTransfer } from "../../helpers/ledger.js";
import { mineAs } from "../../helpers/mine.js";
import { startTestNode } from "../../helpers/node.js";
import { httpCall, rpcError, type RpcCall } from "../../helpers/rpcClient.js";
import { expectValidResult } from "../../helpers/spec.js";

// The eth_ methods of a whole node (RocksDB, the real server) as clients call them: every answer
// `call` gets is checked against the execution-apis schema (test/helpers/spec.ts), and ethers v6
// reads the node's refusals as the error codes its users handle.

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const GWEI = 10n ** 9n;
const word = (a: Hex): Hex => `0x${a.slice(2).padStart(64, "0")}`;
const hex = (n: bigint): Hex => `0x${n.toString(16)}`;

describe("filter methods of a whole node, in the execution-apis shape", () => {
  let node: VsNode;
  let call: RpcCall;
  let provider: JsonRpcProvider;
  let transferBlock: Block;
  const [dev0, dev1, dev2] = [devAddress(0), devAddress(1), devAddress(2)];

  beforeAll(async () => {
    const [n, close] = await startTestNode({ mine: false });
    closers.push(close);
    node = n;
    call = httpCall(node.rpc!.url);
    // ethers' send passes the answer through untouched: for the empty lists the spec's own
    // FilterResults schema cannot check (`[]` matches both of its oneOf branches)
    provider = new JsonRpcProvider(node.rpc!.url, 1984, { staticNetwork: true });
    closers.push(async () => provider.destroy());
    await mineAs(node.ledger, 9); // block 1: empty
    await sendTransfer(node.ledger, 0, dev1, parseEther("1"), 0);
    transferBlock = await mineAs(node.ledger, 8); // block 2: dev0 -> dev1
    await mineAs(node.ledger, 7); // block 3: empty
  });

  it("installs log, block and pending filters and answers their changes, logs and removal", async () => {
    const logFilter = await call("eth_newFilter", { address: NATIVE_TOKEN_ADDRESS, topics: [TRANSFER_TOPIC, null, [word(dev1), word(dev2)]] });
    const wideFilter = await call("eth_newFilter", { fromBlock: "earliest", topics: [[TRANSFER_TOPIC], [word(dev0)]] });
    const blockFilter = await call("eth_newBlockFilter");
    const pendingFilter = await call("eth_newPendingTransactionFilter");
    const tx = await sendTransfer(node.ledger, 0, dev2, 5n, 1);
    const block = await mineAs(node.ledger, 9);
    await node.ledger.settled();

    const changes = (await call("eth_getFilterChanges", logFilter)) as { transactionHash: Hex; blockHash: Hex; topics: Hex[]; removed: boolean }[];
    expect(changes.map((l) => [l.transactionHash, l.blockHash, l.topics[2], l.removed])).toEqual([[tx, block.hash, word(dev2), false]]);
    expect(await call("eth_getFilterChanges", blockFilter)).toEqual([block.hash]);
    expect(await call("eth_getFilterChanges", pendingFilter)).toEqual([tx]);
    // a second poll has nothing new
    for (const id of [logFilter, blockFilter, pendingFilter]) expect(await provider.send("eth_getFilterChanges", [id])).toEqual([]);
    // the filter's whole range: both of dev0's transfers, in chain order
    const logs = (await call("eth_getFilterLogs", wideFilter)) as { transactionHash: Hex; blockNumber: Hex; logIndex: Hex }[];
    expect(logs.map((l) => l.blockNumber)).toEqual([hex(transferBlock.header.number), hex(block.header.number)]);
    expect(logs[1]!.transactionHash).toBe(tx);

    for (const id of [logFilter, wideFilter, blockFilter, pendingFilter]) expect(await call("eth_uninstallFilter", id)).toBe(true);
    expect(await call("eth_uninstallFilter", logFilter)).toBe(false);
    const gone = await rpcError(call("eth_getFilterChanges", logFilter));
    expect([gone.code, gone.message]).toEqual([RpcErrorCode.SERVER_ERROR, "filter not found"]);
  });

  it("answers eth_getLogs by block hash and with null and list topics", async () => {
    const byHash = (await call("eth_getLogs", { blockHash: transferBlock.hash })) as { blockHash: Hex; transactionIndex: Hex; logIndex: Hex }[];
    expect(byHash.map((l) => [l.blockHash, l.transactionIndex, l.logIndex])).toEqual([[transferBlock.hash, "0x0", "0x0"]]);
    const range = { fromBlock: "0x0", toBlock: hex(transferBlock.header.number) };
    // null is "anything here", a list is "any of these", a null inside a list is anything too
    for (const topics of [[null, word(dev0)], [[TRANSFER_TOPIC, `0x${"ab".repeat(32)}`], null, word(dev1)], [null, [null, word(dev2)]], [[]]]) {
      expect(((await call("eth_getLogs", { ...range, topics })) as unknown[]).length).toBe(1);
    }
    expect(await provider.send("eth_getLogs", [{ ...range, topics: [null, word(dev1)] }])).toEqual([]);
    expect(await provider.send("eth_getLogs", [{ blockHash: node.ledger.chain.genesisHash }])).toEqual([]);
  });

  it("answers [] for a range that starts after the head, as a client polling from its last block + 1 asks", async () => {
    const head = node.ledger.chain.head.header.number;
    for (const filter of [{ fromBlock: hex(head + 1n) }, { fromBlock: hex(head + 1n), toBlock: "latest" }, { fromBlock: hex(head + 1n), toBlock: "pending" }]) {
      expect(await provider.send("eth_getLogs", [filter])).toEqual([]);
    }
    const id = await call("eth_newFilter", { fromBlock: hex(head + 1n), toBlock: "latest" });
    expect(await provider.send("eth_getFilterLogs", [id])).toEqual([]);
    // an inverted range is still refused
    const numbers = await rpcError(call("eth_getLogs", { fromBlock: hex(head + 5n), toBlock: hex(head + 2n) }));
    expect([numbers.code, numbers.message]).toEqual([RpcErrorCode.INVALID_PARAMS, `invalid block range: fromBlock ${head + 5n} is after toBlock ${head + 2n}`]);
    expect((await rpcError(call("eth_getLogs", { fromBlock: "latest", toBlock: "0x1" }))).code).toBe(RpcErrorCode.INVALID_PARAMS);
  });
});

describe("block, transaction and fee answers of a whole node, in the execution-apis shape", () => {
  let node: VsNode;
  let call: RpcCall;

  beforeAll(async () => {
    const [n, close] = await startTestNode({ mine: false });
    closers.push(close);
    node = n;
    call = httpCall(node.rpc!.url);
    await mineAs(node.ledger, 9);
    await sendTransfer(node.ledger, 0, devAddress(1), 1n, 0);
    await mineAs(node.ledger, 8);
    await mineAs(node.ledger, 7);
  });

  it("takes eth_feeHistory's block count as a hex quantity, a JSON integer or a decimal string, as geth does", async () => {
    const hexCount = await call("eth_feeHistory", "0x2", "latest", [25, 75]);
    expect(await call("eth_feeHistory", 2, "latest", [25, 75])).toEqual(hexCount);
    expect(await call("eth_feeHistory", "2", "latest", [25, 75])).toEqual(hexCount);
    expect((hexCount as { gasUsedRatio: number[] }).gasUsedRatio).toHaveLength(2);
    const bad = await rpcError(call("eth_feeHistory", "two", "latest"));
    expect([bad.code, bad.message]).toEqual([RpcErrorCode.INVALID_PARAMS, "invalid argument 0: hex string without 0x prefix"]);
  });

  it("answers eth_call and eth_estimateGas for the odd requests clients send", async () => {
    const [from, to] = [devAddress(0), devAddress(1)];
    const head = node.ledger.chain.head.hash;
    // an empty object, empty data under both names, zero value, explicit nulls, fields of other
    // transaction types (ignored), an optional block given as null or as an EIP-1898 object
    for (const [req, block] of [
      [{}, undefined],
      [{ to, input: "0x", data: "0x", value: "0x0" }, null],
      [{ from, to, gas: null, gasPrice: null, nonce: "0x0", blobVersionedHashes: [], authorizationList: [] }, { blockHash: head }],
      [{ from, to, type: "0x1", chainId: "0x7c0" }, "pending"],
    ] as const) {
      expect(await call("eth_call", req, block)).toBe("0x");
    }
    expect(await call("eth_estimateGas", { from, to, gas: "0xffffffffffffffff", type: "0x2", maxFeePerGas: null })).toBe("0x5208");
    expect(await call("eth_estimateGas", { to, data: "0x", input: "0x" }, { blockNumber: "0x1" })).toBe("0x5208");
    const created = await rpcError(call("eth_estimateGas", {}));
    expect([created.code, created.message]).toEqual([RpcErrorCode.SERVER_ERROR, expect.stringMatching(/^contract creation is not supported/)]);
    const low = await rpcError(call("eth_call", { to, gas: "0x0" }));
    expect([low.code, low.message]).toEqual([RpcErrorCode.SERVER_ERROR, expect.stringMatching(/^intrinsic gas too low/)]);
    const both = await rpcError(call("eth_call", { to, input: "0x01", data: "0x02" }));
    expect(both.code).toBe(RpcErrorCode.INVALID_PARAMS);
  });

  it("answers every block selector for a block with and without transactions", async () => {
    const withTx = (await call("eth_getBlockByNumber", "0x2", true)) as { hash: Hex; transactions: { blockHash: Hex }[] };
    expect(withTx.transactions.map((t) => t.blockHash)).toEqual([withTx.hash]);
    expect(await call("eth_getBlockByNumber", "0x3", true)).toMatchObject({ number: "0x3", transactions: [] });
    for (const sel of ["0x2", withTx.hash, { blockHash: withTx.hash }, { blockNumber: "0x2" }, { blockHash: withTx.hash, requireCanonical: true }]) {
      expect(((await call("eth_getBlockReceipts", sel)) as { blockHash: Hex }[]).map((r) => r.blockHash)).toEqual([withTx.hash]);
    }
    expect(await call("eth_getBlockReceipts", "0x3")).toEqual([]);
    expect(await call("eth_getTransactionByBlockNumberAndIndex", "0x2", "0x1")).toBeNull();
    expect(await call("eth_getTransactionByBlockNumberAndIndex", "latest", "0x0")).toBeNull();
    expect(await call("eth_getTransactionByBlockHashAndIndex", withTx.hash, "0x0")).toEqual(withTx.transactions[0]);
    // EIP-1898 objects with the unused members written as null (serialisers that write every field)
    const balance = await call("eth_getBalance", devAddress(1), "0x2");
    for (const sel of [{ blockHash: withTx.hash, blockNumber: null }, { blockNumber: "0x2", blockHash: null }, { blockHash: withTx.hash, requireCanonical: null }]) {
      expect(await call("eth_getBalance", devAddress(1), sel)).toBe(balance);
    }
    for (const [sel, message] of [
      [{ blockHash: withTx.hash, blockNumber: "0x2" }, "invalid argument 1: cannot specify both blockHash and blockNumber, choose one or the other"],
      [{ blockHash: null }, "invalid argument 1: block must be a tag, a hex block number, or an object with blockHash or blockNumber"],
      [{ blockHash: withTx.hash, requireCanonical: "yes" }, "invalid argument 1: requireCanonical must be a boolean"],
    ] as const) {
      const e = await rpcError(call("eth_getBalance", devAddress(1), sel));
      expect([e.code, e.message]).toEqual([RpcErrorCode.INVALID_PARAMS, message]);
    }
    // the spec check refuses what these methods must not answer
    expect(() => expectValidResult("eth_getBlockReceipts", [{ blockHash: withTx.hash }])).toThrow(/does not match/);
  });
});

describe("ethers v6 error codes from the node's refusals", () => {
  let node: VsNode;
  let provider: JsonRpcProvider;

  beforeAll(async () => {
    const [n, close] = await startTestNode({ mine: false });
    closers.push(close);
    node = n;
    provider = new JsonRpcProvider(node.rpc!.url, 1984, { staticNetwork: true });
    closers.push(async () => provider.destroy());
    await mineAs(node.ledger, 9);
  });

  /** The `code` of the error ethers raises for `p`. */
  async function ethersCode(p: Promise<unknown>): Promise<[string, string]> {
    try {
      await p;
    } catch (e) {
      const err = e as Error & { code: string; error?: { message: string } };
      return [err.code, err.error?.message ?? err.message];
    }
    throw new Error("expected ethers to throw");
  }

  it("raises NONCE_EXPIRED, INSUFFICIENT_FUNDS and REPLACEMENT_UNDERPRICED where users expect them", async () => {
    const sender = new Wallet(devWallet(3).privateKey, provider);
    const to = devAddress(4);
    const fees = { maxFeePerGas: 3n * GWEI, maxPriorityFeePerGas: GWEI, gasLimit: 21000n, chainId: 1984n, type: 2 };
    await provider.broadcastTransaction(await sender.signTransaction({ ...fees, to, value: 1n, nonce: 0 }));
    await mineAs(node.ledger, 8);
    // a Wallet send (estimateGas, then eth_sendRawTransaction) and a signed broadcast
    expect((await ethersCode(sender.sendTransaction({ to, value: 1n, nonce: 0 })))[0]).toBe("NONCE_EXPIRED");
    expect((await ethersCode(provider.broadcastTransaction(await sender.signTransaction({ ...fees, to, value: 1n, nonce: 0 }))))[0]).toBe("NONCE_EXPIRED");
    expect((await ethersCode(sender.sendTransaction({ to, value: parseEther("1000000") })))[0]).toBe("INSUFFICIENT_FUNDS");
    const huge = await sender.signTransaction({ ...fees, to, value: parseEther("1000000"), nonce: 1 });
    expect((await ethersCode(provider.broadcastTransaction(huge)))[0]).toBe("INSUFFICIENT_FUNDS");
    await provider.broadcastTransaction(await sender.signTransaction({ ...fees, to, value: 1n, nonce: 1 }));
    const same = await sender.signTransaction({ ...fees, to, value: 2n, nonce: 1 });
    expect((await ethersCode(provider.broadcastTransaction(same)))[0]).toBe("REPLACEMENT_UNDERPRICED");
    // a fee cap under the base fee: geth's words (ethers has no code of its own for it)
    const cheap = await sender.signTransaction({ ...fees, maxFeePerGas: GWEI / 2n, maxPriorityFeePerGas: 1n, to, value: 1n, nonce: 2 });
    expect(await ethersCode(provider.broadcastTransaction(cheap))).toEqual(["UNKNOWN_ERROR", expect.stringMatching(/^max fee per gas less than block base fee: /)]);
    // an access list transaction (type 1): geth's "transaction type not supported"
    const type1 = Transaction.from({ type: 1, chainId: 1984n, nonce: 2, to, value: 1n, gasLimit: 21000n, gasPrice: 2n * GWEI });
    type1.signature = sender.signingKey.sign(type1.unsignedHash);
    expect((await ethersCode(provider.broadcastTransaction(type1.serialized)))[1]).toMatch(/^transaction type not supported: unsupported transaction type 1/);
  });

  it("raises INSUFFICIENT_FUNDS from eth_estimateGas and for a dev account's eth_sendTransaction", async () => {
    const poor = Wallet.createRandom().address;
    expect((await ethersCode(provider.estimateGas({ from: poor, to: devAddress(1), value: 1n })))[0]).toBe("INSUFFICIENT_FUNDS");
    const signer = await provider.getSigner(devAddress(5));
    expect((await ethersCode(signer.sendTransaction({ to: devAddress(1), value: parseEther("1000000") })))[0]).toBe("INSUFFICIENT_FUNDS");
    const type1 = await ethersCode(provider.send("eth_sendTransaction", [{ from: devAddress(5), to: devAddress(1), type: "0x1" }]));
    expect(type1[1]).toMatch(/^transaction type not supported: type 1/);
  });
});
