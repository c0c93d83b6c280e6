import { afterAll, describe, expect, it } from "@jest/globals";
import { hexToBytes } from "@ethereumjs/util";
import type { Result } from "ethers";
import { randomBytes } from "node:crypto";
import { CONTENT_REGISTRY_ADDRESS, keccak256, type GenesisConfig, type Hex } from "../../../chain/index.js";
import { checkKeyCommitment, decryptContent, encryptContent, generateContentKey, keyCommitment } from "../../../node/content/contentCipher.js";
import { eciesDecrypt } from "../../../node/content/ecies.js";
import { storeContentKey } from "../../../node/content/keyStore.js";
import { devAccount } from "../../../node/devAccounts.js";
import type { VsNode } from "../../../node/node.js";
import type { Block } from "../../../chain/index.js";
import type { Ledger } from "../../../node/ledger.js";
import { openLedger, tempDir, testGenesis } from "../../helpers/ledger.js";
import { mineBlock } from "../../helpers/mine.js";
import { feeOf, registry, viewAtHead, sendModuleCall, testContentHash } from "../../helpers/modules.js";
import { startTestNode } from "../../helpers/node.js";

const PRICE = 15n * 10n ** 17n;
const PASSWORD = "content keys of the author";
const author = devAccount(0);
const buyer = devAccount(1);
const unserved = devAccount(2);
const miner = devAccount(9);

const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const view = (node: VsNode, fn: string, args: unknown[]): Promise<Result> => viewAtHead(node.ledger.chain, fn, args);


async function balance(node: VsNode, address: Hex): Promise<bigint> {
  return (await node.ledger.chain.headState().getAccount(address)).balance;
}

async function keyDeliveredLogs(node: VsNode): Promise<{ contentId: bigint; buyer: string; encryptedKey: string; tx: Hex }[]> {
  const chain = node.ledger.chain;
  const topic = registry.getEvent("KeyDelivered")!.topicHash;
  const out = [];
  for (let n = 0n; n <= chain.head.header.number; n++) {
    const block = (await chain.getBlockByNumber(n))!;
    const receipts = (await chain.getReceipts(block.hash)) ?? [];
    for (const [i, r] of receipts.entries()) {
      for (const log of r.logs) {
        if (log.address !== CONTENT_REGISTRY_ADDRESS || log.topics[0] !== topic) continue;
        const parsed = registry.parseLog(log)!;
        out.push({ contentId: parsed.args[0] as bigint, buyer: (parsed.args[1] as string).toLowerCase(), encryptedKey: parsed.args[2] as string, tx: block.transactions[i]!.hash });
      }
    }
  }
  return out;
}

describe("the author's key-delivery service on a real node (RocksDB)", () => {
  let genesis: GenesisConfig;
  const [datadir, removeDir] = tempDir();
  closers.push(removeDir);

  async function start(delivery: boolean): Promise<[VsNode, () => Promise<void>]> {
    return startTestNode({
      genesis,
      datadir,
      mine: false,
      contentDelivery: delivery ? { authorKey: author.privateKey, contentKeyPassword: PASSWORD, confirmations: 2 } : null,
    });
  }
  const mine = (node: VsNode): Promise<unknown> => mineBlock(node.ledger, miner.privateKey, miner.address);

  it("catches up on a purchase made while it was off, delivers once after the confirmations, and not again after a restart", async () => {
    genesis = await testGenesis();
    let [node, stop] = await start(false);
    const before = { author: await balance(node, author.address), buyer: await balance(node, buyer.address), unserved: await balance(node, unserved.address) };

    // the author publishes content whose key sits in the node's content key store
    const plain = randomBytes(100_000);
    const key = generateContentKey();
    const cipher = encryptContent(plain, key);
    const contentHash = `0x${Buffer.from(keccak256(cipher)).toString("hex")}` as Hex;
    await storeContentKey(datadir, contentHash, key, PASSWORD, { scryptN: 2 ** 10 });
    const publish = await sendModuleCall(node.ledger, 0, { data: registry.encodeFunctionData("publish", [contentHash, 1, PRICE, keyCommitment(key), 50n]), nonce: 0, payload: cipher, gasLimit: 2_000_000n });
    // a second content without a key here: its buyer is never served
    const publish2 = await sendModuleCall(node.ledger, 0, {
      data: registry.encodeFunctionData("publish", [testContentHash(), 1, PRICE, keyCommitment(generateContentKey()), 3n]),
      nonce: 1,
    });
    await mine(node);
    expect((await view(node, "contentCount", []))[0]).toBe(2n);

    // purchases while the author's delivery service is off
    const purchase = await sendModuleCall(node.ledger, 1, { data: registry.encodeFunctionData("purchase", [1n]), value: PRICE, nonce: 0 });
    const purchase2 = await sendModuleCall(node.ledger, 2, { data: registry.encodeFunctionData("purchase", [2n]), value: PRICE, nonce: 0 });
    await mine(node);
    await mine(node);
    expect(await balance(node, CONTENT_REGISTRY_ADDRESS)).toBe(2n * PRICE);
    await stop();

    // the service starts: the purchase has 2 confirmations, so it is served at once
    [node, stop] = await start(true);
    await node.contentDelivery!.settled();
    const pooled = node.ledger.pool.senderTransactions(author.address);
    expect(pooled).toHaveLength(1);
    await mine(node);
    await node.contentDelivery!.settled();
    const delivered = await keyDeliveredLogs(node);
    expect(delivered.map((d) => [d.contentId, d.buyer])).toEqual([[1n, buyer.address]]);
    expect(delivered[0]!.tx).toBe(pooled[0]!.hash);

    // the buyer opens the box with its account key; the key matches the commitment and decrypts the content
    const sealed = (await view(node, "getEncryptedKey", [1n, buyer.address]))[0] as string;
    expect(sealed).toBe(delivered[0]!.encryptedKey);
    const opened = eciesDecrypt(buyer.privateKey, hexToBytes(sealed as Hex));
    const content = await view(node, "getContent", [1n]);
    checkKeyCommitment(opened, content[4] as Hex);
    expect(Buffer.from(decryptContent(cipher, opened)).equals(plain)).toBe(true);

    // more heads, then a restart: no second delivery
    await mine(node);
    await node.contentDelivery!.settled();
    await stop();
    [node, stop] = await start(true);
    await mine(node);
    await mine(node);
    await node.contentDelivery!.settled();
    expect(node.ledger.pool.senderTransactions(author.address)).toHaveLength(0);
    expect(await keyDeliveredLogs(node)).toHaveLength(1);
    expect((await node.ledger.chain.headState().getAccount(author.address)).nonce).toBe(3n);

    // the unserved buyer takes the escrow back after the deadline (purchase block + 3)
    const purchased2 = (await view(node, "getPurchase", [2n, unserved.address]))[1] as bigint;
    while (node.ledger.chain.head.header.number < purchased2 + 3n) await mine(node);
    const refund = await sendModuleCall(node.ledger, 2, { data: registry.encodeFunctionData("refund", [2n]), nonce: 1 });
    await mine(node);
    expect((await view(node, "getPurchase", [2n, unserved.address]))[3]).toBe(true);

    // every wei: the author paid two publishes and one delivery and got the price; the buyer paid price and fee;
    // the unserved buyer paid only fees; the escrow is empty
    const fee = (h: Hex): Promise<bigint> => feeOf(node.ledger.chain, h);
    expect(await balance(node, CONTENT_REGISTRY_ADDRESS)).toBe(0n);
    expect(await balance(node, author.address)).toBe(before.author - (await fee(publish)) - (await fee(publish2)) - (await fee(delivered[0]!.tx)) + PRICE);
    expect(await balance(node, buyer.address)).toBe(before.buyer - PRICE - (await fee(purchase)));
    expect(await balance(node, unserved.address)).toBe(before.unserved - (await fee(purchase2)) - (await fee(refund)));
    await stop();
  });
});

describe("the key-delivery service across a reorg", () => {
  it("drops a purchase a reorg removed, and delivers once when the purchase comes back", async () => {
    const genesis = await testGenesis();
    const [datadir, removeDir] = tempDir();
    closers.push(removeDir);
    const [node, stop] = await startTestNode({ genesis, datadir, mine: false, contentDelivery: { authorKey: author.privateKey, contentKeyPassword: PASSWORD, confirmations: 1 } });
    closers.push(stop);
    const [side, closeSide] = await openLedger(genesis);
    closers.push(closeSide);
    const mine = (l: Ledger, m = miner): Promise<Block> => mineBlock(l, m.privateKey, m.address);

    const key = generateContentKey();
    const cipher = encryptContent(randomBytes(1000), key);
    const contentHash = `0x${Buffer.from(keccak256(cipher)).toString("hex")}` as Hex;
    await storeContentKey(datadir, contentHash, key, PASSWORD, { scryptN: 2 ** 10 });
    await sendModuleCall(node.ledger, 0, { data: registry.encodeFunctionData("publish", [contentHash, 1, PRICE, keyCommitment(key), 50n]), nonce: 0, payload: cipher, gasLimit: 2_000_000n });
    const shared = await mine(node.ledger);
    expect((await side.importBlock(shared)).status).toBe("head");

    // the purchase and its delivery on the node's branch
    const purchase = await sendModuleCall(node.ledger, 1, { data: registry.encodeFunctionData("purchase", [1n]), value: PRICE, nonce: 0 });
    await mine(node.ledger);
    await node.contentDelivery!.settled();
    const [delivery] = node.ledger.pool.senderTransactions(author.address);
    expect(delivery).toBeDefined();
    await mine(node.ledger);
    expect((await view(node, "getPurchase", [1n, buyer.address]))[2]).toBe(true);

    // a heavier branch without either; the buyer's transaction is lost (taken out of the pool)
    const other = devAccount(8);
    const branch: Block[] = [];
    for (let i = 0; i < 4; i++) branch.push(await mine(side, other));
    for (const b of branch) await node.ledger.importBlock(b);
    await node.ledger.settled();
    node.ledger.pool.remove([purchase, delivery!.hash]);
    await mine(node.ledger);
    await node.contentDelivery!.settled();
    expect((await view(node, "getPurchase", [1n, buyer.address]))[1]).toBe(0n);
    expect(node.ledger.pool.senderTransactions(author.address)).toHaveLength(0);

    // the buyer sends the purchase again: found by the rescan, delivered once
    await sendModuleCall(node.ledger, 1, { data: registry.encodeFunctionData("purchase", [1n]), value: PRICE, nonce: 0 });
    await mine(node.ledger);
    await node.contentDelivery!.settled();
    expect(node.ledger.pool.senderTransactions(author.address)).toHaveLength(1);
    await mine(node.ledger);
    await mine(node.ledger);
    await node.contentDelivery!.settled();
    expect(node.ledger.pool.senderTransactions(author.address)).toHaveLength(0);
    expect((await keyDeliveredLogs(node)).map((d) => d.buyer)).toEqual([buyer.address]);
    const sealed = (await view(node, "getEncryptedKey", [1n, buyer.address]))[0] as string;
    checkKeyCommitment(eciesDecrypt(buyer.privateKey, hexToBytes(sealed as Hex)), keyCommitment(key));
  });
});

describe("the key-delivery service's confirmations", () => {
  it("waits until the purchase block has `confirmations` blocks (its own included) before delivering", async () => {
    const genesis = await testGenesis();
    const [datadir, removeDir] = tempDir();
    closers.push(removeDir);
    const [node, stop] = await startTestNode({ genesis, datadir, mine: false, contentDelivery: { authorKey: author.privateKey, contentKeyPassword: PASSWORD, confirmations: 3 } });
    closers.push(stop);
    const mine = async (): Promise<void> => {
      await mineBlock(node.ledger, miner.privateKey, miner.address);
      await node.contentDelivery!.settled();
    };
    const key = generateContentKey();
    const cipher = encryptContent(randomBytes(500), key);
    const contentHash = `0x${Buffer.from(keccak256(cipher)).toString("hex")}` as Hex;
    await storeContentKey(datadir, contentHash, key, PASSWORD, { scryptN: 2 ** 10 });
    await sendModuleCall(node.ledger, 0, { data: registry.encodeFunctionData("publish", [contentHash, 1, PRICE, keyCommitment(key), 50n]), nonce: 0, payload: cipher, gasLimit: 2_000_000n });
    await mine();
    await sendModuleCall(node.ledger, 1, { data: registry.encodeFunctionData("purchase", [1n]), value: PRICE, nonce: 0 });
    await mine(); // 1 confirmation
    expect(node.ledger.pool.senderTransactions(author.address)).toHaveLength(0);
    await mine(); // 2
    expect(node.ledger.pool.senderTransactions(author.address)).toHaveLength(0);
    await mine(); // 3: due
    expect(node.ledger.pool.senderTransactions(author.address)).toHaveLength(1);
  });
});
