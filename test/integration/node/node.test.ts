import { afterAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import WebSocket from "ws";
import { devAccount } from "../../../node/devAccounts.js";
import { httpCall } from "../../helpers/rpcClient.js";
import { mineBlock } from "../../helpers/mine.js";
import { startTestNode } from "../../helpers/node.js";

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

describe("full node over its own RPC port", () => {
  it("survives a bounded fuzz of random and malformed JSON-RPC and still answers eth_blockNumber correctly", async () => {
    const [node, close] = await startTestNode({ mine: false });
    closers.push(close);
    const miner = devAccount(9);
    for (let i = 0; i < 3; i++) await mineBlock(node.ledger, miner.privateKey, miner.address);
    const url = node.rpc!.url;
    const methods = ["eth_getBalance", "eth_getBlockByNumber", "eth_call", "eth_getLogs", "eth_sendRawTransaction", "eth_feeHistory", "eth_getProof", "eth_newFilter", "eth_subscribe", "rpc.discover", "eth_submitWork", "eth_getWork"];
    const json = fc.jsonValue({ maxDepth: 4 });
    const request = fc.oneof(
      fc.record({ jsonrpc: fc.constant("2.0"), id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)), method: fc.constantFrom(...methods), params: fc.array(json, { maxLength: 4 }) }),
      fc.record({ jsonrpc: fc.constant("2.0"), id: fc.integer(), method: fc.constantFrom(...methods), params: json }),
      json,
    );
    const body = fc.oneof(
      request.map((r) => JSON.stringify(r)),
      fc.array(request, { maxLength: 5 }).map((b) => JSON.stringify(b)),
      fc.string({ maxLength: 200 }),
    );
    const deadline = Date.now() + 8_000;
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        if (Date.now() > deadline) return;
        const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: b });
        expect(res.status).toBeLessThan(500);
        await res.text();
      }),
      { numRuns: 300 },
    );
    const call = httpCall(url);
    expect(await call("eth_blockNumber")).toBe(`0x${node.ledger.chain.head.header.number.toString(16)}`);
    expect(node.ledger.chain.head.header.number).toBe(3n);
  });

  it("serves Prometheus metrics at /metrics, counting RPC calls and following the head", async () => {
    const [node, close] = await startTestNode({ mine: false });
    closers.push(close);
    const miner = devAccount(9);
    await mineBlock(node.ledger, miner.privateKey, miner.address);
    const call = httpCall(node.rpc!.url);
    await call("eth_blockNumber");
    await call("eth_chainId");
    const text = await (await fetch(`${node.rpc!.url}metrics`)).text();
    expect(text).toMatch(/^vs1984_head_number 1$/m);
    expect(text).toMatch(/^vs1984_rpc_calls_total\{method="eth_blockNumber",status="ok"\} 1$/m);
    expect(text).toMatch(/^vs1984_block_import_seconds_count 1$/m);
  });

  it("lists every method it serves in rpc.discover, and pushes new heads over WebSocket on the same port", async () => {
    const [node, close] = await startTestNode({ mine: false });
    closers.push(close);
    const call = httpCall(node.rpc!.url);
    const doc = (await call("rpc.discover")) as { methods: { name: string }[] };
    const names = doc.methods.map((m) => m.name);
    for (const m of ["eth_chainId", "eth_getLogs", "eth_subscribe", "eth_getWork", "eth_submitWork", "net_version", "web3_clientVersion", "rpc.discover", "eth_getProof", "eth_feeHistory"]) {
      expect(names).toContain(m);
    }
    const ws = new WebSocket(node.rpc!.wsUrl);
    await new Promise((r) => ws.once("open", r));
    const messages: { id?: number; result?: string; params?: { result: { number: string } } }[] = [];
    ws.on("message", (d) => messages.push(JSON.parse(d.toString())));
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
    while (!messages.some((m) => m.id === 1)) await new Promise((r) => setTimeout(r, 10));
    const miner = devAccount(9);
    await mineBlock(node.ledger, miner.privateKey, miner.address);
    while (!messages.some((m) => m.params)) await new Promise((r) => setTimeout(r, 10));
    expect(messages.find((m) => m.params)!.params!.result.number).toBe("0x1");
    ws.close();
  });
});
