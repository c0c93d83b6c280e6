// Sub-chains and their payloads, three figures (docs/performance.md):
// - payload proof verification per second: verifyPayloadProof (merkletreejs) over sub-blocks of 64
//   and 1024 payloads, beside its limit, the same number of keccak256 calls (depth + 1 per proof)
//   over inputs of the same sizes with the node's keccak256; also proof generation (payloadProof
//   builds the whole tree for every proof) beside the keccak calls of one tree;
// - publish-to-readable latency on a 3-node devnet (real libp2p on 127.0.0.1, real RocksDB): an
//   author node A submits a 256 KiB publish with its payload, a block-making node M mines it as
//   soon as it holds the publish and its payload, a reader R (following posts) has the block and
//   the stored payload. Split into submit -> in M's pool (stem + gossip), mining on M, block ->
//   readable on R. Limit: the same publishes in one process without network (pool on ledger 1,
//   mine, wire encode/decode, import into ledger 2 whose payload pool got the payload directly),
//   each publish measured right after its network twin;
// - payload throughput through sub-blocks: many 256 KiB publishes from six dev accounts submitted
//   on A while M makes blocks back to back, timed from the first submit until R has stored every
//   payload. Limit: the same publishes through pool -> mine -> import on two local ledgers, once
//   before and once after the network run, averaged.
// Blocks are made with the test helper on M's ledger (no in-process miner), with the dev scrypt
// (N=1024, r=8; BENCH_SUBCHAINS_SCRYPT=tiny for N=16, r=1) and difficulty 1, by the three genesis
// miners in turn, so block-time randomness does not enter the figures.
import "../node/polyfills.js";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { Transaction, Wallet } from "ethers";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import {
  CONTENT_REGISTRY_ADDRESS,
  ChainEvent,
  PayloadPoolEvent,
  TxPoolEvent,
  keccak256,
  payloadHash,
  payloadProof,
  payloadRoot,
  verifyPayloadProof,
  type Block,
  type ChainEventData,
  type GenesisConfig,
  type Hex,
  type MerkleProof,
  type ScryptParams,
  type SignedTx,
} from "../chain/index.js";
import { decodeBlock, encodeBlock, type HostOptions, type NetworkOptions } from "../p2p/index.js";
import { devAccount, type DevAccount } from "../node/devAccounts.js";
import type { Ledger } from "../node/ledger.js";
import type { VsNode } from "../node/node.js";
import { openLedger, testGenesis } from "../test/helpers/ledger.js";
import { mineBlock } from "../test/helpers/mine.js";
import { registry } from "../test/helpers/modules.js";
import { addrOf, waitFor, wallClock } from "../test/helpers/net.js";
import { startTestNode } from "../test/helpers/node.js";
import { median, paired, percentile, rate as rateFor, round, sleep, within } from "./util.js";

/** Publishes timed one at a time for the latency figure. */
const LATENCY_PUBLISHES = Number(process.env.BENCH_SUBCHAINS_PUBLISHES ?? 10);
/** Publishes pushed through at once for the throughput figure. */
const THROUGHPUT_PUBLISHES = Number(process.env.BENCH_SUBCHAINS_THROUGHPUT ?? 40);
const PAYLOAD_BYTES = Number(process.env.BENCH_SUBCHAINS_PAYLOAD_KIB ?? 256) * 1024;
/** Payloads per sub-block in the proof figures. */
const PROOF_TREE_SIZES = [64, 1024];
const SCRYPT: ScryptParams = process.env.BENCH_SUBCHAINS_SCRYPT === "tiny" ? { N: 16, r: 1, p: 1 } : { N: 1024, r: 8, p: 1 };
/** The posts sub-chain (genesis/dev.json): 8 gas a payload byte, blocks of at most 4 MiB of payloads. */
const POSTS = 1;
const POSTS_GAS_PER_BYTE = 8n;
/** Dev account of the latency publishes; the throughput publishes come from accounts 1..6. */
const LATENCY_SENDER = 0;
const THROUGHPUT_SENDERS = [1, 2, 3, 4, 5, 6];
/** The dev genesis miners, taking turns so the streak penalty stays low. */
const MINERS = [7, 8, 9];
/** Fee caps well above the base fee, which rises while blocks run full of payload gas. */
const FEES = { maxFeePerGas: 50n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n };
/** Peers every node must have before publishing, then time for gossipsub's heartbeat to graft meshes. */
const MESH_SETTLE_MS = 2_500;
/** Pause after each latency publish, once every node has its block. */
const SPACING_MS = 100;
/** Rounds of the proof measurements, paired as in bench/contentCrypto.ts. */
const ROUNDS = 5;

const P2P: Partial<NetworkOptions> & HostOptions = { addr: "127.0.0.1", port: 0, maxPeers: 25, nat: "none", bootnodes: [], maintenanceMs: 500 };



function rounded(figures: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, round(v, k.startsWith("ratio") ? 3 : 2)]));
}

// ---------------------------------------------------------------------------------------------
// payload proofs

/** Items per second of `op`, measured for at least 60 ms. */
const rate = (count: number, op: (i: number) => void): number => rateFor(count, op, 60);



/**
 * Proof verification and generation over a sub-block of `size` payloads, each beside the keccak
 * calls it cannot do without: depth + 1 per verified proof (the leaf, then one per level), and one
 * tree (every padded leaf, every inner node, the leaf of the proven hash) per generated proof.
 */
function benchProofs(size: number): Record<string, number> {
  const hashes = Array.from({ length: size }, () => bytesToHex(randomBytes(32)) as Hex);
  const root = payloadRoot(hashes);
  const depth = Math.ceil(Math.log2(size));
  const padded = 2 ** depth;
  // proofs at indices spread over the tree (generating one builds the whole tree)
  const sample = Math.min(size, 64);
  const indices = Array.from({ length: sample }, (_, i) => Math.floor((i * size) / sample));
  const proofs: MerkleProof[] = indices.map((i) => payloadProof(hashes, i));
  for (let k = 0; k < sample; k++) {
    if (!verifyPayloadProof(root, hashes[indices[k]!]!, proofs[k]!, indices[k])) throw new Error(`bench: proof ${indices[k]} of ${size} does not verify`);
  }
  const in32 = new Uint8Array(randomBytes(32));
  const in64 = new Uint8Array(randomBytes(64));
  const generated = Math.max(4, Math.floor(8192 / size));
  const f = paired({
    verify: () => rate(sample, (k) => verifyPayloadProof(root, hashes[indices[k]!]!, proofs[k]!, indices[k])),
    keccakVerify: () =>
      rate(sample, () => {
        keccak256(in32);
        for (let d = 0; d < depth; d++) keccak256(in64);
      }),
    generate: () => rate(generated, (k) => payloadProof(hashes, indices[k % sample]!)),
    keccakTree: () =>
      rate(generated, () => {
        keccak256(in32);
        for (let l = 0; l < padded; l++) keccak256(in32);
        for (let n = 1; n < padded; n++) keccak256(in64);
      }),
  }, ROUNDS);
  return {
    depth,
    verifyPerSec: f.verify!,
    keccakLimitVerifyPerSec: f.keccakVerify!,
    ratioVerify: f.verify! / f.keccakVerify!,
    generatePerSec: f.generate!,
    keccakLimitGeneratePerSec: f.keccakTree!,
    ratioGenerate: f.generate! / f.keccakTree!,
  };
}

// ---------------------------------------------------------------------------------------------
// publishes

/** A signed publish and its payload, valid on any chain from the dev genesis at its sender's nonce. */
interface Publish {
  raw: Uint8Array;
  hash: Hex;
  from: number;
  nonce: number;
  payload: Uint8Array;
  payloadHash: Hex;
}

const wallets = new Map<number, Wallet>();
function walletOf(i: number): Wallet {
  let w = wallets.get(i);
  if (!w) wallets.set(i, (w = new Wallet(Buffer.from(devAccount(i).privateKey).toString("hex"))));
  return w;
}

/** A publish of a fresh random payload on posts from dev account `from` at `nonce`, with gas for its payload bytes. */
function signPublish(chainId: bigint, from: number, nonce: number): Publish {
  const payload = new Uint8Array(randomBytes(PAYLOAD_BYTES));
  const hash = payloadHash(payload);
  const data = registry.encodeFunctionData("publish", [hash, POSTS, 10n ** 18n, bytesToHex(randomBytes(32)), 10n]);
  const tx = Transaction.from({
    type: 2,
    chainId,
    nonce,
    to: CONTENT_REGISTRY_ADDRESS,
    value: 0n,
    data,
    gasLimit: 600_000n + POSTS_GAS_PER_BYTE * BigInt(PAYLOAD_BYTES),
    ...FEES,
  });
  tx.signature = walletOf(from).signingKey.sign(tx.unsignedHash);
  return { raw: hexToBytes(tx.serialized as Hex), hash: tx.hash as Hex, from, nonce, payload, payloadHash: hash };
}

/** Dev accounts derived once (a derivation costs milliseconds). */
const accounts = new Map<number, DevAccount>();

/** Mines block `i` on the ledger with the genesis miner whose turn it is; `onHead` gets the time the ledger's head moved to it. */
async function mineNext(ledger: Ledger, i: number, onHead?: (at: number) => void): Promise<Block> {
  const index = MINERS[i % MINERS.length]!;
  const miner = accounts.get(index) ?? devAccount(index);
  accounts.set(index, miner);
  const listener = (): void => onHead?.(performance.now());
  ledger.chain.prependListener(ChainEvent.newHead, listener);
  try {
    return await mineBlock(ledger, miner.privateKey, miner.address);
  } finally {
    ledger.chain.off(ChainEvent.newHead, listener);
  }
}

/** Waits until the ledger's payload pool hands the publish's payload to the block builder. */
async function claimed(ledger: Ledger, p: Publish): Promise<void> {
  while (!ledger.pool.has(p.hash) || ledger.payloads.payloadsFor(p.hash) === undefined) await new Promise((r) => setImmediate(r));
}

const includes = (block: Block, p: Publish): boolean => block.transactions.some((t: SignedTx) => t.hash === p.hash);

// ---------------------------------------------------------------------------------------------
// the devnet

interface Devnet {
  author: VsNode;
  miner: VsNode;
  reader: VsNode;
  /** Blocks made on the miner so far (the miners' turn). */
  blocks: number;
  close: () => Promise<void>;
}

/**
 * M: makes blocks (chain clock, so each block is one blockTime after its parent and the difficulty
 * stays 1; its coinbase makes it join every payload topic), follows no sub-chain but pins; A and R
 * follow posts and read the wall clock; M is their bootnode, peer exchange links A and R.
 */
async function startDevnet(genesis: GenesisConfig): Promise<Devnet> {
  const closers: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    await Promise.all(closers.splice(0).map((c) => c().catch((e: unknown) => console.error("bench: node stop failed", e))));
  };
  try {
    const start = async (opts: { producer: boolean; subchains?: string[]; bootnodes?: string[] }): Promise<VsNode> => {
      const [node, stop] = await startTestNode({
        genesis,
        mine: false,
        rpc: null,
        metrics: false,
        p2p: { ...P2P, bootnodes: opts.bootnodes ?? [] },
        ...(opts.subchains ? { subchains: opts.subchains } : {}),
        ...(opts.producer ? {} : { now: wallClock }),
      });
      closers.push(stop);
      return node;
    };
    const miner = await start({ producer: true });
    const [author, reader] = await Promise.all([
      start({ producer: false, subchains: ["posts"], bootnodes: [addrOf(miner)] }),
      start({ producer: false, subchains: ["posts"], bootnodes: [addrOf(miner)] }),
    ]);
    await waitFor("every node with 2 peers", () => [author, miner, reader].every((n) => n.network!.peerCount >= 2), 30_000);
    await sleep(MESH_SETTLE_MS);
    return { author, miner, reader, blocks: 0, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Resolves with the time the node's canonical chain gains the block with this hash. */
function headAt(node: VsNode, blockHash: () => Hex | undefined): { at: Promise<number>; cancel: () => void } {
  const seen = new Map<Hex, number>();
  let wake = (): void => undefined;
  const listener = (e: ChainEventData[typeof ChainEvent.newHead]): void => {
    const now = performance.now();
    for (const b of e.added) seen.set(b.hash, now);
    wake();
  };
  node.ledger.chain.on(ChainEvent.newHead, listener);
  const cancel = (): void => {
    node.ledger.chain.off(ChainEvent.newHead, listener);
  };
  const at = (async (): Promise<number> => {
    const end = Date.now() + 20_000;
    for (;;) {
      const h = blockHash();
      if (h !== undefined && seen.has(h)) return seen.get(h)!;
      if (Date.now() > end) throw new Error(`bench: ${h ?? "the block"} never reached the node`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 50);
        wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  })().finally(cancel);
  return { at, cancel };
}

/** Polls the node's store until it holds the payload; the time it first did. */
async function storedAt(node: VsNode | Ledger, hash: Hex, timeoutMs = 20_000): Promise<number> {
  const chain = "ledger" in node ? node.ledger.chain : node.chain;
  const end = Date.now() + timeoutMs;
  while ((await chain.subchains.getPayload(hash)) === undefined) {
    if (Date.now() > end) throw new Error(`bench: payload ${hash} never stored`);
    await sleep(5);
  }
  return performance.now();
}

interface Steps {
  toPoolMs: number;
  mineMs: number;
  toReadableMs: number;
  totalMs: number;
  /** The reader did not hold the payload when the block came (network only). */
  payloadAfterBlock?: boolean;
}

/** One publish through the devnet: submitted on A, mined on M as soon as M can, readable on R. */
async function publishOnDevnet(net: Devnet, p: Publish): Promise<Steps> {
  const { author, miner, reader } = net;
  let txAt = 0;
  let payloadAt = 0;
  let arrived = (): void => undefined;
  const both = new Promise<void>((r) => (arrived = r));
  const onTx = (tx: SignedTx): void => {
    if (tx.hash !== p.hash) return;
    txAt = performance.now();
    if (payloadAt) arrived();
  };
  const onPayload = (hash: Hex): void => {
    if (hash !== p.payloadHash) return;
    payloadAt = performance.now();
    if (txAt) arrived();
  };
  miner.ledger.pool.on(TxPoolEvent.added, onTx);
  miner.ledger.payloads.on(PayloadPoolEvent.added, onPayload);
  let blockHash: Hex | undefined;
  const onReader = headAt(reader, () => blockHash);
  try {
    const t0 = performance.now();
    await author.submitRawTransactionWithPayload(p.raw, p.payload);
    if (!(await within(both, 20_000))) throw new Error("bench: the publish never reached the miner");
    const inPool = Math.max(txAt, payloadAt);
    await claimed(miner.ledger, p);
    let minedAt = 0;
    const block = await mineNext(miner.ledger, net.blocks++, (at) => (minedAt = at));
    if (!includes(block, p)) throw new Error("bench: the miner's block lacks the publish");
    blockHash = block.hash;
    const onR = await onReader.at;
    // stored with the block (from R's payload pool), or later (recorded as wanted, fetched from a peer)
    const withBlock = (await reader.ledger.chain.subchains.getPayload(p.payloadHash)) !== undefined;
    const readable = withBlock ? onR : Math.max(onR, await storedAt(reader, p.payloadHash));
    // the author too, so the next publish starts from a quiet network
    await waitFor("the author has the block", () => author.ledger.chain.head.hash === block.hash, 20_000);
    return { toPoolMs: inPool - t0, mineMs: minedAt - inPool, toReadableMs: readable - minedAt, totalMs: readable - t0, payloadAfterBlock: !withBlock };
  } finally {
    onReader.cancel();
    miner.ledger.pool.off(TxPoolEvent.added, onTx);
    miner.ledger.payloads.off(PayloadPoolEvent.added, onPayload);
  }
}

/** Two local ledgers: `miner` pools and mines, `reader` (following posts) imports what it mines. */
interface LocalPair {
  miner: Ledger;
  reader: Ledger;
  blocks: number;
  close: () => Promise<void>;
}

async function openPair(genesis: GenesisConfig): Promise<LocalPair> {
  const [miner, closeMiner] = await openLedger(genesis);
  const [reader, closeReader] = await openLedger(genesis, { subchains: [POSTS] });
  return { miner, reader, blocks: 0, close: async () => void (await Promise.all([closeMiner(), closeReader()])) };
}

/** Wire encode + decode and import on the local reader; ms. */
async function importOnReader(pair: LocalPair, block: Block, chainId: bigint): Promise<number> {
  const t = performance.now();
  const result = await pair.reader.importBlock(decodeBlock(encodeBlock(block), chainId));
  if (result.status !== "head") throw new Error(`bench: block ${block.header.number} imported as ${result.status}`);
  return performance.now() - t;
}

/** The same publish without a network: pooled on the local miner, mined, imported by the local reader holding the payload. */
async function publishLocally(pair: LocalPair, p: Publish, chainId: bigint): Promise<Steps> {
  pair.reader.payloads.add(POSTS, p.payload);
  const t0 = performance.now();
  await pair.miner.submitRawTransactionWithPayload(p.raw, p.payload);
  const inPool = performance.now();
  let minedAt = 0;
  const block = await mineNext(pair.miner, pair.blocks++, (at) => (minedAt = at));
  if (!includes(block, p)) throw new Error("bench: the local block lacks the publish");
  const importMs = await importOnReader(pair, block, chainId);
  const t = performance.now();
  if (!(await pair.reader.chain.subchains.getPayload(p.payloadHash))) throw new Error("bench: the local reader did not store the payload");
  const toReadableMs = importMs + (performance.now() - t);
  const mineMs = minedAt - inPool;
  return { toPoolMs: inPool - t0, mineMs, toReadableMs, totalMs: inPool - t0 + mineMs + toReadableMs };
}

/** Latency of each publish on the devnet, each followed by its twin on the local pair. */
async function benchLatency(net: Devnet, pair: LocalPair, genesis: GenesisConfig): Promise<Record<string, number>> {
  const publishes = Array.from({ length: LATENCY_PUBLISHES }, (_, i) => signPublish(genesis.chainId, LATENCY_SENDER, i));
  const network: Steps[] = [];
  const local: Steps[] = [];
  for (const p of publishes) {
    network.push(await publishOnDevnet(net, p));
    local.push(await publishLocally(pair, p, genesis.chainId));
    await sleep(SPACING_MS);
  }
  const col = (xs: Steps[], k: "totalMs" | "toPoolMs" | "mineMs" | "toReadableMs"): number[] => xs.map((s) => s[k]);
  const figures: Record<string, number> = { publishes: publishes.length, payloadBytes: PAYLOAD_BYTES };
  for (const k of ["totalMs", "toPoolMs", "mineMs", "toReadableMs"] as const) {
    figures[`network.${k}.median`] = median(col(network, k));
    figures[`network.${k}.p95`] = percentile(col(network, k), 0.95);
  }
  for (const k of ["totalMs", "toPoolMs", "mineMs", "toReadableMs"] as const) {
    figures[`local.${k}.median`] = median(col(local, k));
    figures[`local.${k}.p95`] = percentile(col(local, k), 0.95);
  }
  figures["network.payloadAfterBlock"] = network.filter((s) => s.payloadAfterBlock).length;
  figures.ratioMedian = figures["network.totalMs.median"]! / figures["local.totalMs.median"]!;
  figures.ratioP95 = figures["network.totalMs.p95"]! / figures["local.totalMs.p95"]!;
  console.log(
    JSON.stringify({
      bench: "subchainsLatency",
      scrypt: SCRYPT,
      ...rounded(figures),
      networkMs: network.map((s) => [s.toPoolMs, s.mineMs, s.toReadableMs].map((x) => round(x, 1))),
      localMs: local.map((s) => [s.toPoolMs, s.mineMs, s.toReadableMs].map((x) => round(x, 1))),
    }),
  );
  return figures;
}

// ---------------------------------------------------------------------------------------------
// throughput

/** The throughput publishes: round robin over THROUGHPUT_SENDERS, each sender's nonces from 0. */
function throughputPublishes(chainId: bigint): Publish[] {
  const nonces = new Map<number, number>();
  return Array.from({ length: THROUGHPUT_PUBLISHES }, (_, i) => {
    const from = THROUGHPUT_SENDERS[i % THROUGHPUT_SENDERS.length]!;
    const nonce = nonces.get(from) ?? 0;
    nonces.set(from, nonce + 1);
    return signPublish(chainId, from, nonce);
  });
}

/** Per sender, the publishes in nonce order, and how many of them are mined. */
class Progress {
  private readonly bySender = new Map<number, Publish[]>();
  private readonly next = new Map<number, number>();
  mined = 0;

  constructor(publishes: readonly Publish[]) {
    for (const p of publishes) this.bySender.set(p.from, [...(this.bySender.get(p.from) ?? []), p]);
  }

  /** Whether the ledger can mine a publish now: some sender's next one is pooled with its payload. */
  ready(ledger: Ledger): boolean {
    for (const [from, list] of this.bySender) {
      const p = list[this.next.get(from) ?? 0];
      if (p && ledger.pool.has(p.hash) && ledger.payloads.payloadsFor(p.hash) !== undefined) return true;
    }
    return false;
  }

  /** Counts the publishes a block includes. */
  count(block: Block): number {
    const hashes = new Set(block.transactions.map((t) => t.hash));
    let n = 0;
    for (const [from, list] of this.bySender) {
      let i = this.next.get(from) ?? 0;
      while (list[i] && hashes.has(list[i]!.hash)) i++;
      n += i - (this.next.get(from) ?? 0);
      this.next.set(from, i);
    }
    this.mined += n;
    return n;
  }
}

/** Every publish submitted on A while M mines back to back; bytes per second until R stores the last payload. */
async function throughputOnDevnet(net: Devnet, publishes: readonly Publish[]): Promise<{ ms: number; submitMs: number; minedMs: number; blocks: number; perBlock: number[]; mineMs: number[] }> {
  const { author, miner, reader } = net;
  const progress = new Progress(publishes);
  const perBlock: number[] = [];
  const mineMs: number[] = [];
  const t0 = performance.now();
  let submitMs = 0;
  const submitting = (async () => {
    for (const p of publishes) await author.submitRawTransactionWithPayload(p.raw, p.payload);
    submitMs = performance.now() - t0;
  })();
  let lastProgress = Date.now();
  while (progress.mined < publishes.length) {
    if (!progress.ready(miner.ledger)) {
      if (Date.now() - lastProgress > 30_000) throw new Error(`bench: throughput stalled at ${progress.mined} of ${publishes.length} mined`);
      await sleep(2);
      continue;
    }
    const t = performance.now();
    const block = await mineNext(miner.ledger, net.blocks++);
    mineMs.push(performance.now() - t);
    perBlock.push(progress.count(block));
    lastProgress = Date.now();
  }
  const minedMs = performance.now() - t0;
  await submitting;
  for (const p of publishes) await storedAt(reader, p.payloadHash, 30_000);
  return { ms: performance.now() - t0, submitMs, minedMs, blocks: perBlock.length, perBlock, mineMs };
}

/** The same publishes on a fresh local pair: pooled, mined back to back, each block imported by the reader holding its payloads. */
async function throughputLocally(genesis: GenesisConfig, publishes: readonly Publish[]): Promise<{ ms: number; blocks: number; submitMs: number; mineMs: number[]; importMs: number[] }> {
  const pair = await openPair(genesis);
  try {
    const progress = new Progress(publishes);
    const byHash = new Map(publishes.map((p) => [p.hash, p]));
    const mineMs: number[] = [];
    const importMs: number[] = [];
    const t0 = performance.now();
    for (const p of publishes) await pair.miner.submitRawTransactionWithPayload(p.raw, p.payload);
    const submitMs = performance.now() - t0;
    while (progress.mined < publishes.length) {
      const t = performance.now();
      const block = await mineNext(pair.miner, pair.blocks++);
      mineMs.push(performance.now() - t);
      if (progress.count(block) === 0) throw new Error("bench: a local block without publishes");
      // the payloads reach the reader's pool directly (untimed): what gossip and stem do on the network
      for (const tx of block.transactions) {
        const p = byHash.get(tx.hash);
        if (p) pair.reader.payloads.add(POSTS, p.payload);
      }
      importMs.push(await importOnReader(pair, block, genesis.chainId));
    }
    for (const p of publishes) if (!(await pair.reader.chain.subchains.getPayload(p.payloadHash))) throw new Error("bench: the local reader lacks a payload");
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    return { ms: submitMs + sum(mineMs) + sum(importMs), blocks: mineMs.length, submitMs, mineMs, importMs };
  } finally {
    await pair.close();
  }
}

async function benchThroughput(net: Devnet, genesis: GenesisConfig): Promise<Record<string, number>> {
  const publishes = throughputPublishes(genesis.chainId);
  const bytes = publishes.length * PAYLOAD_BYTES;
  const before = await throughputLocally(genesis, publishes);
  const network = await throughputOnDevnet(net, publishes);
  const after = await throughputLocally(genesis, publishes);
  const localMs = (before.ms + after.ms) / 2;
  const mbps = (ms: number): number => bytes / 1e6 / (ms / 1000);
  const figures = {
    publishes: publishes.length,
    payloadMB: bytes / 1e6,
    networkBlocks: network.blocks,
    localBlocks: before.blocks,
    networkMs: network.ms,
    networkSubmitMs: network.submitMs,
    networkMinedMs: network.minedMs,
    localMs,
    localBeforeMs: before.ms,
    localAfterMs: after.ms,
    networkMBps: mbps(network.ms),
    localMBps: mbps(localMs),
    ratioNetworkToLocal: mbps(network.ms) / mbps(localMs),
  };
  const ms = (xs: number[]): number[] => xs.map((x) => Math.round(x));
  console.log(
    JSON.stringify({
      bench: "subchainsThroughput",
      scrypt: SCRYPT,
      ...rounded(figures),
      networkPublishesPerBlock: network.perBlock,
      networkMineMs: ms(network.mineMs),
      local: [before, after].map((l) => ({ submitMs: Math.round(l.submitMs), mineMs: ms(l.mineMs), importMs: ms(l.importMs) })),
    }),
  );
  return figures;
}

// ---------------------------------------------------------------------------------------------

/** Proof verification and generation, publish-to-readable latency and payload throughput; flat figures for the table. */
export async function benchSubchains(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const size of PROOF_TREE_SIZES) {
    const f = benchProofs(size);
    console.log(JSON.stringify({ bench: "subchainsProofs", payloads: size, ...rounded(f) }));
    for (const [k, v] of Object.entries(f)) out[`proofs${size}.${k}`] = v;
  }
  const genesis = await testGenesis({ scrypt: SCRYPT });
  const net = await startDevnet(genesis);
  try {
    const pair = await openPair(genesis);
    try {
      for (const [k, v] of Object.entries(await benchLatency(net, pair, genesis))) out[`latency.${k}`] = v;
    } finally {
      await pair.close();
    }
    for (const [k, v] of Object.entries(await benchThroughput(net, genesis))) out[`throughput.${k}`] = v;
  } finally {
    await net.close();
  }
  return out;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchSubchains();
}
