import { afterAll, describe, expect, it } from "@jest/globals";
import { spawn } from "node:child_process";
import { Wallet } from "ethers";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import { ChainEvent, type Block } from "../../../chain/blockchain.js";
import { Bucket, bucketKey, numberKey } from "../../../chain/db/buckets.js";
import type { GenesisConfig } from "../../../chain/genesis.js";
import { effectiveGasPrice, intrinsicGasOf } from "../../../chain/transaction.js";
import { NATIVE_TOKEN_ADDRESS, TRANSFER_TOPIC } from "../../../chain/execution.js";
import { keccak256 } from "../../../chain/keccak.js";
import type { Hex } from "../../../chain/types.js";
import type { Ledger } from "../../../node/ledger.js";
import { devWallet, keyOf, openLedger, tempDir, testGenesis, sendTransfer } from "../../helpers/ledger.js";
import { mineBlock } from "../../helpers/mine.js";

const ONE_VS = 10n ** 18n;
const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const transfer = sendTransfer;

/** Balances implied by replaying the canonical chain's transfers over the genesis allocation. */
async function replayBalances(ledger: Ledger, genesis: GenesisConfig): Promise<Map<Hex, bigint>> {
  const balances = new Map<Hex, bigint>(genesis.alloc);
  const add = (a: Hex, v: bigint): void => {
    balances.set(a, (balances.get(a) ?? 0n) + v);
  };
  for (let n = 1n; n <= ledger.chain.head.header.number; n++) {
    const block = (await ledger.chain.getBlockByNumber(n))!;
    let fees = 0n;
    for (const tx of block.transactions) {
      const fee = intrinsicGasOf(tx) * effectiveGasPrice(tx, block.header.baseFeePerGas);
      add(tx.from, -tx.value - fee);
      add(tx.to, tx.value);
      fees += fee;
    }
    add(block.header.miner, fees + genesis.blockReward);
  }
  return balances;
}

describe("ledger on RocksDB", () => {
  it("mines 200 blocks with transfers and every balance matches a replay of the chain", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis, { minerKey: keyOf(devWallet(9)) });
    closers.push(close);
    const recipients = Array.from({ length: 5 }, () => Wallet.createRandom().address.toLowerCase() as Hex);
    const sent: Hex[] = [];
    const nonces = [0, 0, 0];
    const reached = new Promise<void>((resolve) => {
      const onHead = (e: { head: Block }): void => {
        if (e.head.header.number >= 200n) {
          ledger.chain.off(ChainEvent.newHead, onHead);
          resolve();
        }
      };
      ledger.chain.on(ChainEvent.newHead, onHead);
    });
    // keep a trickle of transfers flowing while the miner works
    let i = 0;
    while (ledger.chain.head.header.number < 190n && i < 150) {
      const from = i % 3;
      sent.push(await transfer(ledger, from, recipients[i % recipients.length]!, BigInt(i + 1) * ONE_VS / 100n, nonces[from]!++));
      i++;
      await new Promise((r) => setTimeout(r, 20));
    }
    await reached;
    await ledger.miner!.stop();
    await ledger.settled();

    const head = ledger.chain.head;
    expect(head.header.number).toBeGreaterThanOrEqual(200n);
    let included = 0;
    for (const hash of sent) {
      const loc = await ledger.chain.getTxLocation(hash);
      if (!loc) continue;
      included++;
      const receipts = (await ledger.chain.getReceipts(loc.blockHash))!;
      expect(receipts[loc.index]!.status).toBe(1);
    }
    expect(included + ledger.pool.size).toBe(sent.length);
    expect(included).toBeGreaterThan(sent.length / 2);

    const expected = await replayBalances(ledger, genesis);
    const state = ledger.chain.headState();
    for (const [address, balance] of expected) {
      expect((await state.getAccount(address)).balance).toBe(balance);
    }
    for (let from = 0; from < 3; from++) {
      const onChain = (await state.getAccount(devWallet(from).address.toLowerCase() as Hex)).nonce;
      expect(onChain).toBeLessThanOrEqual(BigInt(nonces[from]!));
    }
  });

  it("reorgs to a heavier branch of 5 blocks, restoring exact balances and re-pooling dropped transactions", async () => {
    const genesis = await testGenesis();
    const [a, closeA] = await openLedger(genesis);
    const [b, closeB] = await openLedger(genesis);
    closers.push(closeA, closeB);
    const m7 = devWallet(7);
    const m8 = devWallet(8);
    const m9 = devWallet(9);
    const addr = (w: { address: string }): Hex => w.address.toLowerCase() as Hex;

    for (let i = 0; i < 3; i++) {
      const block = await mineBlock(a, keyOf(m7), addr(m7));
      expect((await b.importBlock(block)).status).toBe("head");
    }
    const x = addr(Wallet.createRandom());
    const y = addr(Wallet.createRandom());
    const dropped = await transfer(a, 0, x, 5n * ONE_VS, 0);
    for (let i = 0; i < 3; i++) await mineBlock(a, keyOf(m8), addr(m8));
    expect(await a.chain.getTxLocation(dropped)).toBeDefined();
    const kept = await transfer(b, 1, y, 7n * ONE_VS, 0);
    const branch: Block[] = [];
    for (let i = 0; i < 5; i++) branch.push(await mineBlock(b, keyOf(m9), addr(m9)));

    const tdBefore = a.chain.headTotalDifficulty;
    for (const block of branch) await a.importBlock(block);
    await a.settled();

    expect(a.chain.head.hash).toBe(b.chain.head.hash);
    expect(a.chain.headTotalDifficulty).toBeGreaterThan(tdBefore);
    for (let n = 0n; n <= b.chain.head.header.number; n++) {
      expect(await a.chain.getCanonicalHash(n)).toBe(await b.chain.getCanonicalHash(n));
    }
    const sa = a.chain.headState();
    const sb = b.chain.headState();
    for (const who of [addr(devWallet(0)), addr(devWallet(1)), x, y, addr(m7), addr(m8), addr(m9)]) {
      expect(await sa.getAccount(who)).toEqual(await sb.getAccount(who));
    }
    expect((await sa.getAccount(x)).balance).toBe(0n);
    expect((await sa.getAccount(addr(m8))).balance).toBe(genesis.alloc.get(addr(m8)));
    expect(await a.chain.getTxLocation(dropped)).toBeUndefined();
    expect(await a.chain.getTxLocation(kept)).toBeDefined();
    expect(a.pool.has(dropped)).toBe(true);
    // the heights the old branch reached beyond the new one are gone from the canonical index
    expect(await a.chain.getCanonicalHash(9n)).toBeUndefined();
  });

  it("after SIGKILL in the middle of importing, reopens at the last complete block with no partial block visible", async () => {
    const [dir, removeDir] = tempDir();
    closers.push(removeDir);
    const genesis = await testGenesis();
    const miner = devWallet(9).address.toLowerCase() as Hex;
    let lastHead = -1n;
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/mineChild.ts", dir], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let seen = 0;
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child mined too slowly: ${stderr}`)), 30_000);
        child.stdout.on("data", (d: Buffer) => {
          seen += (d.toString().match(/^head /gm) ?? []).length;
          // kill at a varying point, while blocks are being written back to back
          if (seen >= 5 + round * 3) {
            clearTimeout(timer);
            child.kill("SIGKILL");
            resolve();
          }
        });
      });
      await new Promise((r) => child.once("exit", r));

      const [ledger, close] = await openLedger(genesis, { datadir: dir });
      try {
        const head = ledger.chain.head;
        expect(head.header.number).toBeGreaterThan(lastHead);
        lastHead = head.header.number;
        for (let n = 0n; n <= head.header.number; n++) {
          const block = await ledger.chain.getBlockByNumber(n);
          expect(block).toBeDefined();
          expect(await ledger.chain.getReceipts(block!.hash)).toBeDefined();
        }
        expect(await ledger.chain.getRaw(bucketKey(Bucket.canonical, numberKey(head.header.number + 1n)))).toBeUndefined();
        const headOnDisk = await ledger.chain.getRaw(bucketKey(Bucket.meta, new TextEncoder().encode("head")));
        expect(bytesToHex(headOnDisk!)).toBe(head.hash);
        // the state of the head is complete: the miner holds exactly one reward per block
        const balance = (await ledger.chain.headState().getAccount(miner)).balance;
        expect(balance).toBe(genesis.alloc.get(miner)! + genesis.blockReward * head.header.number);
      } finally {
        await close();
      }
    }
  });
});

describe("native Transfer logs", () => {
  it("every value transfer emits an ERC-20 Transfer log from the native token address, in the receipt and the bloom", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    const to = Wallet.createRandom().address.toLowerCase() as Hex;
    const hash = await transfer(ledger, 2, to, 3n * ONE_VS, 0);
    const block = await mineBlock(ledger, keyOf(devWallet(8)), devWallet(8).address.toLowerCase() as Hex);
    const loc = (await ledger.chain.getTxLocation(hash))!;
    expect(loc.blockHash).toBe(block.hash);
    const [receipt] = (await ledger.chain.getReceipts(block.hash))!;
    const from = devWallet(2).address.toLowerCase().slice(2);
    expect(receipt!.logs).toEqual([
      {
        address: NATIVE_TOKEN_ADDRESS,
        topics: [TRANSFER_TOPIC, `0x${from.padStart(64, "0")}`, `0x${to.slice(2).padStart(64, "0")}`],
        data: `0x${(3n * ONE_VS).toString(16).padStart(64, "0")}`,
      },
    ]);
    // the block bloom contains the emitter and the topics, as ethers and explorers test it
    const bloom = hexToBytes(block.header.logsBloom);
    const inBloom = (item: Hex): boolean => {
      const h = keccak256(hexToBytes(item));
      return [0, 2, 4].every((i) => {
        const bit = ((h[i]! << 8) | h[i + 1]!) & 2047;
        return (bloom[255 - (bit >> 3)]! & (1 << (bit & 7))) !== 0;
      });
    };
    expect(inBloom(NATIVE_TOKEN_ADDRESS)).toBe(true);
    expect(inBloom(TRANSFER_TOPIC)).toBe(true);
    expect(block.header.logsBloom).not.toBe(`0x${"00".repeat(256)}`);
  });
});
