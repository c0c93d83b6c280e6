import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { keccak256 } from "ethers";
import { CONTENT_REGISTRY_ADDRESS, type Hex } from "../../../chain/index.js";
import { devAccount } from "../../../node/devAccounts.js";
import type { VsNode } from "../../../node/node.js";
import { RpcErrorCode } from "../../../rpc/rpcError.js";
import { mineBlock } from "../../helpers/mine.js";
import { registry, sendModuleCall, signModuleCall, testContentHash } from "../../helpers/modules.js";
import { startTestNode } from "../../helpers/node.js";
import { httpCall, rpcError, type RpcCall } from "../../helpers/rpcClient.js";

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const miner = devAccount(9);
const hash32 = (): Hex => `0x${randomBytes(32).toString("hex")}`;

describe("content RPC: vs_getContent, vs_listContent, vs_subscribe", () => {
  let node: VsNode;
  let call: RpcCall;
  const hashes: Hex[] = [];
  const publishBlocks: bigint[] = [];

  beforeAll(async () => {
    const [n, close] = await startTestNode({ mine: false });
    closers.push(close);
    node = n;
    call = httpCall(node.rpc!.url);
    // contents 1, 2 by account 0 (blocks 1, 2), content 3 by account 3 (block 2), content 4 by account 0 (block 3)
    const publish = async (from: number, nonce: number, price: bigint): Promise<void> => {
      const h = testContentHash();
      hashes.push(h);
      await sendModuleCall(node.ledger, from, { data: registry.encodeFunctionData("publish", [h, 1, price, hash32(), 10n]), nonce });
    };
    await publish(0, 0, 1n);
    await mineBlock(node.ledger, miner.privateKey, miner.address);
    await publish(0, 1, 2n);
    await publish(3, 0, 3n);
    await mineBlock(node.ledger, miner.privateKey, miner.address);
    await publish(0, 2, 4n);
    await mineBlock(node.ledger, miner.privateKey, miner.address);
    publishBlocks.push(1n, 2n, 2n, 3n);
  });

  it("answers a content record with the block and transaction that published it, and null for an unknown id", async () => {
    const c = (await call("vs_getContent", "0x3")) as Record<string, unknown>;
    expect(c).toMatchObject({
      contentId: "0x3",
      author: devAccount(3).address,
      subchainId: "0x1",
      contentHash: hashes[2],
      price: "0x3",
      deliveryBlocks: "0xa",
      blockNumber: "0x2",
    });
    const block = (await call("eth_getBlockByNumber", "0x2", false)) as { hash: string; transactions: string[] };
    expect(c.blockHash).toBe(block.hash);
    expect(block.transactions).toContain(c.transactionHash);
    // block 2 seals the second sub-block of posts; both its transactions publish there, in block order
    const index = BigInt(block.transactions.indexOf(c.transactionHash as string));
    expect(c.subRef).toEqual({ word: `0x${((1n << 96n) | (2n << 32n) | index).toString(16)}`, subchainId: "0x1", subNumber: "0x2", index: `0x${index.toString(16)}` });
    for (const [i, n] of publishBlocks.entries()) expect(((await call("vs_getContent", `0x${(i + 1).toString(16)}`)) as { blockNumber: string }).blockNumber).toBe(`0x${n}`);
    expect(await call("vs_getContent", "0x0")).toBeNull();
    expect(await call("vs_getContent", "0x5")).toBeNull();
    expect((await rpcError(call("vs_getContent", "5"))).code).toBe(RpcErrorCode.INVALID_PARAMS);
  });

  it("lists content in publish order, a page at a time, by author and from a block", async () => {
    type Page = { items: { contentId: string; contentHash: string }[]; page: string; pageSize: string; total: string };
    const all = (await call("vs_listContent")) as Page;
    expect([all.total, all.items.map((i) => i.contentId)]).toEqual(["0x4", ["0x1", "0x2", "0x3", "0x4"]]);
    expect(all.items.map((i) => i.contentHash)).toEqual(hashes);
    const p1 = (await call("vs_listContent", { pageSize: "0x3", page: "0x1" })) as Page;
    expect([p1.total, p1.page, p1.pageSize, p1.items.map((i) => i.contentId)]).toEqual(["0x4", "0x1", "0x3", ["0x4"]]);
    const byAuthor = (await call("vs_listContent", { author: devAccount(0).address })) as Page;
    expect(byAuthor.items.map((i) => i.contentId)).toEqual(["0x1", "0x2", "0x4"]);
    const later = (await call("vs_listContent", { author: devAccount(0).address, fromBlock: "0x2" })) as Page;
    expect(later.items.map((i) => i.contentId)).toEqual(["0x2", "0x4"]);
    const bad = await rpcError(call("vs_listContent", { pageSize: "0x65" }));
    expect([bad.code, bad.message]).toEqual([RpcErrorCode.INVALID_PARAMS, "invalid argument 0: pageSize must be 1 to 100, got 101"]);
    expect((await rpcError(call("vs_listContent", { author: "0x12" }))).message).toMatch(/^invalid argument 0: author: address must be 20 bytes/);
    expect((await rpcError(call("vs_listContent", { colour: "red" }))).message).toBe('invalid argument 0: unknown field "colour"');
  });

  it("pushes keyDelivered to the chosen buyer and contentPublished over WebSocket, and refuses them over HTTP", async () => {
    const ws = new WebSocket(node.rpc!.wsUrl);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const messages: { id?: number; result?: unknown; method?: string; params?: { subscription: string; result: { topics: string[]; address: string } } }[] = [];
    ws.on("message", (d) => messages.push(JSON.parse(String(d)) as (typeof messages)[number]));
    const request = async (id: number, method: string, params: unknown[]): Promise<unknown> => {
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
      for (;;) {
        const m = messages.find((x) => x.id === id);
        if (m) return m.result;
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      const buyer = devAccount(1).address;
      const delivered = (await request(1, "vs_subscribe", ["keyDelivered", { buyer }])) as string;
      const published = (await request(2, "vs_subscribe", ["contentPublished"])) as string;
      await sendModuleCall(node.ledger, 1, { data: registry.encodeFunctionData("purchase", [1n]), value: 1n, nonce: 0 });
      await sendModuleCall(node.ledger, 2, { data: registry.encodeFunctionData("purchase", [1n]), value: 1n, nonce: 0 });
      await mineBlock(node.ledger, miner.privateKey, miner.address);
      await sendModuleCall(node.ledger, 0, { data: registry.encodeFunctionData("deliverKey", [1n, buyer, "0x01"]), nonce: 3 });
      await sendModuleCall(node.ledger, 0, { data: registry.encodeFunctionData("deliverKey", [1n, devAccount(2).address, "0x02"]), nonce: 4 });
      await sendModuleCall(node.ledger, 0, { data: registry.encodeFunctionData("publish", [testContentHash(), 2, 1n, hash32(), 10n]), nonce: 5 });
      await mineBlock(node.ledger, miner.privateKey, miner.address);
      await node.ledger.settled();
      for (let i = 0; i < 200 && messages.filter((m) => m.method === "eth_subscription").length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const notes = messages.filter((m) => m.method === "eth_subscription").map((m) => m.params!);
      expect(notes.map((n) => n.subscription).sort()).toEqual([delivered, published].sort());
      const key = notes.find((n) => n.subscription === delivered)!.result;
      expect([key.address, key.topics[2]]).toEqual([CONTENT_REGISTRY_ADDRESS, `0x${buyer.slice(2).padStart(64, "0")}`]);
      expect(await request(3, "eth_unsubscribe", [delivered])).toBe(true);
    } finally {
      ws.close();
    }
    expect((await rpcError(call("vs_subscribe", "contentPublished"))).code).toBe(RpcErrorCode.METHOD_NOT_FOUND);
    expect((await rpcError(call("vs_subscribe", "somethingElse"))).code).toBe(RpcErrorCode.INVALID_PARAMS);
  });
});

describe("vs_publishContent", () => {
  it("publishes with the payload and answers the content record once mined; pending when not mined in time; reverted when the publish reverts", async () => {
    const [node, close] = await startTestNode({ mine: false });
    closers.push(close);
    const call = httpCall(node.rpc!.url);
    const { chainId } = node.ledger.chain.genesis;
    const hex = (b: Uint8Array): string => `0x${Buffer.from(b).toString("hex")}`;
    const publish = (nonce: number, deliveryBlocks: bigint, payload: Uint8Array): Promise<Uint8Array> =>
      signModuleCall(chainId, 4, {
        data: registry.encodeFunctionData("publish", [keccak256(payload), 1, 7n, hash32(), deliveryBlocks]),
        nonce,
        gasLimit: 600_000n + 8n * BigInt(payload.length),
      });
    /** vs_publishContent while a block is mined as soon as the publish is pooled. */
    const publishMined = async (raw: Uint8Array, payload: Uint8Array): Promise<{ transactionHash: Hex; status: string; content: Record<string, unknown> | null }> => {
      const answer = call("vs_publishContent", hex(raw), hex(payload), 20) as Promise<{ transactionHash: Hex; status: string; content: Record<string, unknown> | null }>;
      while (node.ledger.pool.size === 0) await new Promise((r) => setTimeout(r, 20));
      await mineBlock(node.ledger, miner.privateKey, miner.address);
      return answer;
    };

    const first = new Uint8Array(randomBytes(5_000));
    const mined = await publishMined(await publish(0, 10n, first), first);
    const block = node.ledger.chain.head;
    expect(mined.status).toBe("mined");
    expect(mined.transactionHash).toBe(block.transactions[0]!.hash);
    expect(mined.content).toMatchObject({ contentId: "0x1", author: devAccount(4).address, contentHash: keccak256(first), price: "0x7", blockHash: block.hash, transactionHash: mined.transactionHash });
    expect(mined.content!.subRef).toEqual({ word: `0x${((1n << 96n) | (1n << 32n)).toString(16)}`, subchainId: "0x1", subNumber: "0x1", index: "0x0" });
    expect(await call("vs_getContent", "0x1")).toEqual(mined.content);

    // not mined within 0 seconds: pending, and the publish waits in the pool
    const second = new Uint8Array(randomBytes(3_000));
    const pending = (await call("vs_publishContent", hex(await publish(1, 10n, second)), hex(second), "0x0")) as { transactionHash: Hex; status: string; content: unknown };
    expect(pending).toEqual({ transactionHash: pending.transactionHash, status: "pending", content: null });
    expect(node.ledger.pool.has(pending.transactionHash)).toBe(true);
    await mineBlock(node.ledger, miner.privateKey, miner.address);

    // deliveryBlocks 0 reverts: mined, no content, receipt status 0
    const third = new Uint8Array(randomBytes(1_000));
    const reverted = await publishMined(await publish(2, 0n, third), third);
    expect(reverted).toEqual({ transactionHash: reverted.transactionHash, status: "reverted", content: null });
    expect(((await call("eth_getTransactionReceipt", reverted.transactionHash)) as { status: string }).status).toBe("0x0");

    // bad input: a payload that is not the published one, a wait over the limit
    await expect(call("vs_publishContent", hex(await publish(3, 10n, third)), hex(randomBytes(1_000)))).rejects.toThrow(/does not match the published contentHash/);
    await expect(call("vs_publishContent", hex(await publish(3, 10n, third)), hex(third), 61)).rejects.toMatchObject({ code: RpcErrorCode.INVALID_PARAMS });
    await expect(call("vs_publishContent", hex(await publish(3, 10n, third)), hex(third), "0x3d")).rejects.toMatchObject({ code: RpcErrorCode.INVALID_PARAMS });
    await expect(call("vs_publishContent", hex(await publish(3, 10n, third)), hex(third), 1.5)).rejects.toMatchObject({ code: RpcErrorCode.INVALID_PARAMS });
  });
});

describe("vs_getSubchains", () => {
  it("lists the declared sub-chains with their gas rate, limits, whether this node follows them, and their latest sub-block", async () => {
    const [node, close] = await startTestNode({ mine: false, subchains: ["bt"] });
    closers.push(close);
    const call = httpCall(node.rpc!.url);
    const before = (await call("vs_getSubchains")) as { id: string; name: string; payloadGasPerByte: string; followed: boolean; head: { number: string; hash: string } }[];
    const { genesis } = node.ledger.chain;
    expect(before.map((d) => [d.id, d.name, d.payloadGasPerByte, d.followed, d.head.number])).toEqual(
      genesis.subchains.map((d) => [`0x${d.id.toString(16)}`, d.name, `0x${d.payloadGasPerByte.toString(16)}`, d.id === 0 || d.name === "bt", "0x0"]),
    );
    expect(before[2]).toMatchObject({ maxPayloadBytes: `0x${genesis.subchains[2]!.maxPayloadBytes.toString(16)}`, maxSubBlockBytes: `0x${genesis.subchains[2]!.maxSubBlockBytes.toString(16)}` });
    // a publish on posts moves posts' head to sub-block 1
    await sendModuleCall(node.ledger, 5, { data: registry.encodeFunctionData("publish", [testContentHash(), 1, 1n, hash32(), 10n]), nonce: 0 });
    await mineBlock(node.ledger, miner.privateKey, miner.address);
    const after = (await call("vs_getSubchains")) as typeof before;
    expect(after[1]!.head.number).toBe("0x1");
    expect(after[1]!.head.hash).toBe(await node.ledger.chain.subchains.getCanonicalHash(1, 1n));
    expect(after[2]!.head).toEqual(before[2]!.head);
  });
});
