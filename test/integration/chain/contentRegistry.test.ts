import { afterAll, describe, expect, it } from "@jest/globals";
import { AbiCoder, keccak256 as ethersKeccak, randomBytes, hexlify, type Result } from "ethers";
import {
  CONTENT_REGISTRY_ADDRESS,
  ContentRegistryReason,
  DispatchReason,
  NATIVE_TOKEN_ADDRESS,
  TRANSFER_TOPIC,
  intrinsicGasOf,
  payloadGas,
  type Account,
  type Block,
  type GenesisConfig,
  type Hex,
  type Receipt,
} from "../../../chain/index.js";
import type { Ledger } from "../../../node/ledger.js";
import { devWallet, keyOf, openLedger, testGenesis, devAddress } from "../../helpers/ledger.js";
import { mineBlock } from "../../helpers/mine.js";
import { CALL_FEES, registry, sendModuleCall, testContentHash, viewAtHead } from "../../helpers/modules.js";
import { startTestNode } from "../../helpers/node.js";
import { httpCall, rpcError, type RpcCall } from "../../helpers/rpcClient.js";

const ONE_VS = 10n ** 18n;
const GWEI = 10n ** 9n;
const PRICE = (3n * ONE_VS) / 2n;
/** base fee 1 gwei + tip 1 gwei */
const GAS_PRICE = CALL_FEES.maxPriorityFeePerGas + GWEI;
const REG = CONTENT_REGISTRY_ADDRESS;
const KEY = hexlify(randomBytes(113));
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const addr = devAddress;
const AUTHOR = 0;
const BUYER = 1;
const OTHER = 2;
const MINER = 9;
const mine = (ledger: Ledger): Promise<Block> => mineBlock(ledger, keyOf(devWallet(MINER)), addr(MINER));

const publishData = (deliveryBlocks: bigint, price = PRICE): string =>
  registry.encodeFunctionData("publish", [testContentHash(), 1, price, ethersKeccak(randomBytes(32)), deliveryBlocks]);
const purchaseData = (id: bigint): string => registry.encodeFunctionData("purchase", [id]);
const deliverData = (id: bigint, buyer: Hex, key = KEY): string => registry.encodeFunctionData("deliverKey", [id, buyer, key]);
const refundData = (id: bigint): string => registry.encodeFunctionData("refund", [id]);

/** A mined call: its receipt, the gas it used and the fee it paid. */
interface Mined {
  hash: Hex;
  block: Block;
  receipt: Receipt;
  gasUsed: bigint;
  fee: bigint;
}

/** Sends a ContentRegistry call from dev account `from` and mines it alone in a block. */
async function exec(ledger: Ledger, from: number, data: string, value = 0n, gasLimit?: bigint): Promise<Mined> {
  const nonce = Number((await ledger.chain.headState().getAccount(addr(from))).nonce);
  const hash = await sendModuleCall(ledger, from, { data, value, nonce, gasLimit });
  const block = await mine(ledger);
  const at = (await ledger.chain.getTxLocation(hash))!;
  expect(at.blockHash).toBe(block.hash);
  const receipts = (await ledger.chain.getReceipts(block.hash))!;
  const receipt = receipts[at.index]!;
  const gasUsed = receipt.cumulativeGasUsed - (at.index > 0 ? receipts[at.index - 1]!.cumulativeGasUsed : 0n);
  return { hash, block, receipt, gasUsed, fee: gasUsed * GAS_PRICE };
}

/** Runs a view of the registry at the head, decoded. */
const view = (ledger: Ledger, name: string, args: unknown[]): Promise<Result> => viewAtHead(ledger.chain, name, args);

/** The contentId a successful publish returned, from its ContentPublished log. */
function publishedId(m: Mined): bigint {
  expect(m.receipt.status).toBe(1);
  const log = m.receipt.logs.map((l) => registry.parseLog(l)).find((l) => l?.name === "ContentPublished");
  return log!.args.contentId as bigint;
}

/** Accounts of interest and the registry's storage root at the head. */
async function snapshot(ledger: Ledger, who: Hex[]): Promise<{ storageRoot: Hex; accounts: Map<Hex, Account> }> {
  const state = ledger.chain.stateAt(ledger.chain.head.header);
  const accounts = new Map<Hex, Account>();
  for (const a of who) accounts.set(a, await state.getAccount(a));
  return { storageRoot: await state.getStorageRoot(REG), accounts };
}

function transferLog(from: Hex, to: Hex, value: bigint): Receipt["logs"][number] {
  const word = (h: string): Hex => `0x${h.replace(/^0x/, "").padStart(64, "0")}`;
  return { address: NATIVE_TOKEN_ADDRESS, topics: [TRANSFER_TOPIC, word(from), word(to)], data: word(value.toString(16)) };
}

/**
 * Balances implied by the genesis allocation, the fees every receipt's gas used pays, block
 * rewards and the native Transfer logs: every movement of value, module escrow included, is one.
 */
async function replayBalances(ledger: Ledger, genesis: GenesisConfig): Promise<Map<Hex, bigint>> {
  const balances = new Map<Hex, bigint>(genesis.alloc);
  const add = (a: Hex, v: bigint): void => void balances.set(a, (balances.get(a) ?? 0n) + v);
  const topicAddress = (t: Hex): Hex => `0x${t.slice(26)}`;
  for (let n = 1n; n <= ledger.chain.head.header.number; n++) {
    const block = (await ledger.chain.getBlockByNumber(n))!;
    const receipts = (await ledger.chain.getReceipts(block.hash))!;
    let previous = 0n;
    let fees = 0n;
    block.transactions.forEach((tx, i) => {
      const r = receipts[i]!;
      const fee = (r.cumulativeGasUsed - previous) * GAS_PRICE;
      previous = r.cumulativeGasUsed;
      add(tx.from, -fee);
      fees += fee;
      for (const log of r.logs) {
        if (log.address !== NATIVE_TOKEN_ADDRESS || log.topics[0] !== TRANSFER_TOPIC) continue;
        const value = BigInt(log.data);
        add(topicAddress(log.topics[1]!), -value);
        add(topicAddress(log.topics[2]!), value);
      }
    });
    add(block.header.miner, fees + genesis.blockReward);
  }
  return balances;
}

describe("ContentRegistry on RocksDB", () => {
  it("publishes, sells and delivers a key: escrow moves to the author and balances add up to the wei", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    const who = [addr(AUTHOR), addr(BUYER), REG, addr(MINER)];

    const published = await exec(ledger, AUTHOR, publishData(5n));
    const id = publishedId(published);
    expect(id).toBe(1n);
    expect(published.receipt.logs).toHaveLength(1);
    const [author, subchainId, , price, , deliveryBlocks, subRef] = await view(ledger, "getContent", [id]);
    expect([String(author).toLowerCase(), subchainId, price, deliveryBlocks]).toEqual([addr(AUTHOR), 1n, PRICE, 5n]);
    // the payload is the only one in the first sub-block of posts: subRef = (1, 1, 0)
    expect(subRef).toBe((1n << 96n) | (1n << 32n));
    expect((await view(ledger, "contentCount", []))[0]).toBe(1n);
    // the gas: intrinsic + the module's own, charged in full
    const publishTx = (await ledger.chain.getBlock(published.block.hash))!.transactions[0]!;
    expect(published.gasUsed).toBeGreaterThan(intrinsicGasOf(publishTx));

    const before = await snapshot(ledger, who);
    const bought = await exec(ledger, BUYER, purchaseData(id), PRICE);
    expect(bought.receipt.status).toBe(1);
    expect(bought.receipt.logs[0]).toEqual(transferLog(addr(BUYER), REG, PRICE));
    const purchased = registry.parseLog(bought.receipt.logs[1]!)!;
    expect([purchased.name, purchased.args.contentId, String(purchased.args.buyer).toLowerCase(), purchased.args.price]).toEqual(["Purchased", id, addr(BUYER), PRICE]);
    const held = await snapshot(ledger, who);
    expect(held.accounts.get(REG)!.balance).toBe(PRICE);
    expect(held.accounts.get(addr(BUYER))!.balance).toBe(before.accounts.get(addr(BUYER))!.balance - PRICE - bought.fee);
    expect(held.storageRoot).not.toBe(before.storageRoot);
    expect([...(await view(ledger, "getPurchase", [id, addr(BUYER)]))]).toEqual([PRICE, bought.block.header.number, false, false]);

    const delivered = await exec(ledger, AUTHOR, deliverData(id, addr(BUYER)));
    expect(delivered.receipt.status).toBe(1);
    expect(delivered.receipt.logs[0]).toEqual(transferLog(REG, addr(AUTHOR), PRICE));
    const keyLog = registry.parseLog(delivered.receipt.logs[1]!)!;
    expect([keyLog.name, keyLog.args.contentId, String(keyLog.args.buyer).toLowerCase(), keyLog.args.encryptedKey]).toEqual(["KeyDelivered", id, addr(BUYER), KEY]);
    const after = await snapshot(ledger, who);
    expect(after.accounts.get(REG)!.balance).toBe(0n);
    expect(after.accounts.get(addr(AUTHOR))!.balance).toBe(held.accounts.get(addr(AUTHOR))!.balance + PRICE - delivered.fee);
    expect((await view(ledger, "getEncryptedKey", [id, addr(BUYER)]))[0]).toBe(KEY);
    expect([...(await view(ledger, "getPurchase", [id, addr(BUYER)]))]).toEqual([PRICE, bought.block.header.number, true, false]);

    // from the genesis: the author paid two fees and earned the price, the buyer paid the price and one fee
    const g = genesis.alloc;
    expect(after.accounts.get(addr(AUTHOR))!.balance).toBe(g.get(addr(AUTHOR))! - published.fee - delivered.fee + PRICE);
    expect(after.accounts.get(addr(BUYER))!.balance).toBe(g.get(addr(BUYER))! - bought.fee - PRICE);
    const replay = await replayBalances(ledger, genesis);
    const state = ledger.chain.headState();
    for (const [a, balance] of replay) expect([a, (await state.getAccount(a)).balance]).toEqual([a, balance]);
    expect(replay.get(REG) ?? 0n).toBe(0n);
  });

  it("refunds a buyer who is never served, only after the deadline, and lets them buy again", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    const id = publishedId(await exec(ledger, AUTHOR, publishData(2n)));
    const bought = await exec(ledger, OTHER, purchaseData(id), PRICE);
    const p = bought.block.header.number;
    // blocks p+1 and p+2 are the author's to deliver in
    for (let n = 1n; n <= 2n; n++) {
      const early = await exec(ledger, OTHER, refundData(id));
      expect([early.block.header.number, early.receipt.status]).toEqual([p + n, 0]);
    }
    const before = await snapshot(ledger, [addr(OTHER), REG]);
    const refunded = await exec(ledger, OTHER, refundData(id));
    expect([refunded.block.header.number, refunded.receipt.status]).toEqual([p + 3n, 1]);
    expect(refunded.receipt.logs[0]).toEqual(transferLog(REG, addr(OTHER), PRICE));
    const log = registry.parseLog(refunded.receipt.logs[1]!)!;
    expect([log.name, log.args.contentId, String(log.args.buyer).toLowerCase(), log.args.amount]).toEqual(["Refunded", id, addr(OTHER), PRICE]);
    const after = await snapshot(ledger, [addr(OTHER), REG]);
    expect(after.accounts.get(REG)!.balance).toBe(0n);
    expect(after.accounts.get(addr(OTHER))!.balance).toBe(before.accounts.get(addr(OTHER))!.balance + PRICE - refunded.fee);
    expect([...(await view(ledger, "getPurchase", [id, addr(OTHER)]))]).toEqual([PRICE, p, false, true]);

    // the refunded buyer may buy again, and is then served
    const again = await exec(ledger, OTHER, purchaseData(id), PRICE);
    expect(again.receipt.status).toBe(1);
    expect([...(await view(ledger, "getPurchase", [id, addr(OTHER)]))]).toEqual([PRICE, again.block.header.number, false, false]);
    expect((await exec(ledger, AUTHOR, deliverData(id, addr(OTHER)))).receipt.status).toBe(1);
    const replay = await replayBalances(ledger, genesis);
    for (const [a, balance] of replay) expect((await ledger.chain.headState().getAccount(a)).balance).toBe(balance);
  });

  it("reverts every misuse with its reason: status 0, fee charged, state otherwise unchanged, reason readable through eth_call", async () => {
    const [node, close] = await startTestNode({ mine: false });
    closers.push(close);
    const ledger = node.ledger;
    const call: RpcCall = httpCall(node.rpc!.url);
    const who = [addr(AUTHOR), addr(BUYER), addr(OTHER), REG];

    const expectRevert = async (from: number, data: string, value: bigint, reason: string): Promise<Mined> => {
      // eth_call on the state the transaction then runs on answers geth's revert error
      const e = await rpcError(call("eth_call", { from: addr(from), to: REG, input: data, value: `0x${value.toString(16)}` }));
      expect([e.code, e.message]).toEqual([3, `execution reverted: ${reason}`]);
      const revertData = e.data as string;
      expect(revertData.slice(0, 10)).toBe("0x08c379a0");
      expect(AbiCoder.defaultAbiCoder().decode(["string"], `0x${revertData.slice(10)}`)[0]).toBe(reason);
      const estimate = await rpcError(call("eth_estimateGas", { from: addr(from), to: REG, input: data, value: `0x${value.toString(16)}` }));
      expect([estimate.code, estimate.message, estimate.data]).toEqual([3, `execution reverted: ${reason}`, revertData]);

      const before = await snapshot(ledger, who);
      const minerBefore = (await ledger.chain.headState().getAccount(addr(MINER))).balance;
      const m = await exec(ledger, from, data, value);
      expect([m.receipt.status, m.receipt.logs, m.receipt.logsBloom]).toEqual([0, [], `0x${"00".repeat(256)}`]);
      const after = await snapshot(ledger, who);
      expect(after.storageRoot).toBe(before.storageRoot);
      for (const a of who) {
        const b = before.accounts.get(a)!;
        const expected = a === addr(from) ? { nonce: b.nonce + 1n, balance: b.balance - m.fee } : b;
        expect([a, after.accounts.get(a)]).toEqual([a, expected]);
      }
      expect(m.fee).toBeGreaterThan(0n);
      // the fee went to the miner
      expect((await ledger.chain.headState().getAccount(addr(MINER))).balance).toBe(minerBefore + m.fee + ledger.chain.genesis.blockReward);
      // the receipt as clients read it
      const receipt = (await call("eth_getTransactionReceipt", m.hash)) as { status: string; gasUsed: string; logs: unknown[] };
      expect([receipt.status, BigInt(receipt.gasUsed), receipt.logs]).toEqual(["0x0", m.gasUsed, []]);
      return m;
    };

    const R = ContentRegistryReason;
    const id = publishedId(await exec(ledger, AUTHOR, publishData(3n)));
    await expectRevert(BUYER, purchaseData(99n), PRICE, R.UNKNOWN_CONTENT);
    await expectRevert(BUYER, purchaseData(0n), PRICE, R.UNKNOWN_CONTENT);
    await expectRevert(BUYER, purchaseData(id), PRICE - 1n, R.WRONG_PRICE);
    await expectRevert(BUYER, purchaseData(id), PRICE + 1n, R.WRONG_PRICE);
    await expectRevert(BUYER, purchaseData(id), 0n, R.WRONG_PRICE);
    await expectRevert(AUTHOR, publishData(0n), 0n, R.ZERO_DELIVERY_BLOCKS);
    await expectRevert(AUTHOR, publishData(3n), 1n, DispatchReason.NOT_PAYABLE);
    await expectRevert(BUYER, "0x12345678", 0n, DispatchReason.UNKNOWN_SELECTOR);
    // a plain payment to the module has no function to run: the value stays with the sender
    await expectRevert(BUYER, "0x", ONE_VS, DispatchReason.UNKNOWN_SELECTOR);
    await expectRevert(BUYER, purchaseData(id).slice(0, 12), PRICE, DispatchReason.BAD_CALLDATA);
    await expectRevert(OTHER, refundData(id), 0n, R.NOT_PURCHASED);
    await expectRevert(AUTHOR, deliverData(id, addr(BUYER)), 0n, R.NOT_PURCHASED);

    const bought = await exec(ledger, BUYER, purchaseData(id), PRICE);
    expect(bought.receipt.status).toBe(1);
    await expectRevert(BUYER, refundData(id), 0n, R.TOO_EARLY);
    await expectRevert(BUYER, purchaseData(id), PRICE, R.ALREADY_PURCHASED);
    await expectRevert(OTHER, deliverData(id, addr(BUYER)), 0n, R.NOT_AUTHOR);
    await expectRevert(BUYER, deliverData(id, addr(BUYER)), 0n, R.NOT_AUTHOR);
    await expectRevert(AUTHOR, deliverData(id, addr(BUYER), "0x"), 0n, R.EMPTY_KEY);
    await expectRevert(AUTHOR, deliverData(id, addr(BUYER)), 1n, DispatchReason.NOT_PAYABLE);
    expect(ledger.chain.head.header.number).toBeGreaterThan(bought.block.header.number + 3n);

    expect((await exec(ledger, AUTHOR, deliverData(id, addr(BUYER)))).receipt.status).toBe(1);
    await expectRevert(AUTHOR, deliverData(id, addr(BUYER)), 0n, R.ALREADY_DELIVERED);
    await expectRevert(BUYER, refundData(id), 0n, R.ALREADY_DELIVERED);

    // a refunded purchase can be neither refunded again nor delivered
    const id2 = publishedId(await exec(ledger, AUTHOR, publishData(1n)));
    await exec(ledger, OTHER, purchaseData(id2), PRICE);
    await mine(ledger);
    expect((await exec(ledger, OTHER, refundData(id2))).receipt.status).toBe(1);
    await expectRevert(OTHER, refundData(id2), 0n, R.REFUNDED);
    await expectRevert(AUTHOR, deliverData(id2, addr(OTHER)), 0n, R.REFUNDED);
  });

  it("a call that runs out of gas uses its whole gas limit and changes nothing else", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    const data = publishData(3n);
    const raw = Buffer.from(data.slice(2), "hex");
    const limit = intrinsicGasOf({ data: raw, accessList: [] }) + 10_000n;
    const before = await snapshot(ledger, [addr(AUTHOR), REG]);
    const m = await exec(ledger, AUTHOR, data, 0n, limit);
    expect([m.receipt.status, m.gasUsed, m.receipt.logs]).toEqual([0, limit, []]);
    const after = await snapshot(ledger, [addr(AUTHOR), REG]);
    expect(after.storageRoot).toBe(before.storageRoot);
    expect(after.accounts.get(addr(AUTHOR))!.balance).toBe(before.accounts.get(addr(AUTHOR))!.balance - limit * GAS_PRICE);
    // the same call with enough gas publishes content 1
    const header = ledger.chain.head.header;
    await expect(ledger.chain.simulateCall(header, { from: addr(AUTHOR), to: REG, value: 0n, data: raw, gasLimit: limit, accessList: [] })).rejects.toThrow("out of gas");
    const ok = await ledger.chain.simulateCall(header, { from: addr(AUTHOR), to: REG, value: 0n, data: raw, gasLimit: 500_000n, accessList: [] });
    expect(registry.decodeFunctionResult("publish", ok.returnData)[0]).toBe(1n);
    // eth_estimateGas cannot see the payload: a publish needs the estimate plus its payload gas (64 bytes on posts)
    const withPayload = ok.gasUsed + payloadGas(genesis.subchains.find((d) => d.id === 1)!, 64);
    expect((await exec(ledger, AUTHOR, data, 0n, withPayload - 1n)).receipt.status).toBe(0);
    expect(publishedId(await exec(ledger, AUTHOR, data, 0n, withPayload))).toBe(1n);
  });

  it("a reorg that drops blocks with module calls restores the module state exactly", async () => {
    const genesis = await testGenesis();
    const [a, closeA] = await openLedger(genesis);
    const [b, closeB] = await openLedger(genesis);
    closers.push(closeA, closeB);
    const m7 = devWallet(7);
    const m8 = devWallet(8);

    // shared: content 1 is published
    const published = await exec(a, AUTHOR, publishData(3n));
    const id = publishedId(published);
    expect((await b.importBlock(published.block)).status).toBe("head");
    const forkRoot = (await snapshot(a, [])).storageRoot;

    // a: the buyer purchases and the author delivers, in two blocks by miner 7
    const nonceOf = async (l: Ledger, i: number): Promise<number> => Number((await l.chain.headState().getAccount(addr(i))).nonce);
    const purchase = await sendModuleCall(a, BUYER, { data: purchaseData(id), value: PRICE, nonce: await nonceOf(a, BUYER) });
    await mineBlock(a, keyOf(m7), addr(7));
    const deliver = await sendModuleCall(a, AUTHOR, { data: deliverData(id, addr(BUYER)), nonce: await nonceOf(a, AUTHOR) });
    await mineBlock(a, keyOf(m7), addr(7));
    expect((await view(a, "getPurchase", [id, addr(BUYER)]))[2]).toBe(true);

    // b: another buyer purchases, on a heavier branch of four blocks by miner 8
    await sendModuleCall(b, OTHER, { data: purchaseData(id), value: PRICE, nonce: await nonceOf(b, OTHER) });
    const branch: Block[] = [];
    for (let i = 0; i < 4; i++) branch.push(await mineBlock(b, keyOf(m8), addr(8)));
    for (const block of branch) await a.importBlock(block);
    await a.settled();

    expect(a.chain.head.hash).toBe(b.chain.head.hash);
    const sa = await snapshot(a, [addr(AUTHOR), addr(BUYER), addr(OTHER), REG]);
    const sb = await snapshot(b, [addr(AUTHOR), addr(BUYER), addr(OTHER), REG]);
    expect(sa).toEqual(sb);
    expect(sa.storageRoot).not.toBe(forkRoot);
    expect(sa.accounts.get(REG)!.balance).toBe(PRICE);
    expect([...(await view(a, "getPurchase", [id, addr(BUYER)]))]).toEqual([0n, 0n, false, false]);
    expect((await view(a, "getEncryptedKey", [id, addr(BUYER)]))[0]).toBe("0x");
    expect((await view(a, "getPurchase", [id, addr(OTHER)]))[0]).toBe(PRICE);
    // the purchase is undone with its fee: the buyer has what the genesis gave
    expect(sa.accounts.get(addr(BUYER))!.balance).toBe(genesis.alloc.get(addr(BUYER)));
    // every storage word the dropped blocks wrote reads as the new branch has it
    const state = a.chain.stateAt(a.chain.head.header);
    const stateB = b.chain.stateAt(b.chain.head.header);
    for (let slot = 0n; slot < 4n; slot++) expect(await state.getStorage(REG, slot)).toBe(await stateB.getStorage(REG, slot));
    expect(a.pool.has(purchase)).toBe(true);
    expect(a.pool.has(deliver)).toBe(true);
    // the pooled purchase runs again on the new head
    await mine(a);
    expect(await a.chain.getTxLocation(purchase)).toBeDefined();
    expect((await view(a, "getPurchase", [id, addr(BUYER)]))[0]).toBe(PRICE);
  });
});
