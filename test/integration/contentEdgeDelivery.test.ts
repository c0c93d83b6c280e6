import { afterAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { CONTENT_REGISTRY_ADDRESS, keccak256, type Hex } from "../../chain/index.js";
import { encryptContent, generateContentKey, keyCommitment } from "../../node/content/contentCipher.js";
import { keyDeliveryFile } from "../../node/content/deliveryService.js";
import { storeContentKey } from "../../node/content/keyStore.js";
import { devAccount } from "../../node/devAccounts.js";
import type { VsNode } from "../../node/node.js";
import type { Block } from "../../chain/index.js";
import type { Ledger } from "../../node/ledger.js";
import { openLedger, tempDir, testGenesis } from "../helpers/ledger.js";
import { mineBlock } from "../helpers/mine.js";
import { CALL_FEES, registry, sendModuleCall, viewAtHead } from "../helpers/modules.js";
import { startTestNode } from "../helpers/node.js";

const PRICE = 10n ** 17n;
const PASSWORD = "content keys of the author";
const author = devAccount(0);
const buyers = [1, 2, 3];
const miner = devAccount(9);

const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

async function balance(node: VsNode, address: Hex): Promise<bigint> {
  return (await node.ledger.chain.headState().getAccount(address)).balance;
}

/** The buyers of every KeyDelivered log on the canonical chain, in chain order. */
async function deliveredTo(node: VsNode): Promise<string[]> {
  const chain = node.ledger.chain;
  const topic = registry.getEvent("KeyDelivered")!.topicHash;
  const out: string[] = [];
  for (let n = 0n; n <= chain.head.header.number; n++) {
    const block = (await chain.getBlockByNumber(n))!;
    for (const r of (await chain.getReceipts(block.hash)) ?? []) {
      for (const log of r.logs) if (log.address === CONTENT_REGISTRY_ADDRESS && log.topics[0] === topic) out.push((registry.parseLog(log)!.args[1] as string).toLowerCase());
    }
  }
  return out;
}

describe("the key-delivery service with several purchases at once and an author short of gas", () => {
  it("waits while the author cannot pay the gas, then delivers each of three same-block purchases once, with consecutive nonces", async () => {
    const [datadir, removeDir] = tempDir("vs1984-content-edge-");
    closers.push(removeDir);
    const [node, stop] = await startTestNode({
      genesis: await testGenesis(),
      datadir,
      mine: false,
      contentDelivery: { authorKey: author.privateKey, contentKeyPassword: PASSWORD, confirmations: 2 },
    });
    closers.push(stop);
    const mine = async (): Promise<void> => {
      await mineBlock(node.ledger, miner.privateKey, miner.address);
      await node.contentDelivery!.settled();
    };

    const key = generateContentKey();
    const cipher = encryptContent(randomBytes(1000), key);
    const contentHash = `0x${Buffer.from(keccak256(cipher)).toString("hex")}` as Hex;
    await storeContentKey(datadir, contentHash, key, PASSWORD, { scryptN: 2 ** 10 });
    await sendModuleCall(node.ledger, 0, { data: registry.encodeFunctionData("publish", [contentHash, 1, PRICE, keyCommitment(key), 50n]), nonce: 0, payload: cipher, gasLimit: 2_000_000n });
    await mine();

    // the author sends away all but what a plain transfer's fee cap leaves over: far less than a deliverKey costs
    const sink = devAccount(6).address;
    const drain = (await balance(node, author.address)) - 21_000n * CALL_FEES.maxFeePerGas;
    await sendModuleCall(node.ledger, 0, { to: sink, data: "0x", value: drain, gasLimit: 21_000n, nonce: 1 });
    await mine();
    expect(await balance(node, author.address)).toBeLessThan(100_000n * CALL_FEES.maxFeePerGas);

    // three buyers in one block
    for (const b of buyers) await sendModuleCall(node.ledger, b, { data: registry.encodeFunctionData("purchase", [1n]), value: PRICE, nonce: 0 });
    await mine();
    await mine();
    expect(node.ledger.pool.senderTransactions(author.address)).toHaveLength(0);
    expect(await deliveredTo(node)).toEqual([]);

    // funded again: every purchase is served on the next head, each once, in nonce order
    await sendModuleCall(node.ledger, 5, { to: author.address, data: "0x", value: 10n ** 18n, gasLimit: 21_000n, nonce: 0 });
    await mine();
    const pooled = node.ledger.pool.senderTransactions(author.address);
    expect(pooled.map((t) => t.nonce)).toEqual([2n, 3n, 4n]);
    await mine();
    await mine();
    expect((await deliveredTo(node)).sort()).toEqual(buyers.map((b) => devAccount(b).address.toLowerCase()).sort());
    expect(node.ledger.pool.senderTransactions(author.address)).toHaveLength(0);
    for (const b of buyers) expect((await viewAtHead(node.ledger.chain, "getPurchase", [1n, devAccount(b).address]))[2]).toBe(true);
    expect(await balance(node, CONTENT_REGISTRY_ADDRESS)).toBe(0n);
  }, 60_000);
});

describe("the key-delivery service and a purchase a reorg removes before it has its confirmations", () => {
  it("never delivers it: nothing is sent, nothing stays open, and the author's nonce does not move", async () => {
    const genesis = await testGenesis();
    const [datadir, removeDir] = tempDir("vs1984-content-edge-");
    closers.push(removeDir);
    const [node, stop] = await startTestNode({ genesis, datadir, mine: false, contentDelivery: { authorKey: author.privateKey, contentKeyPassword: PASSWORD, confirmations: 2 } });
    closers.push(stop);
    const [side, closeSide] = await openLedger(genesis);
    closers.push(closeSide);
    const mine = async (l: Ledger, m = miner): Promise<Block> => {
      const b = await mineBlock(l, m.privateKey, m.address);
      await node.contentDelivery!.settled();
      return b;
    };

    const key = generateContentKey();
    const cipher = encryptContent(randomBytes(500), key);
    const contentHash = `0x${Buffer.from(keccak256(cipher)).toString("hex")}` as Hex;
    await storeContentKey(datadir, contentHash, key, PASSWORD, { scryptN: 2 ** 10 });
    await sendModuleCall(node.ledger, 0, { data: registry.encodeFunctionData("publish", [contentHash, 1, PRICE, keyCommitment(key), 50n]), nonce: 0, payload: cipher, gasLimit: 2_000_000n });
    expect((await side.importBlock(await mine(node.ledger))).status).toBe("head");

    // the purchase has 1 of its 2 confirmations when a heavier branch without it takes over; the buyer's transaction is lost
    const purchase = await sendModuleCall(node.ledger, 1, { data: registry.encodeFunctionData("purchase", [1n]), value: PRICE, nonce: 0 });
    await mine(node.ledger);
    expect((await viewAtHead(node.ledger.chain, "getPurchase", [1n, devAccount(1).address]))[1]).not.toBe(0n);
    expect(node.ledger.pool.senderTransactions(author.address)).toHaveLength(0);
    const branch: Block[] = [];
    for (let i = 0; i < 3; i++) branch.push(await mineBlock(side, devAccount(8).privateKey, devAccount(8).address));
    for (const b of branch) await node.ledger.importBlock(b);
    await node.ledger.settled();
    node.ledger.pool.remove([purchase]);
    for (let i = 0; i < 3; i++) await mine(node.ledger);

    expect((await viewAtHead(node.ledger.chain, "getPurchase", [1n, devAccount(1).address]))[1]).toBe(0n);
    expect(node.ledger.pool.senderTransactions(author.address)).toHaveLength(0);
    expect(await deliveredTo(node)).toEqual([]);
    expect((await node.ledger.chain.headState().getAccount(author.address)).nonce).toBe(1n);
    const record = JSON.parse(await readFile(keyDeliveryFile(datadir), "utf8")) as { open: unknown[] };
    expect(record.open).toEqual([]);
  }, 60_000);
});
