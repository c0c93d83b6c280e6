import { afterAll, describe, expect, it } from "@jest/globals";
import { keccak256 as ethersKeccak, randomBytes } from "ethers";
import { hexToBytes } from "@ethereumjs/util";
import {
  CONTENT_REGISTRY_ADDRESS,
  ChainError,
  ChainErrorCode,
  ExecutionError,
  ExecutionErrorCode,
  ModuleGas,
  TxErrorCode,
  buildBlockTemplate,
  effectiveGasPrice,
  intrinsicGasOf,
  payloadGas,
  payloadHash,
  subchainsRoot,
  type Block,
  type GenesisConfig,
  type Hex,
  type SubBlockHeader,
} from "../../../chain/index.js";
import type { Ledger } from "../../../node/ledger.js";
import { isInvalidBlockError } from "../../../p2p/validity.js";
import { devAddress, openLedger, testGenesis } from "../../helpers/ledger.js";
import { mineAs } from "../../helpers/mine.js";
import { registry, sendModuleCall } from "../../helpers/modules.js";

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const POSTS = 1;
const BT = 2;
const addr = devAddress;
const mine = mineAs;

/** The dev genesis with bt charging 24 gas a payload byte, so two sub-chains charge different rates. */
async function genesisWithRates(): Promise<GenesisConfig> {
  const g = await testGenesis();
  return { ...g, subchains: g.subchains.map((d) => (d.id === BT ? { ...d, payloadGasPerByte: 24n } : d)) };
}

async function open(genesis: GenesisConfig, subchains: number[]): Promise<Ledger> {
  const [l, close] = await openLedger(genesis, { subchains });
  closers.push(close);
  return l;
}

const publishData = (payload: Uint8Array, subchainId: number, deliveryBlocks = 10n): string =>
  registry.encodeFunctionData("publish", [ethersKeccak(payload), subchainId, 10n ** 18n, ethersKeccak(randomBytes(32)), deliveryBlocks]);

/** Gas each transaction of a stored block used, from the cumulative figures of its receipts. */
async function gasUsedOf(l: Ledger, block: Block): Promise<bigint[]> {
  const receipts = (await l.chain.getReceipts(block.hash))!;
  return receipts.map((r, i) => r.cumulativeGasUsed - (i > 0 ? receipts[i - 1]!.cumulativeGasUsed : 0n));
}

describe("payload gas in block execution (RocksDB)", () => {
  it("charges a publish intrinsic + module gas + payloadGasPerByte × length, and the sender pays exactly gasUsed × price", async () => {
    const genesis = await genesisWithRates();
    const l = await open(genesis, [POSTS]);
    const decl = (id: number): GenesisConfig["subchains"][number] => genesis.subchains.find((d) => d.id === id)!;
    const parent = l.chain.head.header;
    const sends = [
      { from: 0, subchainId: POSTS, payload: randomBytes(1000), deliveryBlocks: 10n },
      { from: 1, subchainId: BT, payload: randomBytes(300), deliveryBlocks: 10n },
      // reverts (deliveryBlocks 0) after the call's 2,000 gas: its payload stays in the sub-block, so it pays for it too
      { from: 2, subchainId: POSTS, payload: randomBytes(5000), deliveryBlocks: 0n },
    ];
    const expected = new Map<Hex, { moduleGas: bigint; payloadGas: bigint; from: Hex }>();
    for (const s of sends) {
      const data = publishData(s.payload, s.subchainId, s.deliveryBlocks);
      const hash = await sendModuleCall(l, s.from, { data, nonce: 0, payload: s.payload });
      const raw = hexToBytes(data as Hex);
      // what eth_estimateGas answers (no payload): intrinsic + module gas
      const moduleGas =
        s.deliveryBlocks === 0n
          ? ModuleGas.CALL
          : (await l.chain.simulateCall(parent, { from: addr(s.from), to: CONTENT_REGISTRY_ADDRESS, value: 0n, data: raw, gasLimit: 500_000n, accessList: [] })).gasUsed -
            intrinsicGasOf({ data: raw, accessList: [] });
      expected.set(hash, { moduleGas, payloadGas: payloadGas(decl(s.subchainId), s.payload.length), from: addr(s.from) });
    }
    expect([...expected.values()].map((e) => e.payloadGas)).toEqual([8000n, 7200n, 40000n]);

    const block = await mine(l);
    expect(block.transactions).toHaveLength(3);
    expect(block.subBlocks!.map((h) => [h.subchainId, h.payloadLengths])).toEqual([
      [POSTS, block.transactions.filter((t) => t.from !== addr(1)).map((t) => (t.from === addr(0) ? 1000 : 5000))],
      [BT, [300]],
    ]);
    const used = await gasUsedOf(l, block);
    const receipts = (await l.chain.getReceipts(block.hash))!;
    const before = l.chain.readState(parent);
    const after = l.chain.readState(block.header);
    let fees = 0n;
    for (const [i, tx] of block.transactions.entries()) {
      const e = expected.get(tx.hash)!;
      expect(receipts[i]!.status).toBe(tx.from === addr(2) ? 0 : 1);
      expect(used[i]).toBe(intrinsicGasOf(tx) + e.moduleGas + e.payloadGas);
      const price = effectiveGasPrice(tx, block.header.baseFeePerGas);
      const drop = (await before.getAccount(e.from)).balance - (await after.getAccount(e.from)).balance;
      expect(drop).toBe(used[i]! * price + tx.value);
      fees += used[i]! * price;
    }
    expect(block.header.gasUsed).toBe(used.reduce((a, b) => a + b, 0n));
    const miner = addr(9);
    expect((await after.getAccount(miner)).balance - (await before.getAccount(miner)).balance).toBe(fees + genesis.blockReward);
  });

  it("gives a node that does not follow the sub-chain, and never saw the payload, the same receipts and state root", async () => {
    const genesis = await genesisWithRates();
    const producer = await open(genesis, [POSTS, BT]);
    const stranger = await open(genesis, []);
    const follower = await open(genesis, [POSTS]);
    const posts = randomBytes(2000);
    const bt = randomBytes(700);
    await sendModuleCall(producer, 0, { data: publishData(posts, POSTS), nonce: 0, payload: posts });
    await sendModuleCall(producer, 1, { data: publishData(bt, BT), nonce: 0, payload: bt });
    const block = await mine(producer);
    expect(block.transactions).toHaveLength(2);
    const mined = await gasUsedOf(producer, block);

    for (const l of [stranger, follower]) {
      expect(l.payloads.size).toBe(0);
      expect((await l.importBlock(block)).status).toBe("head");
      await l.settled();
      expect(l.chain.head.header.stateRoot).toBe(block.header.stateRoot);
      expect(await l.chain.getReceipts(block.hash)).toEqual(await producer.chain.getReceipts(block.hash));
      expect(await gasUsedOf(l, block)).toEqual(mined);
    }
    // neither holds the bytes; the follower wants its sub-chain's
    expect(await stranger.chain.subchains.getWantedPayloads()).toEqual([]);
    expect((await follower.chain.subchains.getWantedPayloads()).map((w) => w.subchainId)).toEqual([POSTS]);
  });

  it("leaves out a publish whose gas limit does not cover its payload gas; pooled without the payload, it leaves the pool when the payload comes", async () => {
    const genesis = await genesisWithRates();
    const l = await open(genesis, [POSTS]);
    const payload = randomBytes(1000);
    const data = publishData(payload, POSTS);
    const needed = intrinsicGasOf({ data: hexToBytes(data as Hex), accessList: [] }) + 8000n;
    // with its payload the pool refuses it at once
    await expect(sendModuleCall(l, 0, { data, nonce: 0, payload, gasLimit: needed - 1n })).rejects.toMatchObject({ code: "PAYLOAD_INTRINSIC_GAS_TOO_LOW" });
    // without it (eth_sendRawTransaction) it is pooled; when the payload arrives it leaves the pool, the payload stays
    const tx = await sendModuleCall(l, 0, { data, nonce: 0, gasLimit: needed - 1n });
    const pooled = l.pool.get(tx)!;
    l.payloads.add(POSTS, payload);
    expect(l.pool.has(tx)).toBe(false);
    expect(l.payloads.has(payloadHash(payload))).toBe(true);
    // a builder handed it with its payload anyway leaves it out
    const template = await buildBlockTemplate(
      l.chain,
      l.chain.head.header,
      { miner: addr(9), timestamp: l.chain.head.header.timestamp + 2n, difficulty: 1n, extraData: "0x" },
      [pooled],
      { payloadsFor: (h) => (h === tx ? [payload] : undefined) },
    );
    expect(template.transactions).toEqual([]);
    expect(template.subBlocks).toEqual([]);
  });

  it("refuses sub-block headers whose payload lengths disagree with the count, the sum, the real payloads or the publish's gas", async () => {
    const genesis = await genesisWithRates();
    const producer = await open(genesis, [POSTS]);
    const holder = await open(genesis, [POSTS]);
    const stranger = await open(genesis, []);
    const small = randomBytes(100);
    const large = randomBytes(300);
    const hashes = [
      await sendModuleCall(producer, 0, { data: publishData(small, POSTS), nonce: 0, payload: small }),
      await sendModuleCall(producer, 1, { data: publishData(large, POSTS), nonce: 0, payload: large }),
    ];
    holder.payloads.add(POSTS, small);
    holder.payloads.add(POSTS, large);
    const job = await producer.producer.job(addr(9));
    const { header, transactions, subBlocks } = job.template;
    expect(transactions.map((t) => t.hash).sort()).toEqual([...hashes].sort());
    const sub = subBlocks[0]!;
    const realLengths = transactions.map((t) => (t.hash === hashes[0] ? 100 : 300));
    expect(sub.payloadLengths).toEqual(realLengths);
    const tryImport = async (l: Ledger, patch: Partial<SubBlockHeader>): Promise<{ code: string; txCode?: string }> => {
      const subs = [{ ...sub, ...patch }];
      try {
        await l.chain.importBlock({ header: { ...header, subchainsRoot: subchainsRoot(subs) }, transactions, hash: `0x${"22".repeat(32)}`, subBlocks: subs });
      } catch (e) {
        return { code: (e as { code: string }).code, txCode: (e as { type?: { txCode?: string } }).type?.txCode };
      }
      throw new Error("expected a rejection");
    };

    // one length too many, or lengths that do not sum to payloadBytes: the header alone is wrong
    const extra = await tryImport(stranger, { payloadLengths: [...realLengths, 1] });
    const sum = await tryImport(stranger, { payloadLengths: realLengths.map((n, i) => (i === 0 ? n + 1 : n)) });
    expect([extra.code, sum.code]).toEqual([ChainErrorCode.BAD_SUB_BLOCK, ChainErrorCode.BAD_SUB_BLOCK]);
    // the same count and sum in the wrong order: a node holding the payloads sees the lie
    const swapped = await tryImport(holder, { payloadLengths: [...realLengths].reverse() });
    expect(swapped.code).toBe(ChainErrorCode.MISSING_PAYLOAD);
    // a length the publish's gas limit (500,000) cannot pay for: the block is invalid even without the bytes
    const long = 60_000;
    const tooLong = await tryImport(stranger, {
      payloadLengths: realLengths.map((n, i) => (i === 0 ? long : n)),
      payloadBytes: sub.payloadBytes - realLengths[0]! + long,
    });
    expect(tooLong).toEqual({ code: ExecutionErrorCode.INVALID_TX, txCode: TxErrorCode.INTRINSIC_GAS_TOO_LOW });
    // p2p counts every one as an invalid block (the peer's fault)
    expect(isInvalidBlockError(new ChainError({ code: ChainErrorCode.BAD_SUB_BLOCK }))).toBe(true);
    expect(isInvalidBlockError(new ChainError({ code: ChainErrorCode.MISSING_PAYLOAD }))).toBe(true);
    expect(isInvalidBlockError(new ExecutionError({ code: ExecutionErrorCode.INVALID_TX }))).toBe(true);
    expect([stranger.chain.head.header.number, holder.chain.head.header.number]).toEqual([0n, 0n]);
  });
});
