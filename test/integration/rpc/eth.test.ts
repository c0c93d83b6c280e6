import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Transaction, Wallet } from "ethers";
import { verifyMerkleProof } from "@ethereumjs/mpt";
import { RLP } from "@ethereumjs/rlp";
import { bytesToBigInt, bytesToHex, hexToBytes } from "@ethereumjs/util";
import {
  EMPTY_TRIE_ROOT,
  buildBlockTemplate,
  headerHash,
  EMPTY_UNCLES_HASH,
  KECCAK_EMPTY,
  NATIVE_TOKEN_ADDRESS,
  TRANSFER_TOPIC,
  keccak256,
  type Block,
  type Hex,
} from "../../../chain/index.js";
import { computeMixHash, sealHeader, sealMessage, signSeal } from "../../../consensus/index.js";
import { devAccount } from "../../../node/devAccounts.js";
import type { Ledger } from "../../../node/ledger.js";
import { ethMethods, type EthDeps } from "../../../rpc/eth.js";
import { MethodRegistry } from "../../../rpc/rpcMethod.js";
import { vsMethods } from "../../../rpc/vs.js";
import { devWallet, keyOf, openLedger, testGenesis, sendTransfer } from "../../helpers/ledger.js";
import { mineBlock } from "../../helpers/mine.js";
import { serveRegistry, rpcError } from "../../helpers/rpcClient.js";
import { expectValidResult } from "../../helpers/spec.js";

const GWEI = 10n ** 9n;
const ONE_VS = 10n ** 18n;
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

type Call = (name: string, ...params: unknown[]) => Promise<unknown>;

/**
 * The eth_ (and vs_) methods over a ledger on RocksDB, served by the real RPC server on a random
 * port; `call` is a JSON-RPC request over HTTP that checks every spec-defined answer.
 */
function registryFor(ledger: Ledger, overrides: Partial<EthDeps> = {}): Call {
  const registry = new MethodRegistry().register(
    ...ethMethods({
      chain: ledger.chain,
      pool: ledger.pool,
      submitRawTransaction: (raw) => ledger.submitRawTransaction(raw),
      work: ledger.work,
      miner: ledger.miner,
      coinbase: null,
      devAccounts: [],
      ...overrides,
    }),
    ...vsMethods({ chain: ledger.chain }),
  );
  const [call, close] = serveRegistry(registry);
  closers.push(close);
  return call;
}


const minerWallet = devWallet(9);
const mine = (ledger: Ledger): Promise<Block> => mineBlock(ledger, keyOf(minerWallet), minerWallet.address.toLowerCase() as Hex);

function sendType2(ledger: Ledger, from: number, to: string, value: bigint, nonce: number, tipGwei: bigint, maxFeeGwei = 10n): Promise<Hex> {
  return sendTransfer(ledger, from, to, value, nonce, { maxFeePerGas: maxFeeGwei * GWEI, maxPriorityFeePerGas: tipGwei * GWEI });
}

describe("eth_ methods over a mined chain", () => {
  let ledger: Ledger;
  let call: Call;
  const dev0 = devWallet(0).address.toLowerCase() as Hex;
  const dev1 = devWallet(1).address.toLowerCase() as Hex;
  const recipient = Wallet.createRandom().address.toLowerCase() as Hex;
  let before: Block; // the last block before any transfer
  let blockA: Block; // a type 2 transfer (tip 1 gwei) and a legacy one with data (gas price 3 gwei)
  let blockB: Block; // a type 2 transfer with tip 5 gwei
  let txA1: Hex;
  let txA2: Hex;
  let txB: Hex;

  beforeAll(async () => {
    const [l, close] = await openLedger(await testGenesis());
    closers.push(close);
    ledger = l;
    call = registryFor(ledger, { coinbase: minerWallet.address.toLowerCase() as Hex });
    for (let i = 0; i < 25; i++) before = await mine(ledger);
    txA1 = await sendType2(ledger, 0, recipient, ONE_VS, 0, 1n);
    const legacy = await devWallet(1).signTransaction({
      type: 0,
      chainId: Number(ledger.chain.genesis.chainId),
      nonce: 0,
      to: recipient,
      value: ONE_VS / 2n,
      gasLimit: 30000,
      gasPrice: 3n * GWEI,
      data: "0x00ff",
    });
    txA2 = await ledger.submitRawTransaction(hexToBytes(legacy as Hex));
    blockA = await mine(ledger);
    txB = await sendType2(ledger, 0, recipient, 2n * ONE_VS, 1, 5n);
    blockB = await mine(ledger);
    for (let i = 0; i < 3; i++) await mine(ledger);
  });

  it("answers chain id, head number, syncing, coinbase, mining and accounts", async () => {
    expect(await call("eth_chainId")).toBe("0x7c0");
    expect(await call("eth_blockNumber")).toBe(`0x${ledger.chain.head.header.number.toString(16)}`);
    expect(await call("eth_syncing")).toBe(false);
    expect(await call("eth_coinbase")).toBe(minerWallet.address.toLowerCase());
    expect(await call("eth_mining")).toBe(false);
    expect(await call("eth_accounts")).toEqual([]);
    const e = await rpcError(registryFor(ledger)("eth_coinbase"));
    expect(e.code).toBe(-32000);
    expect(e.message).toMatch(/no coinbase/);
  });

  it("reports sync progress from the P2P layer in the execution-apis shape", async () => {
    const syncing = registryFor(ledger, { syncing: () => ({ startingBlock: 3n, currentBlock: 120n, highestBlock: 200n }) });
    const result = await syncing("eth_syncing");
    expect(result).toEqual({ startingBlock: "0x3", currentBlock: "0x78", highestBlock: "0xc8" });
    expectValidResult("eth_syncing", result);
    expect(await registryFor(ledger, { syncing: () => false })("eth_syncing")).toBe(false);
  });

  it("moves balances by exactly value plus fee, and keeps the earlier state readable", async () => {
    const receipt1 = (await call("eth_getTransactionReceipt", txA1)) as Record<string, string>;
    const receiptB = (await call("eth_getTransactionReceipt", txB)) as Record<string, string>;
    const fee = (r: Record<string, string>): bigint => BigInt(r.gasUsed!) * BigInt(r.effectiveGasPrice!);
    const atBefore = BigInt((await call("eth_getBalance", dev0, `0x${before.header.number.toString(16)}`)) as string);
    const latest = BigInt((await call("eth_getBalance", dev0, "latest")) as string);
    expect(atBefore).toBe(10_000n * ONE_VS);
    expect(atBefore - latest).toBe(ONE_VS + 2n * ONE_VS + fee(receipt1) + fee(receiptB));
    expect(fee(receipt1)).toBe(21000n * 2n * GWEI); // base fee 1 gwei + tip 1 gwei
    expect(fee(receiptB)).toBe(21000n * 6n * GWEI);
    expect(await call("eth_getBalance", recipient, `0x${before.header.number.toString(16)}`)).toBe("0x0");
    expect(BigInt((await call("eth_getBalance", recipient)) as string)).toBe(ONE_VS + ONE_VS / 2n + 2n * ONE_VS);
    // between the two transfer blocks
    expect(BigInt((await call("eth_getBalance", recipient, { blockHash: blockA.hash })) as string)).toBe(ONE_VS + ONE_VS / 2n);
    // a bare 32-byte string is a block hash (as geth reads it and ethers sends it), not a number
    expect(BigInt((await call("eth_getBalance", recipient, blockA.hash)) as string)).toBe(ONE_VS + ONE_VS / 2n);
    expect(await call("eth_getBalance", recipient, { blockNumber: `0x${blockA.header.number.toString(16)}` })).toBe(
      await call("eth_getBalance", recipient, { blockHash: blockA.hash, requireCanonical: true }),
    );
    expect(BigInt((await call("eth_getBalance", dev0, "earliest")) as string)).toBe(10_000n * ONE_VS);
    expect(await call("eth_getBalance", dev0, "pending")).toBe(await call("eth_getBalance", dev0, "latest"));
  });

  it("names safe (6 below the head) and finalized (24 below) blocks", async () => {
    const head = ledger.chain.head.header.number;
    const safe = (await call("eth_getBlockByNumber", "safe", false)) as { number: string };
    const finalized = (await call("eth_getBlockByNumber", "finalized", false)) as { number: string };
    expect(BigInt(safe.number)).toBe(head - 6n);
    expect(BigInt(finalized.number)).toBe(head - 24n);
    expect((await call("eth_getBlockByNumber", "earliest", false)) as { hash: string }).toMatchObject({ number: "0x0", hash: ledger.chain.genesisHash });
  });

  it("refuses unknown blocks for state queries with -32001", async () => {
    const beyond = `0x${(ledger.chain.head.header.number + 1n).toString(16)}`;
    for (const m of ["eth_getBalance", "eth_getTransactionCount", "eth_getCode"]) {
      const e = await rpcError(call(m, dev0, beyond));
      expect(e.code).toBe(-32001);
      expect(e.message).toBe("header not found");
    }
    const unknownHash = `0x${"ab".repeat(32)}`;
    const e = await rpcError(call("eth_getBalance", dev0, { blockHash: unknownHash }));
    expect(e.code).toBe(-32001);
    expect(e.message).toContain(unknownHash);
    expect((await rpcError(call("eth_getStorageAt", dev0, "0x0", beyond))).code).toBe(-32001);
    expect((await rpcError(call("eth_getProof", dev0, [], beyond))).code).toBe(-32001);
    expect((await rpcError(call("eth_call", { to: dev1 }, beyond))).code).toBe(-32001);
  });

  it("reports nonces at a block, and the pending nonce over gapless pooled transactions", async () => {
    expect(await call("eth_getTransactionCount", dev0)).toBe("0x2");
    expect(await call("eth_getTransactionCount", dev0, `0x${before.header.number.toString(16)}`)).toBe("0x0");
    expect(await call("eth_getTransactionCount", dev0, `0x${blockA.header.number.toString(16)}`)).toBe("0x1");
    const sender = 4;
    const addr = devWallet(sender).address.toLowerCase();
    await sendType2(ledger, sender, recipient, 1n, 0, 1n);
    await sendType2(ledger, sender, recipient, 1n, 1, 1n);
    await sendType2(ledger, sender, recipient, 1n, 3, 1n); // behind a gap: not counted
    expect(await call("eth_getTransactionCount", addr, "latest")).toBe("0x0");
    expect(await call("eth_getTransactionCount", addr, "pending")).toBe("0x2");
  });

  it("answers code and storage as an account without an EVM has them", async () => {
    expect(await call("eth_getCode", dev0)).toBe("0x");
    expect(await call("eth_getCode", dev0, "earliest")).toBe("0x");
    expect(await call("eth_getStorageAt", dev0, "0x0")).toBe(`0x${"00".repeat(32)}`);
    expect(await call("eth_getStorageAt", dev0, `0x${"00".repeat(31)}01`, "latest")).toBe(`0x${"00".repeat(32)}`);
  });

  it("proves balances with EIP-1186 proofs that verify against the block's state root", async () => {
    for (const block of [before, blockA, ledger.chain.head]) {
      const tag = `0x${block.header.number.toString(16)}`;
      const keys = ["0x0", `0x${"11".repeat(32)}`];
      const proof = (await call("eth_getProof", dev0, keys, tag)) as {
        address: string;
        accountProof: Hex[];
        balance: string;
        nonce: string;
        codeHash: string;
        storageHash: string;
        storageProof: { key: string; value: string; proof: string[] }[];
      };
      expect(proof.address).toBe(dev0);
      expect(proof.codeHash).toBe(KECCAK_EMPTY);
      expect(proof.storageHash).toBe(EMPTY_TRIE_ROOT);
      expect(proof.storageProof).toEqual(keys.map((key) => ({ key, value: "0x0", proof: [] })));
      // the state trie is a secure trie: the key is keccak256(address)
      const leaf = await verifyMerkleProof(keccak256(hexToBytes(dev0)), proof.accountProof.map((n) => hexToBytes(n)), {
        root: hexToBytes(block.header.stateRoot),
      });
      expect(leaf).not.toBeNull();
      const [nonce, balance, storageRoot, codeHash] = RLP.decode(leaf!) as Uint8Array[];
      expect(bytesToBigInt(balance!)).toBe(BigInt(proof.balance));
      expect(bytesToBigInt(nonce!)).toBe(BigInt(proof.nonce));
      expect(bytesToHex(storageRoot!)).toBe(EMPTY_TRIE_ROOT);
      expect(bytesToHex(codeHash!)).toBe(KECCAK_EMPTY);
      expect(proof.balance).toBe(await call("eth_getBalance", dev0, tag));
    }
    // an account never seen: a proof of absence, balance 0
    const nobody = Wallet.createRandom().address.toLowerCase() as Hex;
    const absent = (await call("eth_getProof", nobody, [])) as { accountProof: Hex[]; balance: string };
    expect(absent.balance).toBe("0x0");
    const none = await verifyMerkleProof(keccak256(hexToBytes(nobody)), absent.accountProof.map((n) => hexToBytes(n)), {
      root: hexToBytes(ledger.chain.head.header.stateRoot),
    });
    expect(none).toBeNull();
    // a proof against another block's root does not verify
    const old = (await call("eth_getProof", dev0, [], `0x${before.header.number.toString(16)}`)) as { accountProof: Hex[] };
    await expect(
      verifyMerkleProof(keccak256(hexToBytes(dev0)), old.accountProof.map((n) => hexToBytes(n)), { root: hexToBytes(ledger.chain.head.header.stateRoot) }),
    ).rejects.toThrow();
  });

  it("returns blocks by number and by hash alike, with Ethereum's fields and VS1984's extras", async () => {
    const n = `0x${blockA.header.number.toString(16)}`;
    const byNumber = (await call("eth_getBlockByNumber", n, false)) as Record<string, unknown>;
    const byHash = (await call("eth_getBlockByHash", blockA.hash, false)) as Record<string, unknown>;
    expect(byHash).toEqual(byNumber);
    expect(byNumber).toMatchObject({
      number: n,
      hash: blockA.hash,
      parentHash: blockA.header.parentHash,
      sha3Uncles: EMPTY_UNCLES_HASH,
      uncles: [],
      miner: minerWallet.address.toLowerCase(),
      stateRoot: blockA.header.stateRoot,
      transactionsRoot: blockA.header.transactionsRoot,
      receiptsRoot: blockA.header.receiptsRoot,
      logsBloom: blockA.header.logsBloom,
      nonce: blockA.header.nonce,
      mixHash: blockA.header.mixHash,
      difficulty: "0x1",
      totalDifficulty: `0x${(blockA.header.number + 1n).toString(16)}`,
      gasUsed: `0x${(21000n + 21020n).toString(16)}`,
      baseFeePerGas: "0x3b9aca00",
      transactions: [txA2, txA1], // the producer puts the higher tip (the legacy one's 2 gwei) first
      subchainsRoot: EMPTY_TRIE_ROOT,
      sealSignature: blockA.header.sealSignature,
    });
    const rawBytes = blockA.transactions.reduce((s, t) => s + t.raw.length, 0);
    expect(Number(byNumber.size)).toBeGreaterThan(rawBytes + 500);
    const full = (await call("eth_getBlockByNumber", n, true)) as { transactions: { hash: string; blockHash: string; transactionIndex: string }[] };
    expect(full.transactions.map((t) => [t.hash, t.blockHash, t.transactionIndex])).toEqual([
      [txA2, blockA.hash, "0x0"],
      [txA1, blockA.hash, "0x1"],
    ]);
    expect(await call("eth_getBlockByHash", blockA.hash, true)).toEqual(full);
    expect(await call("eth_getBlockByNumber", "latest", false)).toEqual(await call("eth_getBlockByHash", ledger.chain.head.hash, false));
    expect(await call("eth_getBlockByNumber", "pending", false)).toEqual(await call("eth_getBlockByNumber", "latest", false));
    // unknown: null, as the spec says
    expect(await call("eth_getBlockByNumber", "0xffffff", false)).toBeNull();
    expect(await call("eth_getBlockByHash", `0x${"cd".repeat(32)}`, true)).toBeNull();
    expect(await call("eth_getBlockTransactionCountByHash", blockA.hash)).toBe("0x2");
    expect(await call("eth_getBlockTransactionCountByNumber", n)).toBe("0x2");
    expect(await call("eth_getBlockTransactionCountByNumber", "earliest")).toBe("0x0");
    expect(await call("eth_getBlockTransactionCountByHash", `0x${"cd".repeat(32)}`)).toBeNull();
    expect(await call("eth_getBlockTransactionCountByNumber", "0xffffff")).toBeNull();
  });

  it("returns transactions whose fields re-serialize to the signed transaction", async () => {
    for (const hash of [txA1, txA2, txB]) {
      const tx = (await call("eth_getTransactionByHash", hash)) as Record<string, string | null> & { accessList?: [] };
      const rebuilt = Transaction.from({
        type: Number(tx.type),
        chainId: BigInt(tx.chainId!),
        nonce: Number(tx.nonce),
        to: tx.to,
        value: BigInt(tx.value!),
        data: tx.input,
        gasLimit: BigInt(tx.gas!),
        ...(tx.type === "0x2"
          ? { maxFeePerGas: BigInt(tx.maxFeePerGas!), maxPriorityFeePerGas: BigInt(tx.maxPriorityFeePerGas!), accessList: tx.accessList }
          : { gasPrice: BigInt(tx.gasPrice!) }),
        signature: { r: `0x${BigInt(tx.r!).toString(16).padStart(64, "0")}`, s: `0x${BigInt(tx.s!).toString(16).padStart(64, "0")}`, v: BigInt(tx.v!) },
      });
      expect(rebuilt.hash).toBe(hash);
      expect(rebuilt.from!.toLowerCase()).toBe(tx.from);
    }
    const a1 = (await call("eth_getTransactionByHash", txA1)) as Record<string, string>;
    expect(a1).toMatchObject({ blockHash: blockA.hash, blockNumber: `0x${blockA.header.number.toString(16)}`, transactionIndex: "0x1", from: dev0, gasPrice: `0x${(2n * GWEI).toString(16)}`, yParity: a1.v });
    const a2 = (await call("eth_getTransactionByHash", txA2)) as Record<string, string>;
    expect(a2).toMatchObject({ type: "0x0", from: dev1, input: "0x00ff", gasPrice: `0x${(3n * GWEI).toString(16)}` });
    expect([1984n * 2n + 35n, 1984n * 2n + 36n]).toContain(BigInt(a2.v!));
    expect(await call("eth_getTransactionByBlockHashAndIndex", blockA.hash, "0x0")).toEqual(a2);
    expect(await call("eth_getTransactionByBlockNumberAndIndex", `0x${blockA.header.number.toString(16)}`, "0x1")).toEqual(a1);
    expect(await call("eth_getTransactionByBlockHashAndIndex", blockA.hash, "0x2")).toBeNull();
    expect(await call("eth_getTransactionByBlockNumberAndIndex", "0xffffff", "0x0")).toBeNull();
    expect(await call("eth_getTransactionByHash", `0x${"ef".repeat(32)}`)).toBeNull();
  });

  it("shows a pooled transaction with null block fields and no receipt", async () => {
    const hash = await sendType2(ledger, 5, recipient, 7n, 0, 2n);
    // geth's shape: the spec's TransactionInfo has no pending form, so this one is checked by hand
    const registry = new MethodRegistry().register(...ethMethods({ chain: ledger.chain, pool: ledger.pool, submitRawTransaction: (r) => ledger.submitRawTransaction(r), work: ledger.work, miner: null, coinbase: null, devAccounts: [] }));
    const tx = (await registry.get("eth_getTransactionByHash")!.call([hash], { connection: null })) as Record<string, unknown>;
    expect(tx).toMatchObject({ hash, blockHash: null, blockNumber: null, transactionIndex: null, value: "0x7", gasPrice: `0x${(10n * GWEI).toString(16)}` });
    expect(await call("eth_getTransactionReceipt", hash)).toBeNull();
  });

  it("returns Ethereum receipts with Transfer logs indexed across the block", async () => {
    const r1 = (await call("eth_getTransactionReceipt", txA1)) as Record<string, unknown>;
    const r2 = (await call("eth_getTransactionReceipt", txA2)) as Record<string, unknown>;
    const word = (a: string): string => `0x${a.slice(2).padStart(64, "0")}`;
    // block A holds the legacy transfer first (higher tip), then the type 2 one
    expect(r1).toMatchObject({
      transactionHash: txA1,
      transactionIndex: "0x1",
      blockHash: blockA.hash,
      blockNumber: `0x${blockA.header.number.toString(16)}`,
      from: dev0,
      to: recipient,
      type: "0x2",
      status: "0x1",
      gasUsed: "0x5208",
      cumulativeGasUsed: `0x${(21020 + 21000).toString(16)}`,
      effectiveGasPrice: `0x${(2n * GWEI).toString(16)}`,
      contractAddress: null,
      logs: [
        {
          address: NATIVE_TOKEN_ADDRESS,
          topics: [TRANSFER_TOPIC, word(dev0), word(recipient)],
          data: word(`0x${ONE_VS.toString(16)}`),
          blockHash: blockA.hash,
          blockNumber: `0x${blockA.header.number.toString(16)}`,
          transactionHash: txA1,
          transactionIndex: "0x1",
          logIndex: "0x1",
          removed: false,
        },
      ],
    });
    expect(r2).toMatchObject({ type: "0x0", transactionIndex: "0x0", gasUsed: `0x${(21020).toString(16)}`, cumulativeGasUsed: `0x${(21020).toString(16)}`, effectiveGasPrice: `0x${(3n * GWEI).toString(16)}` });
    expect((r2.logs as { logIndex: string; transactionIndex: string }[])[0]).toMatchObject({ logIndex: "0x0", transactionIndex: "0x0" });
    expect(await call("eth_getBlockReceipts", `0x${blockA.header.number.toString(16)}`)).toEqual([r2, r1]);
    expect(await call("eth_getBlockReceipts", { blockHash: blockA.hash })).toEqual([r2, r1]);
    expect(await call("eth_getBlockReceipts", "earliest")).toEqual([]);
    expect(await call("eth_getBlockReceipts", "0xffffff")).toBeNull();
    expect(await call("eth_getTransactionReceipt", `0x${"ef".repeat(32)}`)).toBeNull();
  });

  it("suggests the median tip of recent blocks and the gas price on top of the base fee", async () => {
    // tips in the last 20 blocks: 1 gwei (A, type 2), 2 gwei (A, legacy at 3 gwei), 5 gwei (B)
    expect(await call("eth_maxPriorityFeePerGas")).toBe(`0x${(2n * GWEI).toString(16)}`);
    expect(await call("eth_gasPrice")).toBe(`0x${(3n * GWEI).toString(16)}`);
  });

  it("answers fee history with gas-weighted tip percentiles", async () => {
    const newest = blockB.header.number + 1n;
    const h = (await call("eth_feeHistory", "0x4", `0x${newest.toString(16)}`, [0, 50, 100])) as {
      oldestBlock: string;
      baseFeePerGas: string[];
      gasUsedRatio: number[];
      reward: string[][];
    };
    expect(h.oldestBlock).toBe(`0x${(newest - 3n).toString(16)}`);
    expect(h.baseFeePerGas).toEqual(Array(5).fill("0x3b9aca00"));
    expect(h.gasUsedRatio).toEqual([0, 42020 / 30_000_000, 21000 / 30_000_000, 0]);
    const g = (n: bigint): string => `0x${(n * GWEI).toString(16)}`;
    // block A: 21000 gas at tip 1 gwei, 21020 at 2 gwei; the 50th percentile (21010 gas) falls in the second
    expect(h.reward).toEqual([["0x0", "0x0", "0x0"], [g(1n), g(2n), g(2n)], [g(5n), g(5n), g(5n)], ["0x0", "0x0", "0x0"]]);
    const latest = (await call("eth_feeHistory", "0x2", "latest")) as Record<string, unknown>;
    expect(latest.reward).toBeUndefined();
    expect(latest.oldestBlock).toBe(`0x${(ledger.chain.head.header.number - 1n).toString(16)}`);
    // more blocks than exist: from genesis on; a JSON integer count is accepted as geth does
    const all = (await call("eth_feeHistory", 5000, "latest", [])) as { oldestBlock: string; gasUsedRatio: number[] };
    expect(all.oldestBlock).toBe("0x0");
    expect(all.gasUsedRatio).toHaveLength(Number(ledger.chain.head.header.number) + 1);
    expect(await call("eth_feeHistory", "0x0", "latest", [50])).toEqual({ oldestBlock: "0x0", baseFeePerGas: [], gasUsedRatio: [], reward: [] });
    expect(await call("eth_feeHistory", "0x0", "latest")).toEqual({ oldestBlock: "0x0", baseFeePerGas: [], gasUsedRatio: [] });
    const beyond = await rpcError(call("eth_feeHistory", "0x1", "0xffffff", []));
    expect(beyond.code).toBe(-32001);
    expect(beyond.message).toMatch(/beyond head/);
    const bad = await rpcError(call("eth_feeHistory", "0x1", "latest", [50, 10]));
    expect(bad.code).toBe(-32602);
    expect(bad.message).toMatch(/^invalid argument 2: invalid reward percentiles/);
    expect((await rpcError(call("eth_feeHistory", "0x1", "latest", [101]))).message).toMatch(/^invalid argument 2:/);
  });

  it("estimates gas from calldata and access list, and refuses a transfer the sender cannot pay", async () => {
    expect(await call("eth_estimateGas", { from: dev0, to: dev1, value: "0x1" })).toBe("0x5208");
    expect(await call("eth_estimateGas", { from: dev0, to: dev1, input: "0x00ff" })).toBe(`0x${(21020).toString(16)}`);
    expect(await call("eth_estimateGas", { to: dev1, data: "0x0000" })).toBe(`0x${(21008).toString(16)}`);
    const accessList = [{ address: dev1, storageKeys: [`0x${"00".repeat(32)}`, `0x${"01".repeat(32)}`] }];
    expect(await call("eth_estimateGas", { from: dev0, to: dev1, accessList, type: "0x2" })).toBe(`0x${(21000 + 2400 + 2 * 1900).toString(16)}`);
    const poor = Wallet.createRandom().address;
    const e = await rpcError(call("eth_estimateGas", { from: poor, to: dev1, value: "0x1" }));
    expect([e.code, e.message]).toEqual([-32000, "insufficient funds for transfer"]);
    const allowance = await rpcError(call("eth_estimateGas", { from: dev0, to: dev1, gas: "0x5000" }));
    expect(allowance.message).toMatch(/gas required exceeds allowance/);
    expect((await rpcError(call("eth_estimateGas", { from: dev0, value: "0x1" }))).message).toMatch(/contract creation is not supported/);
    const both = await rpcError(call("eth_estimateGas", { to: dev1, input: "0x01", data: "0x02" }));
    expect([both.code, both.message]).toEqual([-32602, 'invalid argument 0: both "data" and "input" are set and not equal. Please use "input" to pass transaction call data']);
  });

  it("answers eth_call of a value transfer with empty return data", async () => {
    expect(await call("eth_call", { from: dev0, to: dev1, value: "0x1" })).toBe("0x");
    expect(await call("eth_call", { to: dev1, input: "0x70a08231" }, "earliest")).toBe("0x");
    const poor = Wallet.createRandom().address.toLowerCase();
    const e = await rpcError(call("eth_call", { from: poor, to: dev1, value: "0x1" }));
    expect(e.code).toBe(-32000);
    expect(e.message).toMatch(/^insufficient funds for gas \* price \+ value/);
  });

  it("submits raw transactions and answers the pool's rejections with -32000 and geth's words", async () => {
    const raw = await devWallet(2).signTransaction({ type: 2, chainId: 1984, nonce: 0, to: recipient, value: 5n, gasLimit: 21000, maxFeePerGas: 3n * GWEI, maxPriorityFeePerGas: GWEI });
    const hash = await call("eth_sendRawTransaction", raw);
    expect(hash).toBe(Transaction.from(raw).hash);
    expect(ledger.pool.get(hash as Hex)).toBeDefined();
    const again = await rpcError(call("eth_sendRawTransaction", raw));
    expect([again.code, again.message]).toEqual([-32000, expect.stringMatching(/^already known/)]);
    const garbage = await rpcError(call("eth_sendRawTransaction", "0xc0ffee"));
    expect([garbage.code, garbage.message]).toEqual([-32000, expect.stringMatching(/malformed transaction/)]);
    const stale = await devWallet(0).signTransaction({ type: 2, chainId: 1984, nonce: 0, to: recipient, value: 5n, gasLimit: 21000, maxFeePerGas: 3n * GWEI, maxPriorityFeePerGas: GWEI });
    const low = await rpcError(call("eth_sendRawTransaction", stale));
    expect([low.code, low.message]).toEqual([-32000, expect.stringMatching(/^nonce too low/)]);
  });

  it("refuses bad parameters with -32602 naming the argument", async () => {
    const cases: [string, unknown[], RegExp][] = [
      ["eth_getBalance", ["0x123"], /^invalid argument 0: address must be 20 bytes/],
      ["eth_getBalance", [dev0.slice(2)], /^invalid argument 0: hex string without 0x prefix/],
      ["eth_getBalance", [], /^missing value for required argument 0/],
      ["eth_getBalance", [dev0, "newest"], /^invalid argument 1: block tag must be one of/],
      ["eth_getBalance", [dev0, "0x01"], /^invalid argument 1: hex number with leading zero digits/],
      ["eth_getBlockByNumber", ["0x1"], /^missing value for required argument 1/],
      ["eth_getBlockByNumber", ["0x1", "yes"], /^invalid argument 1: /],
      ["eth_getBlockByHash", ["0x1234", false], /^invalid argument 0: hash must be 32 bytes/],
      ["eth_getTransactionByBlockHashAndIndex", [blockA.hash, "1"], /^invalid argument 1: hex string without 0x prefix/],
      ["eth_getStorageAt", [dev0, `0x${"00".repeat(33)}`], /^invalid argument 1: storage key/],
      ["eth_getProof", [dev0, "0x0"], /^invalid argument 1: storage keys must be an array/],
      ["eth_sendRawTransaction", ["0x123"], /^invalid argument 0: hex string of odd length/],
      ["eth_estimateGas", [{ to: dev1, value: "1" }], /^invalid argument 0: value: hex string without 0x prefix/],
      ["eth_call", [{ to: dev1, gasPrice: "0x1", maxFeePerGas: "0x1" }], /^invalid argument 0: both gasPrice and \(maxFeePerGas/],
      ["eth_chainId", [1], /^too many arguments/],
      ["eth_submitWork", ["0x00", `0x${"00".repeat(32)}`, `0x${"00".repeat(32)}`, `0x${"00".repeat(65)}`], /^invalid argument 0: Nonce must be 8 bytes/],
    ];
    for (const [name, params, message] of cases) {
      const e = await rpcError(call(name, ...params));
      expect([name, e.code]).toEqual([name, -32602]);
      expect(e.message).toMatch(message);
    }
  });
});

describe("eth_ methods and blocks off the canonical chain", () => {
  it("reads a side block's state by hash unless requireCanonical is set", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const call = registryFor(ledger);
    for (let i = 0; i < 4; i++) await mine(ledger);
    // a block by another miner on head-2: less total difficulty than the head, so it stays a side block
    const other = devWallet(8);
    const otherAddress = other.address.toLowerCase() as Hex;
    const parent = (await ledger.chain.getBlockByNumber(ledger.chain.head.header.number - 2n))!.header;
    const timestamp = parent.timestamp + BigInt(ledger.chain.genesis.consensus.blockTime);
    const req = await ledger.importer.requirements(headerHash(parent), otherAddress, timestamp);
    const template = await buildBlockTemplate(ledger.chain, parent, { miner: otherAddress, timestamp, difficulty: req.difficulty, extraData: "0x" }, []);
    const sealed = (await sealHeader(template.header, keyOf(other), ledger.chain.genesis.consensus.scrypt, req.penaltyExponent, { startNonce: 0n, maxTries: 100_000 }))!;
    const side = headerHash(sealed);
    expect((await ledger.importBlock({ header: sealed, transactions: [], hash: side })).status).toBe("side");

    const block = (await call("eth_getBlockByHash", side, false)) as { number: string; miner: string };
    expect(block).toMatchObject({ number: `0x${sealed.number.toString(16)}`, miner: otherAddress });
    expect(await call("eth_getBlockByNumber", block.number, false)).not.toMatchObject({ hash: side });
    const reward = ledger.chain.genesis.blockReward;
    const canonical = BigInt((await call("eth_getBalance", otherAddress, block.number)) as string);
    expect(BigInt((await call("eth_getBalance", otherAddress, { blockHash: side })) as string)).toBe(canonical + reward);
    expect(BigInt((await call("eth_getBalance", otherAddress, { blockHash: side, requireCanonical: false })) as string)).toBe(canonical + reward);
    const e = await rpcError(call("eth_getBalance", otherAddress, { blockHash: side, requireCanonical: true }));
    expect([e.code, e.message]).toEqual([-32000, `hash ${side} is not currently canonical`]);
    // fee history walks back from a side block by parent hash
    const h = (await call("eth_feeHistory", "0x2", { blockHash: side }, [50])) as { oldestBlock: string };
    expect(h.oldestBlock).toBe(`0x${(sealed.number - 1n).toString(16)}`);
  });

  it("caps eth_feeHistory at 1024 blocks", async () => {
    // a streak window of 1 keeps the lone miner's penalty at most 2x, so 1,030 blocks mine quickly
    const [ledger, close] = await openLedger(await testGenesis({ streakWindow: 1 }));
    closers.push(close);
    const call = registryFor(ledger);
    while (ledger.chain.head.header.number < 1030n) await mine(ledger);
    const h = (await call("eth_feeHistory", "0x800", "latest", [10, 90])) as { oldestBlock: string; baseFeePerGas: string[]; gasUsedRatio: number[]; reward: string[][] };
    expect(h.oldestBlock).toBe(`0x${(1030 - 1023).toString(16)}`);
    expect([h.baseFeePerGas.length, h.gasUsedRatio.length, h.reward.length]).toEqual([1025, 1024, 1024]);
  });

  it("the spec check itself refuses a malformed answer", () => {
    expect(() => expectValidResult("eth_blockNumber", "0x01")).toThrow(/does not match/);
    expect(() => expectValidResult("eth_getBlockByNumber", { number: "0x1" })).toThrow(/does not match/);
    expect(() => expectValidResult("eth_getTransactionReceipt", { transactionHash: `0x${"00".repeat(32)}`, extra: 1 })).toThrow(/does not match/);
    expect(() => expectValidResult("eth_noSuchMethod", null)).toThrow(/no result/);
  });
});

describe("eth_ methods on a fresh chain and in dev mode", () => {
  it("suggests 1 gwei when recent blocks hold no transactions", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const call = registryFor(ledger);
    expect(await call("eth_maxPriorityFeePerGas")).toBe("0x3b9aca00");
    expect(await call("eth_gasPrice")).toBe("0x77359400");
    await mine(ledger);
    expect(await call("eth_maxPriorityFeePerGas")).toBe("0x3b9aca00");
  });

  it("signs and submits with dev accounts, filling nonce, gas and fees", async () => {
    const [ledger, close] = await openLedger(await testGenesis());
    closers.push(close);
    const devAccounts = Array.from({ length: 10 }, (_, i) => devAccount(i));
    const call = registryFor(ledger, { devAccounts });
    expect(await call("eth_accounts")).toEqual(devAccounts.map((a) => a.address));
    const to = Wallet.createRandom().address.toLowerCase() as Hex;
    const from = devAccounts[3]!.address;
    // two at once: each gets its own nonce
    const [h1, h2] = (await Promise.all([call("eth_sendTransaction", { from, to, value: "0x64" }), call("eth_sendTransaction", { from, to, value: "0x65" })])) as Hex[];
    const legacy = (await call("eth_sendTransaction", { from, to, value: "0x1", gasPrice: "0x77359400", input: "0x01" })) as Hex;
    expect(await call("eth_getTransactionCount", from, "pending")).toBe("0x3");
    await mine(ledger);
    const receipts = (await Promise.all([h1, h2, legacy].map((h) => call("eth_getTransactionReceipt", h)))) as Record<string, string>[];
    expect(receipts.map((r) => [r.status, r.type, r.from])).toEqual([
      ["0x1", "0x2", from],
      ["0x1", "0x2", from],
      ["0x1", "0x0", from],
    ]);
    const txs = (await Promise.all([h1, h2, legacy].map((h) => call("eth_getTransactionByHash", h)))) as Record<string, string>[];
    expect(txs.map((t) => [t.nonce, t.gas])).toEqual([
      ["0x0", "0x5208"],
      ["0x1", "0x5208"],
      ["0x2", `0x${(21016).toString(16)}`],
    ]);
    expect(txs[0]).toMatchObject({ maxPriorityFeePerGas: "0x3b9aca00", maxFeePerGas: `0x${(3n * GWEI).toString(16)}` });
    expect(txs[2]!.gasPrice).toBe("0x77359400");
    expect(await call("eth_getBalance", to)).toBe(`0x${(0x64 + 0x65 + 1).toString(16)}`);

    const unknown = await rpcError(call("eth_sendTransaction", { from: Wallet.createRandom().address, to, value: "0x1" }));
    expect([unknown.code, unknown.message]).toEqual([-32000, "unknown account"]);
    const noDev = await rpcError(registryFor(ledger)("eth_sendTransaction", { from, to }));
    expect([noDev.code, noDev.message]).toEqual([-32004, "eth_sendTransaction needs --dev: sign locally and use eth_sendRawTransaction"]);
  });
});

describe("mining over eth_getWork / eth_submitWork", () => {
  const externalMiner = devWallet(8);
  const minerAddress = externalMiner.address.toLowerCase() as Hex;
  let ledger: Ledger;
  let call: Call;
  let clock = 1_000_000;

  beforeAll(async () => {
    const [l, close] = await openLedger(await testGenesis());
    closers.push(close);
    ledger = l;
    call = registryFor(ledger, { coinbase: minerAddress, now: () => clock });
  });

  /** Searches nonces for a package as the CLI miner does and signs the seal with `key`. */
  async function solve(work: string[], key: Uint8Array = keyOf(externalMiner)): Promise<string[]> {
    const { scrypt } = (await call("vs_workParams")) as { scrypt: { N: number; r: number; p: number } };
    const sealHashBytes = hexToBytes(work[0] as Hex);
    const miner = `0x${work[1]!.slice(-40)}` as Hex;
    const target = BigInt(work[2]!);
    for (let n = 0n; ; n++) {
      const nonce = hexToBytes(`0x${n.toString(16).padStart(16, "0")}`);
      const mix = await computeMixHash(sealHashBytes, nonce, miner, scrypt);
      if (bytesToBigInt(mix) <= target) return [bytesToHex(nonce), work[0]!, bytesToHex(mix), signSeal(sealMessage(sealHashBytes, nonce, mix), key)];
    }
  }

  it("describes the seal parameters for external miners", async () => {
    expect(await call("vs_workParams")).toEqual({
      scrypt: { N: 16, r: 1, p: 1 },
      streakWindow: 8,
      blockTime: 2,
      miners: ledger.chain.genesis.consensus.miners,
    });
  });

  it("hands out a package, accepts its solution and advances the head", async () => {
    const head = ledger.chain.head.header.number;
    const work = (await call("eth_getWork")) as string[];
    expect(work).toHaveLength(4);
    expect(work[0]).toMatch(/^0x[0-9a-f]{64}$/);
    expect(work[1]).toBe(`0x${"00".repeat(12)}${minerAddress.slice(2)}`);
    expect(work[2]).toMatch(/^0x[0-9a-f]{64}$/);
    expect(work[3]).toBe(`0x${(head + 1n).toString(16)}`);
    expect(await call("eth_submitWork", ...(await solve(work)))).toBe(true);
    expect(ledger.chain.head.header.number).toBe(head + 1n);
    expect(ledger.chain.head.header.miner).toBe(minerAddress);
    expect(await call("eth_blockNumber")).toBe(`0x${(head + 1n).toString(16)}`);
  });

  it("accepts one solution per miner per height and says why it refuses the second", async () => {
    const first = (await call("eth_getWork")) as string[];
    // a transaction in the pool makes the next package at the same height a different block
    await sendType2(ledger, 0, Wallet.createRandom().address, 1n, 0, 1n);
    const second = (await call("eth_getWork")) as string[];
    expect(second[3]).toBe(first[3]);
    expect(second[0]).not.toBe(first[0]);
    const [a, b] = [await solve(first), await solve(second)];
    expect(await call("eth_submitWork", ...a)).toBe(true);
    const e = await rpcError(call("eth_submitWork", ...b));
    expect(e.code).toBe(-32000);
    expect(e.message).toMatch(new RegExp(`a block by ${minerAddress} at height ${BigInt(first[3]!)} was already accepted`));
  });

  it("refuses a seal signed by another key, an unknown package and an ineligible miner with -32000 and the reason", async () => {
    const work = (await call("eth_getWork")) as string[];
    const forged = await solve(work, keyOf(devWallet(7)));
    const e = await rpcError(call("eth_submitWork", ...forged));
    expect(e.code).toBe(-32000);
    expect(e.message).toMatch(/seal is signed by 0x[0-9a-f]{40}, not by the header's miner/);
    const unknown = await rpcError(call("eth_submitWork", forged[0], `0x${"12".repeat(32)}`, forged[2], forged[3]));
    expect(unknown.message).toMatch(/no work package with seal hash/);
    const stranger = Wallet.createRandom().address;
    const ineligible = await rpcError(call("eth_getWork", stranger));
    expect([ineligible.code, ineligible.message]).toEqual([-32000, `${stranger.toLowerCase()} is not an eligible miner`]);
    const noCoinbase = await rpcError(registryFor(ledger)("eth_getWork"));
    expect(noCoinbase.message).toMatch(/no miner address/);
    // an explicit miner works without a coinbase
    const other = (await registryFor(ledger)("eth_getWork", devWallet(7).address)) as string[];
    expect(other[1]!.slice(-40)).toBe(devWallet(7).address.toLowerCase().slice(2));
  });

  it("adds submitted hashrates to eth_hashrate for a minute", async () => {
    expect(await call("eth_hashrate")).toBe("0x0");
    expect(await call("eth_submitHashrate", `0x${"00".repeat(31)}64`, `0x${"01".repeat(32)}`)).toBe(true);
    expect(await call("eth_submitHashrate", "0x36", `0x${"02".repeat(32)}`)).toBe(true);
    expect(await call("eth_hashrate")).toBe(`0x${(100 + 54).toString(16)}`);
    // the same id replaces its report
    await call("eth_submitHashrate", "0x10", `0x${"01".repeat(32)}`);
    expect(await call("eth_hashrate")).toBe(`0x${(16 + 54).toString(16)}`);
    clock += 61_000;
    expect(await call("eth_hashrate")).toBe("0x0");
  });
});

describe("eth_call and eth_estimateGas override parameters", () => {
  it("accept empty state/block override objects, as viem and geth clients send them, and refuse real overrides", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis);
    closers.push(close);
    const call = registryFor(ledger);
    const to = devWallet(1).address;
    expect(await call("eth_call", { to }, "latest", {}, {})).toBe("0x");
    expect(await call("eth_estimateGas", { to }, "latest", {})).toBe("0x5208");
    const e = await rpcError(call("eth_call", { to }, "latest", { [to]: { balance: "0x1" } }));
    expect([e.code, e.message]).toEqual([-32602, "invalid argument 2: state overrides are not supported (no EVM)"]);
  });
});
