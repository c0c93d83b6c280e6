import { afterAll, describe, expect, it } from "@jest/globals";
import { bytesToBigInt, bytesToHex } from "@ethereumjs/util";
import { randomBytes } from "node:crypto";
import { type BlockHeader, headerHash } from "../../../chain/block.js";
import type { Block } from "../../../chain/blockchain.js";
import type { Hex } from "../../../chain/types.js";
import { ConsensusErrorCode } from "../../../consensus/blockImporter.js";
import { computeMixHash, sealHeader, sealMessage, signSeal, SealErrorCode } from "../../../consensus/seal.js";
import { TimestampErrorCode } from "../../../consensus/difficulty.js";
import { WorkErrorCode } from "../../../consensus/workProvider.js";
import { sealHash } from "../../../chain/block.js";
import type { Ledger } from "../../../node/ledger.js";
import { devWallet, keyOf, openLedger, testGenesis, devAddress } from "../../helpers/ledger.js";
import { mineBlock } from "../../helpers/mine.js";
import { codeOf as rejection } from "../../helpers/rejection.js";

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const addr = devAddress;

/** Seals `header` as given (no template), searching nonces until the target of penalty r is met. */
async function seal(ledger: Ledger, header: BlockHeader, keyIndex: number, r: number): Promise<Block> {
  const sealed = await sealHeader(header, keyOf(devWallet(keyIndex)), ledger.chain.genesis.consensus.scrypt, r, {
    startNonce: bytesToBigInt(randomBytes(8)),
    maxTries: 1_000_000,
  });
  return { header: sealed!, transactions: [], hash: headerHash(sealed!) };
}

describe("block importer (restricted proof of work on RocksDB)", () => {
  it("rejects a second block by the same miner at one height and bans the miner for banBlocks", async () => {
    const genesis = await testGenesis({ banBlocks: 3 });
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    const first = await mineBlock(ledger, keyOf(devWallet(7)), addr(7));
    // same miner, same parent, different content: equivocation
    const job = await ledger.producer.job(addr(7));
    const twin = await seal(ledger, { ...first.header, extraData: "0x01" }, 7, job.penaltyExponent);
    expect(twin.hash).not.toBe(first.hash);
    expect(await rejection(ledger.importBlock(twin))).toBe(ConsensusErrorCode.EQUIVOCATION);
    expect(ledger.chain.head.hash).toBe(first.hash);
    expect(await ledger.importer.bannedUntil(addr(7))).toBe(1n + 3n);

    // while banned, the miner's blocks are refused; others keep the chain going
    const b2 = await mineBlock(ledger, keyOf(devWallet(8)), addr(8));
    const banned = await ledger.producer.job(addr(7));
    const refused = await seal(ledger, banned.template.header, 7, banned.penaltyExponent);
    expect(await rejection(ledger.importBlock(refused))).toBe(ConsensusErrorCode.MINER_BANNED);
    expect(ledger.chain.head.hash).toBe(b2.hash);
    await mineBlock(ledger, keyOf(devWallet(8)), addr(8));
    await mineBlock(ledger, keyOf(devWallet(9)), addr(9));
    // height 5 is past the ban: the miner is accepted again
    const back = await mineBlock(ledger, keyOf(devWallet(7)), addr(7));
    expect(ledger.chain.head.hash).toBe(back.hash);
  });

  it("applies the streak penalty: a lone miner must meet difficulty * 2^r", async () => {
    const genesis = await testGenesis({ streakWindow: 4 });
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    for (let i = 0; i < 4; i++) await mineBlock(ledger, keyOf(devWallet(9)), addr(9));
    const job = await ledger.producer.job(addr(9));
    expect(job.penaltyExponent).toBe(4);
    const other = await ledger.producer.job(addr(8));
    expect(other.penaltyExponent).toBe(0);
    // a seal good enough for r = 0 but not r = 4 is refused with the penalty named
    let weak: Block | null = null;
    while (!weak) {
      const b = await seal(ledger, job.template.header, 9, 0);
      if (bytesToBigInt(Buffer.from(b.header.mixHash.slice(2), "hex")) > (1n << 256n) / (job.template.header.difficulty << 4n)) weak = b;
    }
    expect(await rejection(ledger.importBlock(weak))).toBe(SealErrorCode.STREAK_PENALTY_NOT_MET);
    const strong = await seal(ledger, job.template.header, 9, 4);
    expect((await ledger.importBlock(strong)).status).toBe("head");
  });

  it("refuses a wrong difficulty, a timestamp too far ahead, an ineligible miner and a foreign signature", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    const job = await ledger.producer.job(addr(9));
    const h = job.template.header;
    const r = job.penaltyExponent;
    expect(await rejection(ledger.importBlock(await seal(ledger, { ...h, difficulty: h.difficulty + 1n }, 9, r)))).toBe(
      ConsensusErrorCode.BAD_DIFFICULTY,
    );
    const ahead = { ...h, timestamp: ledger.chain.head.header.timestamp + BigInt(genesis.consensus.blockTime) + 16n };
    expect(await rejection(ledger.importBlock(await seal(ledger, ahead, 9, r)))).toBe(TimestampErrorCode.TIMESTAMP_TOO_FAR_AHEAD);
    const outsider = await ledger.producer.job(addr(3));
    expect(await rejection(ledger.importBlock(await seal(ledger, outsider.template.header, 3, 0)))).toBe(SealErrorCode.NOT_ELIGIBLE);
    // a valid seal whose signature is then replaced by another key's
    const good = await seal(ledger, h, 9, r);
    const nonce = Buffer.from(good.header.nonce.slice(2), "hex");
    const mix = Buffer.from(good.header.mixHash.slice(2), "hex");
    const forged = { ...good.header, sealSignature: signSeal(sealMessage(sealHash(good.header), nonce, mix), keyOf(devWallet(8))) };
    expect(await rejection(ledger.importBlock({ ...good, header: forged, hash: headerHash(forged) }))).toBe(SealErrorCode.BAD_SIGNATURE);
    expect((await ledger.importBlock(good)).status).toBe("head");
  });

  it("serves work packages and accepts one solution per miner per height", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    const key = keyOf(devWallet(8));
    const solve = async (work: { sealHash: Hex; target: Hex }): Promise<{ sealHash: Hex; nonce: Hex; mixHash: Hex; signature: Hex }> => {
      const sh = Buffer.from(work.sealHash.slice(2), "hex");
      for (let n = 0n; ; n++) {
        const nonce = Buffer.alloc(8);
        nonce.writeBigUInt64BE(n);
        const mix = await computeMixHash(sh, nonce, addr(8), genesis.consensus.scrypt);
        if (bytesToBigInt(mix) > BigInt(work.target)) continue;
        return { sealHash: work.sealHash, nonce: bytesToHex(nonce) as Hex, mixHash: bytesToHex(mix) as Hex, signature: signSeal(sealMessage(sh, nonce, mix), key) };
      }
    };
    const first = await ledger.work.getWork(addr(8));
    expect(first.number).toBe(1n);
    // a transaction arrives: a second, different package for the same height
    const raw = await devWallet(0).signTransaction({ type: 2, chainId: 1984, nonce: 0, to: addr(5), value: 1n, gasLimit: 21000, maxFeePerGas: 2n * 10n ** 9n, maxPriorityFeePerGas: 1n });
    await ledger.submitRawTransaction(Buffer.from(raw.slice(2), "hex"));
    const second = await ledger.work.getWork(addr(8));
    expect(second.number).toBe(1n);
    expect(second.sealHash).not.toBe(first.sealHash);

    expect((await ledger.work.submitWork(await solve(second))).status).toBe("head");
    expect(ledger.chain.head.transactions).toHaveLength(1);
    expect(await rejection(ledger.work.submitWork(await solve(first)))).toBe(WorkErrorCode.ALREADY_SUBMITTED);
    // refused at the work interface: no equivocation, no ban
    expect(await ledger.importer.bannedUntil(addr(8))).toBeUndefined();
    expect(await rejection(ledger.work.submitWork({ ...(await solve(first)), sealHash: `0x${"00".repeat(32)}` }))).toBe(WorkErrorCode.UNKNOWN_WORK);
    expect(await rejection(ledger.work.getWork(addr(2)))).toBe(WorkErrorCode.NOT_ELIGIBLE);
  });

  it("keeps the event loop free while the in-process miner seals with dev scrypt parameters", async () => {
    const genesis = await testGenesis({ scrypt: { N: 1024, r: 8, p: 1 } });
    const [ledger, close] = await openLedger(genesis, { minerKey: keyOf(devWallet(9)) });
    closers.push(close);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    while (ledger.miner!.hashCount < 300) await new Promise((r) => setTimeout(r, 20));
    clearInterval(timer);
    await ledger.miner!.stop();
    // 300 hashes of about 2 ms each: a miner hashing on the event loop would starve the 5 ms timer
    expect(ledger.chain.head.header.number).toBeGreaterThan(0n);
    expect(ticks).toBeGreaterThan(10);
  });
});

describe("block importer under concurrency", () => {
  it("detects equivocation when two twins arrive at the same time", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    const job = await ledger.producer.job(addr(7));
    const a = await seal(ledger, job.template.header, 7, job.penaltyExponent);
    const b = await seal(ledger, { ...job.template.header, extraData: "0x02" }, 7, job.penaltyExponent);
    const results = await Promise.allSettled([ledger.importBlock(a), ledger.importBlock(b)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect((rejected.reason as { code: string }).code).toBe(ConsensusErrorCode.EQUIVOCATION);
    expect(await ledger.importer.bannedUntil(addr(7))).toBeDefined();
  });
});

describe("equivocation is two blocks by one miner on the same parent", () => {
  it("accepts a miner sealing again at a height on another parent (as after a reorg), without a ban", async () => {
    const genesis = await testGenesis();
    const [a, closeA] = await openLedger(genesis);
    const [b, closeB] = await openLedger(genesis);
    closers.push(closeA, closeB);
    await mineBlock(a, keyOf(devWallet(7)), addr(7)); // a1
    const d2 = await mineBlock(a, keyOf(devWallet(9)), addr(9)); // miner 9 at height 2 on a1
    const b1 = await mineBlock(b, keyOf(devWallet(8)), addr(8));
    const c2 = await mineBlock(b, keyOf(devWallet(9)), addr(9)); // miner 9 at height 2 again, on b1
    expect(c2.header.number).toBe(d2.header.number);
    expect(c2.header.parentHash).not.toBe(d2.header.parentHash);
    await a.importBlock(b1);
    expect(["head", "side"]).toContain((await a.importBlock(c2)).status);
    expect(await a.importer.bannedUntil(addr(9))).toBeUndefined();
    expect(await a.chain.getTotalDifficulty(c2.hash)).toBe(await a.chain.getTotalDifficulty(d2.hash));
  });

  it("refuses one of two concurrent work submissions on one parent, without banning the node's own miner", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    const work = await ledger.work.getWork(addr(8));
    const sh = Buffer.from(work.sealHash.slice(2), "hex");
    const solutions: { sealHash: Hex; nonce: Hex; mixHash: Hex; signature: Hex }[] = [];
    for (let n = 0n; solutions.length < 2; n++) {
      const nonce = Buffer.alloc(8);
      nonce.writeBigUInt64BE(n);
      const mix = await computeMixHash(sh, nonce, addr(8), genesis.consensus.scrypt);
      if (bytesToBigInt(mix) > BigInt(work.target)) continue;
      solutions.push({ sealHash: work.sealHash, nonce: bytesToHex(nonce) as Hex, mixHash: bytesToHex(mix) as Hex, signature: signSeal(sealMessage(sh, nonce, mix), keyOf(devWallet(8))) });
    }
    const results = await Promise.allSettled(solutions.map((sol) => ledger.work.submitWork(sol)));
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason as { code: string }).code).toBe(WorkErrorCode.ALREADY_SUBMITTED);
    expect(await ledger.importer.bannedUntil(addr(8))).toBeUndefined();
    expect(ledger.chain.head.header.number).toBe(1n);
  });
});

describe("cheap checks before the seal", () => {
  it("refuses a header with a wrong gas limit or number before computing any scrypt", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    const job = await ledger.producer.job(addr(9));
    // an unsealed header (zero signature): if the seal were checked first this would be a seal error
    const unsealed = job.template.header;
    expect(await rejection(ledger.importBlock({ header: { ...unsealed, gasLimit: unsealed.gasLimit + 1n }, transactions: [], hash: headerHash(unsealed) }))).toBe(
      "CHAIN_BAD_GAS_LIMIT",
    );
    expect(await rejection(ledger.importBlock({ header: { ...unsealed, number: 5n }, transactions: [], hash: headerHash(unsealed) }))).toBe("CHAIN_BAD_NUMBER");
    expect(await rejection(ledger.importBlock({ header: unsealed, transactions: [], hash: headerHash(unsealed) }))).toBe(SealErrorCode.BAD_SIGNATURE);
  });
});
