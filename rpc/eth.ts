import { Wallet } from "ethers";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import {
  KECCAK_EMPTY,
  SerialQueue,
  ZERO_ADDRESS,
  ModuleErrorCode,
  TxErrorCode,
  codeMarker,
  effectiveGasPrice,
  isNodeError,
  type AccessListEntry,
  type Block,
  type BlockHeader,
  type Blockchain,
  type Hex,
  type SignedTx,
  type TxPool,
} from "../chain/index.js";
import type { Miner, WorkProvider } from "../consensus/index.js";
import { bytes, formatBlock, formatBlockReceipts, formatReceipt, formatTransaction, quantity, resultSchema as rs } from "./format.js";
import * as param from "./params.js";
import { parseAddress, parseData, parseQuantity, type BlockSelector } from "./params.js";
import { RpcError, RpcErrorCode, invalidParam } from "./rpcError.js";
import { defineMethod, type Param, type RpcMethod } from "./rpcMethod.js";

/** A key the node signs with in `--dev` mode (the well-known development accounts). */
export interface DevAccountKey {
  address: Hex;
  privateKey: Uint8Array;
}

/** What the `eth_` methods read and call: the chain, the pool, transaction submission and mining. */
export interface EthDeps {
  chain: Blockchain;
  pool: Pick<TxPool, "get" | "pendingNonce">;
  /** Decodes, validates and pools a raw signed transaction (Ledger.submitRawTransaction); rejects with NodeErrors. */
  submitRawTransaction(raw: Uint8Array): Promise<Hex>;
  /** Work packages for external miners (eth_getWork / eth_submitWork). */
  work: Pick<WorkProvider, "getWork" | "submitWork">;
  /** The in-process miner, if the node mines. */
  miner: Pick<Miner, "address" | "isMining" | "hashrate"> | null;
  /** The node's miner address (eth_coinbase, default of eth_getWork); null when it has none. */
  coinbase: Hex | null;
  /** Accounts the node signs for (eth_accounts, eth_sendTransaction); empty unless `--dev`. */
  devAccounts: readonly DevAccountKey[];
  /** Milliseconds now (test-only clock override for hashrate expiry). */
  now?: () => number;
  /** Sync progress from the P2P layer (false when in step with peers); absent: never syncing. */
  syncing?: () => { startingBlock: bigint; currentBlock: bigint; highestBlock: bigint } | false;
}

/** Blocks below the head that the `safe` tag names (PoW finality is only probabilistic). */
export const SAFE_DEPTH = 6n;
/** Blocks below the head that the `finalized` tag names (PoW finality is only probabilistic). */
export const FINALIZED_DEPTH = 24n;
/** Most blocks one eth_feeHistory call covers (geth's limit). */
export const MAX_FEE_HISTORY_BLOCKS = 1024n;
/** Blocks eth_maxPriorityFeePerGas looks back over. */
export const TIP_LOOKBACK_BLOCKS = 20;
/** The suggested tip when recent blocks hold no transactions: 1 gwei. */
export const DEFAULT_TIP = 1_000_000_000n;
/** How long a hashrate submitted with eth_submitHashrate counts. */
export const HASHRATE_TTL_MS = 60_000;

const MAX_REWARD_PERCENTILES = 100;
const MAX_HASHRATE_REPORTERS = 1024;
const LATEST: BlockSelector = { tag: "latest" };

/** A transaction request (execution-apis `GenericTransaction`) as eth_call, eth_estimateGas and eth_sendTransaction take it. */
export interface TxRequest {
  from?: Hex;
  to?: Hex;
  gas?: bigint;
  gasPrice?: bigint;
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
  value?: bigint;
  input: Uint8Array;
  nonce?: bigint;
  type?: bigint;
  chainId?: bigint;
  accessList: AccessListEntry[];
}

function parseAccessList(v: unknown): AccessListEntry[] {
  if (!Array.isArray(v)) throw new Error("must be an array of {address, storageKeys}");
  return v.map((e: unknown, i) => {
    if (typeof e !== "object" || e === null || Array.isArray(e)) throw new Error(`entry ${i} must be an object {address, storageKeys}`);
    const o = e as Record<string, unknown>;
    const keys = o.storageKeys ?? [];
    if (!Array.isArray(keys)) throw new Error(`entry ${i}: storageKeys must be an array`);
    return { address: parseAddress(o.address), storageKeys: keys.map((k) => param.parseHash(k)) };
  });
}

/** Parses a `GenericTransaction` object; each message names the field that is wrong. */
export function parseTxRequest(v: unknown): TxRequest {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("transaction must be an object");
  const o = v as Record<string, unknown>;
  const field = <T>(name: string, parse: (x: unknown) => T): T | undefined => {
    const x = o[name];
    if (x === undefined || x === null) return undefined;
    try {
      return parse(x);
    } catch (e) {
      throw new Error(`${name}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
  const input = field("input", (x) => parseData(x));
  const data = field("data", (x) => parseData(x));
  if (input && data && bytesToHex(input) !== bytesToHex(data)) {
    throw new Error('both "data" and "input" are set and not equal. Please use "input" to pass transaction call data');
  }
  const req: TxRequest = {
    from: field("from", parseAddress),
    to: field("to", parseAddress),
    gas: field("gas", parseQuantity),
    gasPrice: field("gasPrice", parseQuantity),
    maxFeePerGas: field("maxFeePerGas", parseQuantity),
    maxPriorityFeePerGas: field("maxPriorityFeePerGas", parseQuantity),
    value: field("value", parseQuantity),
    input: input ?? data ?? new Uint8Array(0),
    nonce: field("nonce", parseQuantity),
    type: field("type", parseQuantity),
    chainId: field("chainId", parseQuantity),
    accessList: field("accessList", parseAccessList) ?? [],
  };
  if (req.gasPrice !== undefined && (req.maxFeePerGas !== undefined || req.maxPriorityFeePerGas !== undefined)) {
    throw new Error("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified");
  }
  return req;
}

/** A storage slot: at most 32 bytes of hex, leading zeros allowed (execution-apis `bytesMax32`). */
function parseSlot(v: unknown): Hex {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{0,64}$/.test(v)) throw new Error(`storage key must be hex of at most 32 bytes, got ${JSON.stringify(v)}`);
  return v.toLowerCase() as Hex;
}

/** The slot number of a key parseSlot accepted (`0x` is slot 0). */
function slotNumber(slot: Hex): bigint {
  return slot === "0x" ? 0n : BigInt(slot);
}

function parseRewardPercentiles(v: unknown): number[] {
  if (!Array.isArray(v)) throw new Error("rewardPercentiles must be an array of numbers");
  if (v.length > MAX_REWARD_PERCENTILES) throw new Error(`at most ${MAX_REWARD_PERCENTILES} reward percentiles, got ${v.length}`);
  return v.map((p: unknown, i) => {
    if (typeof p !== "number" || !Number.isFinite(p) || p < 0 || p > 100) throw new Error(`invalid reward percentile #${i}: ${JSON.stringify(p)} is not a number from 0 to 100`);
    if (i > 0 && p <= (v[i - 1] as number)) throw new Error(`invalid reward percentiles: #${i - 1}:${v[i - 1]} >= #${i}:${p} (they must increase)`);
    return p;
  });
}

/** A count given as a hex quantity or, as geth also takes it (`math.HexOrDecimal64`), a JSON integer or a decimal string. */
function parseCount(v: unknown): bigint {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`block count must be a non-negative integer, got ${v}`);
    return BigInt(v);
  }
  if (typeof v === "string" && /^[0-9]{1,20}$/.test(v)) return BigInt(v);
  return parseQuantity(v);
}

/** A hashrate as miners send it: hex of at most 32 bytes, leading zeros allowed. */
function parseHashrate(v: unknown): bigint {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{1,64}$/.test(v)) throw new Error(`hashrate must be hex of at most 32 bytes, got ${JSON.stringify(v)}`);
  return BigInt(v);
}

function fixedData(name: string, length: number): Param<Hex> {
  return param.custom(name, { type: "string", pattern: `^0x[0-9a-f]{${length * 2}}$` }, (v) => {
    const b = parseData(v);
    if (b.length !== length) throw new Error(`${name} must be ${length} bytes, got ${b.length}`);
    return bytes(b);
  });
}

const txRequest = (name: string): Param<TxRequest> => param.custom(name, { title: "GenericTransaction", type: "object" }, parseTxRequest);

function serverError(message: string): RpcError {
  return new RpcError(RpcErrorCode.SERVER_ERROR, message);
}

/** A NodeError from consensus as -32000 with its reason (a CLI miner shows it); anything else as is. */
function asServerError(e: unknown): unknown {
  return isNodeError(e) ? serverError(e.message) : e;
}

function noContractCreation(): RpcError {
  return serverError("contract creation is not supported: the transaction has no `to` address (this chain runs no EVM)");
}

/** The blocks a selector resolved to. */
interface Resolved {
  hash: Hex;
  header: BlockHeader;
  /** The block itself when it was at hand (the head). */
  block?: Block;
}

/**
 * geth's optional override objects (state, block) of eth_call / eth_estimateGas: accepted when
 * empty so clients that always send them work, refused with a clear message otherwise.
 */
function noOverrides(name: string): Param<undefined> {
  return param.optional(
    param.custom(name, { type: "object" }, (v: unknown) => {
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${name.toLowerCase()} must be an object`);
      if (Object.keys(v).length > 0) throw new Error(`${name.toLowerCase()} are not supported (no EVM)`);
      return undefined;
    }),
  );
}

/** The `eth_` methods (without logs, filters and subscriptions, which live in their own files). */
export function ethMethods(deps: EthDeps): RpcMethod[] {
  const { chain, pool, work } = deps;
  const now = deps.now ?? Date.now;
  const hashrates = new Map<Hex, { rate: bigint; at: number }>();
  const sendQueue = new SerialQueue();
  const devKeys = new Map<Hex, Uint8Array>(deps.devAccounts.map((a) => [a.address.toLowerCase() as Hex, a.privateKey]));
  let tipCache: { head: Hex; tip: bigint } | null = null;

  // ---- block selection

  function tagNumber(tag: string): bigint {
    const head = chain.head.header.number;
    const below = (depth: bigint): bigint => (head > depth ? head - depth : 0n);
    if (tag === "earliest") return 0n;
    if (tag === "safe") return below(SAFE_DEPTH);
    if (tag === "finalized") return below(FINALIZED_DEPTH);
    return head; // latest, pending
  }

  async function resolve(sel: BlockSelector | undefined): Promise<Resolved | undefined> {
    const s = sel ?? LATEST;
    if ("hash" in s) {
      const header = await chain.getHeader(s.hash);
      if (!header) return undefined;
      if (s.requireCanonical && (await chain.getCanonicalHash(header.number)) !== s.hash) {
        throw serverError(`hash ${s.hash} is not currently canonical`);
      }
      return { hash: s.hash, header };
    }
    const head = chain.head;
    const number = "tag" in s ? tagNumber(s.tag) : s.number;
    if (number === head.header.number) return { hash: head.hash, header: head.header, block: head };
    const hash = await chain.getCanonicalHash(number);
    if (!hash) return undefined;
    const header = await chain.getHeader(hash);
    return header ? { hash, header } : undefined;
  }

  function notFound(sel: BlockSelector | undefined): RpcError {
    return new RpcError(RpcErrorCode.RESOURCE_NOT_FOUND, sel && "hash" in sel ? `header for hash ${sel.hash} not found` : "header not found");
  }

  /** The header a state query reads at; -32001 when the block is unknown. */
  async function stateHeader(sel: BlockSelector | undefined): Promise<BlockHeader> {
    const r = await resolve(sel);
    if (!r) throw notFound(sel);
    return r.header;
  }

  async function blockOf(sel: BlockSelector | undefined): Promise<Block | undefined> {
    const r = await resolve(sel);
    if (!r) return undefined;
    return r.block ?? (await chain.getBlock(r.hash));
  }

  async function totalDifficulty(block: Block): Promise<bigint> {
    if (block.hash === chain.head.hash) return chain.headTotalDifficulty;
    return (await chain.getTotalDifficulty(block.hash)) ?? 0n;
  }

  async function blockJson(block: Block | undefined, full: boolean): Promise<unknown> {
    return block ? formatBlock(block, await totalDifficulty(block), full) : null;
  }

  function txAt(block: Block | undefined, index: number): unknown {
    const tx = block?.transactions[index];
    if (!block || !tx) return null;
    const h = block.header;
    return formatTransaction(tx, { blockHash: block.hash, blockNumber: h.number, blockTimestamp: h.timestamp, baseFeePerGas: h.baseFeePerGas, index });
  }

  // ---- fees

  function tipOf(tx: SignedTx, baseFee: bigint): bigint {
    return effectiveGasPrice(tx, baseFee) - baseFee;
  }

  /** Median effective tip of the last blocks' transactions (upper middle for an even count); 1 gwei when there are none. */
  async function suggestedTip(): Promise<bigint> {
    const head = chain.head;
    if (tipCache?.head === head.hash) return tipCache.tip;
    const tips: bigint[] = [];
    let block: Block | undefined = head;
    for (let i = 0; i < TIP_LOOKBACK_BLOCKS && block; i++) {
      for (const tx of block.transactions) tips.push(tipOf(tx, block.header.baseFeePerGas));
      block = block.header.number > 0n ? await chain.getBlock(block.header.parentHash) : undefined;
    }
    tips.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const tip = tips.length > 0 ? tips[Math.floor(tips.length / 2)]! : DEFAULT_TIP;
    tipCache = { head: head.hash, tip };
    return tip;
  }

  /** Base fee of the next block: a genesis constant on this chain. */
  function nextBaseFee(): bigint {
    return chain.genesis.baseFeePerGas;
  }

  /** geth's weighting: transactions sorted by tip, the percentile's tip is the one whose cumulative gas reaches p% of the block's gas used. */
  async function blockRewards(header: BlockHeader, hash: Hex, percentiles: number[]): Promise<Hex[]> {
    const block = await chain.getBlock(hash);
    const receipts = (await chain.getReceipts(hash)) ?? [];
    if (!block || block.transactions.length === 0 || receipts.length !== block.transactions.length) return percentiles.map(() => quantity(0n));
    let previous = 0n;
    const sorted = block.transactions
      .map((tx, i) => {
        const gas = receipts[i]!.cumulativeGasUsed - previous;
        previous = receipts[i]!.cumulativeGasUsed;
        return { tip: tipOf(tx, header.baseFeePerGas), gas };
      })
      .sort((a, b) => (a.tip < b.tip ? -1 : a.tip > b.tip ? 1 : 0));
    return percentiles.map((p) => {
      const threshold = BigInt(Math.floor((Number(header.gasUsed) * p) / 100));
      let i = 0;
      let sum = sorted[0]!.gas;
      while (sum < threshold && i < sorted.length - 1) sum += sorted[++i]!.gas;
      return quantity(sorted[i]!.tip);
    });
  }

  // ---- state

  /** Head nonce plus the sender's pooled transactions that follow it without a gap (geth's pending nonce). */
  async function pendingNonce(address: Hex): Promise<bigint> {
    return pool.pendingNonce(address, (await chain.headState().getAccount(address)).nonce);
  }

  /** Runs a request as a transaction would in the next block on top of `header` (see Blockchain.simulateCall). */
  function simulate(req: TxRequest & { to: Hex }, header: BlockHeader, gasLimit: bigint): ReturnType<Blockchain["simulateCall"]> {
    const from = req.from ?? ZERO_ADDRESS;
    return chain.simulateCall(header, { from, to: req.to, value: req.value ?? 0n, data: req.input, gasLimit, accessList: req.accessList });
  }

  /**
   * eth_estimateGas: the gas the call uses when run with the most gas it could have (the given
   * `gas`, the block gas limit, and what the balance pays at a given fee cap), after checking the
   * sender can pay the value. A module call that reverts answers its revert.
   */
  async function estimate(req: TxRequest, sel: BlockSelector | undefined): Promise<bigint> {
    const to = req.to;
    if (to === undefined) throw noContractCreation();
    const header = await stateHeader(sel);
    const value = req.value ?? 0n;
    const { balance } = await chain.readState(header).getAccount(req.from ?? ZERO_ADDRESS);
    if (value > balance) throw serverError("insufficient funds for transfer");
    let cap = req.gas ?? header.gasLimit;
    const feeCap = req.gasPrice ?? req.maxFeePerGas ?? 0n;
    if (feeCap > 0n) {
      const allowance = (balance - value) / feeCap;
      if (allowance < cap) cap = allowance;
    }
    try {
      return (await simulate({ ...req, to }, header, cap)).gasUsed;
    } catch (e) {
      if (isNodeError(e) && (e.code === ModuleErrorCode.OUT_OF_GAS || e.code === TxErrorCode.INTRINSIC_GAS_TOO_LOW)) {
        throw serverError(`gas required exceeds allowance (${cap})`);
      }
      throw e;
    }
  }

  // ---- dev signing

  async function sendTransaction(req: TxRequest): Promise<Hex> {
    if (devKeys.size === 0) {
      throw new RpcError(RpcErrorCode.METHOD_NOT_SUPPORTED, "eth_sendTransaction needs --dev: sign locally and use eth_sendRawTransaction");
    }
    if (req.from === undefined) throw invalidParam(0, 'missing "from"');
    const key = devKeys.get(req.from);
    if (!key) throw serverError("unknown account");
    const chainId = chain.genesis.chainId;
    if (req.chainId !== undefined && req.chainId !== chainId) throw serverError(`chainId does not match node's (have=${req.chainId}, want=${chainId})`);
    const legacy = req.gasPrice !== undefined || req.type === 0n;
    if (req.type !== undefined && req.type !== 0n && req.type !== 2n) {
      throw serverError(`transaction type not supported: type ${req.type}; only legacy (0x0) and EIP-1559 (0x2) transactions are accepted`);
    }
    if (legacy && req.accessList.length > 0) throw serverError("an access list needs a type 2 transaction (give maxFeePerGas, not gasPrice)");
    // one at a time: two concurrent sends from one account must not pick the same pending nonce
    return sendQueue.run(async () => {
      const nonce = req.nonce ?? (await pendingNonce(req.from!));
      const gasLimit = req.gas ?? (await estimate(req, LATEST));
      if (req.to === undefined) throw noContractCreation();
      if (nonce > BigInt(Number.MAX_SAFE_INTEGER)) throw serverError(`nonce ${nonce} is too large`);
      const base = { chainId, nonce: Number(nonce), to: req.to, value: req.value ?? 0n, data: bytesToHex(req.input), gasLimit };
      let raw: string;
      const wallet = new Wallet(bytesToHex(key));
      if (legacy) {
        raw = await wallet.signTransaction({ ...base, type: 0, gasPrice: req.gasPrice ?? nextBaseFee() + (await suggestedTip()) });
      } else {
        const tip = req.maxPriorityFeePerGas ?? (await suggestedTip());
        const maxFee = req.maxFeePerGas ?? 2n * nextBaseFee() + tip;
        if (maxFee < tip) throw serverError(`maxFeePerGas (${maxFee}) < maxPriorityFeePerGas (${tip})`);
        raw = await wallet.signTransaction({
          ...base,
          type: 2,
          maxFeePerGas: maxFee,
          maxPriorityFeePerGas: tip,
          accessList: req.accessList.map((e) => ({ address: e.address, storageKeys: [...e.storageKeys] })),
        });
      }
      return deps.submitRawTransaction(hexToBytes(raw as Hex));
    });
  }

  // ---- mining

  function liveHashrates(): bigint {
    const cutoff = now() - HASHRATE_TTL_MS;
    let sum = 0n;
    for (const [id, h] of hashrates) {
      if (h.at < cutoff) hashrates.delete(id);
      else sum += h.rate;
    }
    return sum;
  }

  const optionalBlock = param.optional(param.block("Block"));

  return [
    defineMethod({
      name: "eth_chainId",
      summary: "Returns the chain ID (EIP-155) of the network.",
      params: [],
      result: { name: "Chain ID", schema: rs.quantity },
      handler: () => quantity(chain.genesis.chainId),
    }),
    defineMethod({
      name: "eth_syncing",
      summary: "Returns the sync progress (startingBlock, currentBlock, highestBlock) while the node catches up with its peers, else false.",
      params: [],
      result: {
        name: "Syncing status",
        schema: {
          oneOf: [
            { type: "object", properties: { startingBlock: rs.quantity, currentBlock: rs.quantity, highestBlock: rs.quantity } },
            rs.bool,
          ],
        },
      },
      handler: () => {
        const p = deps.syncing?.() ?? false;
        return p === false
          ? false
          : { startingBlock: quantity(p.startingBlock), currentBlock: quantity(p.currentBlock), highestBlock: quantity(p.highestBlock) };
      },
    }),
    defineMethod({
      name: "eth_blockNumber",
      summary: "Returns the number of the head block.",
      params: [],
      result: { name: "Block number", schema: rs.quantity },
      handler: () => quantity(chain.head.header.number),
    }),
    defineMethod({
      name: "eth_coinbase",
      summary: "Returns the node's miner address.",
      params: [],
      result: { name: "Coinbase address", schema: rs.address },
      handler: () => {
        if (!deps.coinbase) throw serverError("no coinbase: this node has no miner address (start it with --mine and --miner.keystore, or --dev)");
        return deps.coinbase;
      },
    }),
    defineMethod({
      name: "eth_mining",
      summary: "Returns true while the in-process miner runs.",
      params: [],
      result: { name: "Mining status", schema: rs.bool },
      handler: () => deps.miner?.isMining ?? false,
    }),
    defineMethod({
      name: "eth_hashrate",
      summary: "Returns scrypt hashes per second: the in-process miner plus hashrates submitted in the last minute.",
      params: [],
      result: { name: "Hashrate", schema: rs.quantity },
      handler: () => {
        const sum = BigInt(Math.round(deps.miner?.hashrate ?? 0)) + liveHashrates();
        // capped: reports are up to 32 bytes each, and a sum past uint256 is no quantity clients can read
        const max = (1n << 256n) - 1n;
        return quantity(sum > max ? max : sum);
      },
    }),
    defineMethod({
      name: "eth_gasPrice",
      summary: "Returns a gas price for a legacy transaction: the base fee plus the suggested tip.",
      params: [],
      result: { name: "Gas price", schema: rs.quantity },
      handler: async () => quantity(nextBaseFee() + (await suggestedTip())),
    }),
    defineMethod({
      name: "eth_maxPriorityFeePerGas",
      summary: "Returns the suggested tip: the median effective tip of the last 20 blocks' transactions (1 gwei if none).",
      params: [],
      result: { name: "Max priority fee per gas", schema: rs.quantity },
      handler: async () => quantity(await suggestedTip()),
    }),
    defineMethod({
      name: "eth_feeHistory",
      summary: "Returns base fees, gas used ratios and tip percentiles of a range of blocks.",
      params: [
        param.custom("blockCount", { oneOf: [rs.quantity, { type: "integer", minimum: 0 }, { type: "string", pattern: "^[0-9]+$" }] }, parseCount),
        param.block("newestBlock"),
        param.optional(param.custom("rewardPercentiles", rs.array({ type: "number" }), parseRewardPercentiles)),
      ],
      result: { name: "Fee history result", schema: rs.object },
      handler: async ([blockCount, newestBlock, percentiles]) => {
        const count = blockCount > MAX_FEE_HISTORY_BLOCKS ? MAX_FEE_HISTORY_BLOCKS : blockCount;
        const withRewards = percentiles !== undefined && percentiles.length > 0;
        if (count === 0n) return { oldestBlock: quantity(0n), baseFeePerGas: [], gasUsedRatio: [], ...(withRewards ? { reward: [] } : {}) };
        const newest = await resolve(newestBlock);
        if (!newest) {
          if ("number" in newestBlock) {
            throw new RpcError(RpcErrorCode.RESOURCE_NOT_FOUND, `request beyond head block: requested ${newestBlock.number}, head ${chain.head.header.number}`);
          }
          throw notFound(newestBlock);
        }
        // walk back from the newest block by parent hash, so a block named by hash off the canonical chain works too
        const blocks: Resolved[] = [newest];
        while (BigInt(blocks.length) < count && blocks[0]!.header.number > 0n) {
          const parentHash = blocks[0]!.header.parentHash;
          const header = await chain.getHeader(parentHash);
          if (!header) break;
          blocks.unshift({ hash: parentHash, header });
        }
        const result: { oldestBlock: Hex; baseFeePerGas: Hex[]; gasUsedRatio: number[]; reward?: Hex[][] } = {
          oldestBlock: quantity(blocks[0]!.header.number),
          baseFeePerGas: [...blocks.map((b) => quantity(b.header.baseFeePerGas)), quantity(nextBaseFee())],
          gasUsedRatio: blocks.map((b) => (b.header.gasLimit > 0n ? Number(b.header.gasUsed) / Number(b.header.gasLimit) : 0)),
        };
        if (withRewards) {
          // one block's body and receipts in memory at a time, not 1,024 at once
          result.reward = [];
          for (const b of blocks) result.reward.push(await blockRewards(b.header, b.hash, percentiles));
        }
        return result;
      },
    }),
    defineMethod({
      name: "eth_accounts",
      summary: "Returns the accounts the node signs for: the ten dev accounts with --dev, else none.",
      params: [],
      result: { name: "Accounts", schema: rs.array(rs.address) },
      handler: () => [...devKeys.keys()],
    }),

    // ---- state
    defineMethod({
      name: "eth_getBalance",
      summary: "Returns the balance of an account at a block.",
      params: [param.address("Address"), optionalBlock],
      result: { name: "Balance", schema: rs.quantity },
      handler: async ([address, block]) => {
        const header = await stateHeader(block);
        return quantity((await chain.readState(header).getAccount(address)).balance);
      },
    }),
    defineMethod({
      name: "eth_getTransactionCount",
      summary: "Returns the nonce of an account at a block; `pending` adds the sender's gapless pooled transactions.",
      params: [param.address("Address"), optionalBlock],
      result: { name: "Transaction count", schema: rs.quantity },
      handler: async ([address, block]) => {
        if (block && "tag" in block && block.tag === "pending") return quantity(await pendingNonce(address));
        const header = await stateHeader(block);
        return quantity((await chain.readState(header).getAccount(address)).nonce);
      },
    }),
    defineMethod({
      name: "eth_getCode",
      summary: "Returns a system module's marker (0xfe and its name in ASCII) at its address, else 0x (no EVM, no code).",
      params: [param.address("Address"), optionalBlock],
      result: { name: "Bytecode", schema: rs.data },
      handler: async ([address, block]) => {
        await stateHeader(block);
        const module = chain.systemModules.get(address);
        return module ? codeMarker(module) : "0x";
      },
    }),
    defineMethod({
      name: "eth_getStorageAt",
      summary: "Returns a 32-byte word of an account's storage (only system modules have storage).",
      params: [param.address("Address"), param.custom("Storage slot", { type: "string", pattern: "^0x[0-9a-fA-F]{0,64}$" }, parseSlot), optionalBlock],
      result: { name: "Value", schema: rs.data },
      handler: async ([address, slot, block]) => {
        const value = await chain.readState(await stateHeader(block)).getStorage(address, slotNumber(slot));
        return `0x${value.toString(16).padStart(64, "0")}`;
      },
    }),
    defineMethod({
      name: "eth_getProof",
      summary: "Returns an EIP-1186 Merkle proof of an account against the block's state root.",
      params: [
        param.address("Address"),
        param.custom("StorageKeys", rs.array({ type: "string" }), (v) => {
          if (!Array.isArray(v)) throw new Error("storage keys must be an array");
          return v.map(parseSlot);
        }),
        optionalBlock,
      ],
      result: { name: "Account", schema: rs.object },
      handler: async ([address, keys, block]) => {
        const state = chain.stateAt(await stateHeader(block));
        const [account, proof, storageHash] = await Promise.all([state.getAccount(address), state.getProof(address), state.getStorageRoot(address)]);
        const storageProof = [];
        for (const key of keys) {
          const slot = slotNumber(key);
          const [value, nodes] = await Promise.all([state.getStorage(address, slot), state.getStorageProof(address, slot)]);
          storageProof.push({ key, value: quantity(value), proof: nodes.map((node) => bytes(node)) });
        }
        return {
          address,
          accountProof: proof.map((node) => bytes(node)),
          balance: quantity(account.balance),
          nonce: quantity(account.nonce),
          codeHash: KECCAK_EMPTY,
          storageHash,
          storageProof,
        };
      },
    }),

    // ---- blocks and transactions
    defineMethod({
      name: "eth_getBlockByNumber",
      summary: "Returns a block by number or tag, with transaction hashes or full transactions; null if unknown.",
      params: [param.block("Block"), param.bool("Hydrated transactions")],
      result: { name: "Block information", schema: rs.orNull(rs.object) },
      handler: async ([block, full]) => blockJson(await blockOf(block), full),
    }),
    defineMethod({
      name: "eth_getBlockByHash",
      summary: "Returns a block by hash, with transaction hashes or full transactions; null if unknown.",
      params: [param.hash("Block hash"), param.bool("Hydrated transactions")],
      result: { name: "Block information", schema: rs.orNull(rs.object) },
      handler: async ([hash, full]) => blockJson(await chain.getBlock(hash), full),
    }),
    defineMethod({
      name: "eth_getBlockTransactionCountByHash",
      summary: "Returns the number of transactions in a block by hash; null if unknown.",
      params: [param.hash("Block hash")],
      result: { name: "Transaction count", schema: rs.orNull(rs.quantity) },
      handler: async ([hash]) => {
        const block = await chain.getBlock(hash);
        return block ? quantity(block.transactions.length) : null;
      },
    }),
    defineMethod({
      name: "eth_getBlockTransactionCountByNumber",
      summary: "Returns the number of transactions in a block by number or tag; null if unknown.",
      params: [param.block("Block")],
      result: { name: "Transaction count", schema: rs.orNull(rs.quantity) },
      handler: async ([block]) => {
        const b = await blockOf(block);
        return b ? quantity(b.transactions.length) : null;
      },
    }),
    defineMethod({
      name: "eth_getTransactionByHash",
      summary: "Returns a mined or pending transaction by hash (pending: block fields null); null if unknown.",
      params: [param.hash("Transaction hash")],
      result: { name: "Transaction information", schema: rs.orNull(rs.object) },
      handler: async ([hash]) => {
        const at = await chain.getTxLocation(hash);
        if (at) {
          const found = txAt(await chain.getBlock(at.blockHash), at.index);
          if (found) return found;
        }
        const pooled = pool.get(hash);
        return pooled ? formatTransaction(pooled, null) : null;
      },
    }),
    defineMethod({
      name: "eth_getTransactionByBlockHashAndIndex",
      summary: "Returns the transaction at an index of a block given by hash; null if either is unknown.",
      params: [param.hash("Block hash"), param.smallQuantity("Transaction index")],
      result: { name: "Transaction information", schema: rs.orNull(rs.object) },
      handler: async ([hash, index]) => txAt(await chain.getBlock(hash), index),
    }),
    defineMethod({
      name: "eth_getTransactionByBlockNumberAndIndex",
      summary: "Returns the transaction at an index of a block given by number or tag; null if either is unknown.",
      params: [param.block("Block"), param.smallQuantity("Transaction index")],
      result: { name: "Transaction information", schema: rs.orNull(rs.object) },
      handler: async ([block, index]) => txAt(await blockOf(block), index),
    }),
    defineMethod({
      name: "eth_getTransactionReceipt",
      summary: "Returns the receipt of a mined transaction; null if unknown or still pending.",
      params: [param.hash("Transaction hash")],
      result: { name: "Receipt information", schema: rs.orNull(rs.object) },
      handler: async ([hash]) => {
        const at = await chain.getTxLocation(hash);
        if (!at) return null;
        const [block, receipts] = await Promise.all([chain.getBlock(at.blockHash), chain.getReceipts(at.blockHash)]);
        if (!block || !receipts || block.transactions[at.index]?.hash !== hash) return null;
        return formatReceipt(block, receipts, at.index);
      },
    }),
    defineMethod({
      name: "eth_getBlockReceipts",
      summary: "Returns the receipts of every transaction of a block; null if the block is unknown.",
      params: [param.block("Block")],
      result: { name: "Receipts information", schema: rs.orNull(rs.array(rs.object)) },
      handler: async ([sel]) => {
        const block = await blockOf(sel);
        if (!block) return null;
        const receipts = await chain.getReceipts(block.hash);
        return receipts ? formatBlockReceipts(block, receipts) : null;
      },
    }),

    // ---- transactions
    defineMethod({
      name: "eth_sendRawTransaction",
      summary: "Submits a signed raw transaction (legacy EIP-155 or type 2) to the pool; returns its hash.",
      params: [param.data("Transaction")],
      result: { name: "Transaction hash", schema: rs.hash },
      handler: ([raw]) => deps.submitRawTransaction(raw),
    }),
    defineMethod({
      name: "eth_sendTransaction",
      summary: "--dev only: fills, signs with a dev account and submits a transaction; returns its hash.",
      params: [txRequest("Transaction")],
      result: { name: "Transaction hash", schema: rs.hash },
      handler: ([req]) => sendTransaction(req),
    }),
    defineMethod({
      name: "eth_estimateGas",
      summary: "Returns the gas a transaction uses: 21000 plus its calldata and access list charges, plus a system module's gas.",
      params: [txRequest("Transaction"), optionalBlock, noOverrides("State overrides")],
      result: { name: "Gas used", schema: rs.quantity },
      handler: async ([req, block]) => quantity(await estimate(req, block)),
    }),
    defineMethod({
      name: "eth_call",
      summary: "Runs a call without a transaction: a system module's function returns its ABI-encoded result (a revert is error 3); a value transfer returns 0x.",
      params: [txRequest("Transaction"), optionalBlock, noOverrides("State overrides"), noOverrides("Block overrides")],
      result: { name: "Return data", schema: rs.data },
      handler: async ([req, block]) => {
        const header = await stateHeader(block);
        const from = req.from ?? ZERO_ADDRESS;
        const price = req.gasPrice ?? req.maxFeePerGas ?? 0n;
        const want = (req.value ?? 0n) + (req.gas ?? 0n) * price;
        if (want > 0n) {
          const { balance } = await chain.readState(header).getAccount(from);
          if (balance < want) throw serverError(`insufficient funds for gas * price + value: address ${from} have ${balance} want ${want}`);
        }
        if (req.to === undefined) return "0x";
        return bytes((await simulate({ ...req, to: req.to }, header, req.gas ?? header.gasLimit)).returnData);
      },
    }),

    // ---- mining
    defineMethod({
      name: "eth_getWork",
      summary: "Returns a work package [sealHash, miner (32 bytes), target, block number] for an eligible miner.",
      params: [param.optional(param.address("Miner"))],
      result: { name: "Work package", schema: rs.array(rs.data) },
      handler: async ([miner]) => {
        const address = miner ?? deps.coinbase;
        if (!address) throw serverError("no miner address: pass one as the first argument of eth_getWork, or give the node a miner key");
        try {
          const pkg = await work.getWork(address);
          return [pkg.sealHash, `0x${pkg.miner.slice(2).padStart(64, "0")}`, pkg.target, quantity(pkg.number)];
        } catch (e) {
          throw asServerError(e);
        }
      },
    }),
    defineMethod({
      name: "eth_submitWork",
      summary: "Submits a sealed work package; true when the block became the head, false when it landed on a side chain.",
      params: [fixedData("Nonce", 8), param.hash("Seal hash"), param.hash("Mix hash"), fixedData("Signature", 65)],
      result: { name: "Accepted", schema: rs.bool },
      handler: async ([nonce, sealHash, mixHash, signature]) => {
        try {
          const result = await work.submitWork({ sealHash, nonce, mixHash, signature });
          return result.status === "head";
        } catch (e) {
          throw asServerError(e);
        }
      },
    }),
    defineMethod({
      name: "eth_submitHashrate",
      summary: "Reports an external miner's hashrate under an id; it counts in eth_hashrate for a minute.",
      params: [param.custom("Hashrate", { type: "string", pattern: "^0x[0-9a-fA-F]{1,64}$" }, parseHashrate), param.hash("Id")],
      result: { name: "Accepted", schema: rs.bool },
      handler: ([rate, id]) => {
        liveHashrates(); // drops expired reports
        hashrates.delete(id);
        if (hashrates.size >= MAX_HASHRATE_REPORTERS) hashrates.delete(hashrates.keys().next().value!);
        hashrates.set(id, { rate, at: now() });
        return true;
      },
    }),
  ];
}
