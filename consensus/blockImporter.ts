import { RLP } from "@ethereumjs/rlp";
import { bytesToBigInt, bytesToHex, hexToBytes } from "@ethereumjs/util";
import { MEDIAN_TIME_SPAN, checkTimestamp, nextDifficulty, streakCount } from "./difficulty.js";
import { verifySeal } from "./seal.js";
import { Bucket, NodeError, SerialQueue, bucketKey, encodeHeader, headerHash, numberKey, type BatchOp, type Block, type BlockHeader, type Blockchain, type Hex, type ImportResult } from "../chain/index.js";

/** Error codes of the consensus checks around import. */
export const ConsensusErrorCode = {
  PARENT_UNKNOWN: "CONSENSUS_PARENT_UNKNOWN",
  BAD_DIFFICULTY: "CONSENSUS_BAD_DIFFICULTY",
  EQUIVOCATION: "CONSENSUS_EQUIVOCATION",
  MINER_BANNED: "CONSENSUS_MINER_BANNED",
} as const;
/** One of ConsensusErrorCode. */
export type ConsensusErrorCode = (typeof ConsensusErrorCode)[keyof typeof ConsensusErrorCode];

/** A block that breaks a consensus rule other than the seal itself. */
export class ConsensusError extends NodeError<{ code: ConsensusErrorCode; miner?: Hex }> {}

/** Collaborators of the BlockImporter. */
export interface BlockImporterModules {
  chain: Blockchain;
  /** Unix seconds now (test-only override of the clock). */
  now?: () => bigint;
  /** Told how long each successful import took, in seconds (metrics). */
  onImported?: (seconds: number, result: ImportResult) => void;
}

/** The consensus facts of a block's position: what its seal must meet. */
export interface SealRequirements {
  difficulty: bigint;
  penaltyExponent: number;
}

/**
 * Imports blocks under the restricted proof-of-work rules: eligibility and seal, streak penalty,
 * difficulty retarget, timestamps, equivocation (a second block by one miner at one height is
 * rejected and bans the miner for banBlocks); then hands the block to the chain for execution.
 */
export class BlockImporter {
  private readonly miners: ReadonlySet<Hex>;
  private readonly now: () => bigint;
  private readonly queue = new SerialQueue();

  constructor(private readonly modules: BlockImporterModules) {
    this.miners = new Set(modules.chain.genesis.consensus.miners);
    this.now = modules.now ?? (() => BigInt(Math.floor(Date.now() / 1000)));
  }

  /**
   * Checks every consensus rule of `block`, then imports it; throws a NodeError naming the broken
   * rule. Imports run one at a time, so two twins arriving together cannot both pass the
   * equivocation check.
   */
  importBlock(block: Block): Promise<ImportResult> {
    return this.queue.run(async () => {
      const start = performance.now();
      const result = await this.importChecked(block);
      if (result.status !== "known") this.modules.onImported?.((performance.now() - start) / 1000, result);
      return result;
    });
  }

  private async importChecked(given: Block): Promise<ImportResult> {
    const { chain } = this.modules;
    // the hash is always recomputed: a peer's claimed hash is never trusted as a key
    const block: Block = { ...given, hash: headerHash(given.header) };
    if ((await chain.getTotalDifficulty(block.hash)) !== undefined) return { status: "known", hash: block.hash };
    const { header } = block;
    await this.checkNotBanned(header);
    const parent = await chain.getHeader(header.parentHash);
    if (!parent) throw new ConsensusError({ code: ConsensusErrorCode.PARENT_UNKNOWN }, `parent ${header.parentHash} is unknown`);
    // cheap header rules first: a well-sealed header with a wrong number or gas limit costs no scrypt
    chain.checkHeaderFields(header, parent);
    const req = await this.requirements(header.parentHash, header.miner, header.timestamp);
    if (header.difficulty !== req.difficulty) {
      throw new ConsensusError(
        { code: ConsensusErrorCode.BAD_DIFFICULTY },
        `block difficulty ${header.difficulty} differs from the retargeted ${req.difficulty}`,
      );
    }
    await this.checkTimestamp(header);
    await verifySeal(header, { scrypt: chain.genesis.consensus.scrypt, miners: this.miners, penaltyExponent: req.penaltyExponent });
    const first = await this.firstBlockOn(header.parentHash, header.miner);
    if (first !== undefined && first !== block.hash) await this.punishEquivocation(header, first);
    const record: BatchOp = { type: "put", key: minerOnParentKey(header.parentHash, header.miner), value: hexToBytes(block.hash) };
    return chain.importBlock(block, [record]);
  }

  /** Difficulty and streak penalty that a block by `miner` on `parentHash` at `timestamp` must meet. */
  async requirements(parentHash: Hex, miner: Hex, timestamp: bigint): Promise<SealRequirements> {
    const { chain } = this.modules;
    const parent = await chain.getHeader(parentHash);
    if (!parent) throw new ConsensusError({ code: ConsensusErrorCode.PARENT_UNKNOWN }, `parent ${parentHash} is unknown`);
    const c = chain.genesis.consensus;
    const difficulty = nextDifficulty(parent, timestamp, c);
    const previous = await this.ancestors(parent, c.streakWindow);
    return { difficulty, penaltyExponent: streakCount(miner, previous.map((h) => h.miner)) };
  }

  /**
   * The first block hash seen from `miner` on `parentHash`, if any. Two blocks by one miner on the
   * same parent are the parallel submissions the rules forbid; a miner sealing again at a height
   * after a reorg (on another parent) is not equivocating.
   */
  async firstBlockOn(parentHash: Hex, miner: Hex): Promise<Hex | undefined> {
    const v = await this.modules.chain.getRaw(minerOnParentKey(parentHash, miner));
    return v ? (bytesToHex(v) as Hex) : undefined;
  }

  /** The last height at which `miner` is banned, if it ever equivocated. */
  async bannedUntil(miner: Hex): Promise<bigint | undefined> {
    const v = await this.modules.chain.getRaw(bucketKey(Bucket.minerBan, hexToBytes(miner)));
    return v ? bytesToBigInt(v) : undefined;
  }

  private async checkNotBanned(header: BlockHeader): Promise<void> {
    const until = await this.bannedUntil(header.miner);
    if (until !== undefined && header.number <= until) {
      throw new ConsensusError(
        { code: ConsensusErrorCode.MINER_BANNED, miner: header.miner },
        `miner ${header.miner} is banned until block ${until} for equivocation`,
      );
    }
  }

  private async punishEquivocation(header: BlockHeader, firstHash: Hex): Promise<never> {
    const { chain } = this.modules;
    const first = await chain.getHeader(firstHash);
    // a late twin at an old height never shortens a ban already in force
    const previous = (await this.bannedUntil(header.miner)) ?? 0n;
    const proposed = header.number + BigInt(chain.genesis.consensus.banBlocks);
    const until = proposed > previous ? proposed : previous;
    const ops: BatchOp[] = [
      { type: "put", key: bucketKey(Bucket.minerBan, hexToBytes(header.miner)), value: numberKey(until) },
    ];
    if (first) {
      ops.push({
        type: "put",
        key: bucketKey(Bucket.equivocation, hexToBytes(header.miner), numberKey(header.number)),
        value: RLP.encode([encodeHeader(first), encodeHeader(header)]),
      });
    }
    await chain.writeRaw(ops);
    throw new ConsensusError(
      { code: ConsensusErrorCode.EQUIVOCATION, miner: header.miner },
      `miner ${header.miner} sealed two blocks on parent ${header.parentHash} at height ${header.number} (${firstHash} first); banned until block ${until}`,
    );
  }

  private async checkTimestamp(header: BlockHeader): Promise<void> {
    const parent = (await this.modules.chain.getHeader(header.parentHash))!;
    const previous = await this.ancestors(parent, MEDIAN_TIME_SPAN, true);
    checkTimestamp(header.timestamp, previous.map((h) => h.timestamp), this.now());
  }

  /** Up to `count` headers from `from` back (most recent first), genesis only if `withGenesis`. */
  private async ancestors(from: BlockHeader, count: number, withGenesis = false): Promise<BlockHeader[]> {
    const out: BlockHeader[] = [];
    let h: BlockHeader | undefined = from;
    while (h && (withGenesis || h.number > 0n) && out.length < count) {
      out.push(h);
      h = await this.modules.chain.getHeader(h.parentHash);
    }
    return out;
  }
}

/** Key of the (parent, miner) -> first block record. */
function minerOnParentKey(parentHash: Hex, miner: Hex): Uint8Array {
  return bucketKey(Bucket.minerOnParent, hexToBytes(parentHash), hexToBytes(miner));
}
