import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import type { BlockImporter } from "./blockImporter.js";
import type { BlockProducer, SealJob } from "./blockProducer.js";
import { sealTarget } from "./seal.js";
import { NodeError, blockOf, sealHash, type BlockHeader, type Blockchain, type Hex, type ImportResult } from "../chain/index.js";

/** What an external miner needs to search nonces (the `eth_getWork` answer). */
export interface WorkPackage {
  /** The hash the seal commits to: scrypt(sealHash || nonce, salt = miner). */
  sealHash: Hex;
  /** The 32-byte target mixHash must not exceed (base difficulty and streak penalty applied). */
  target: Hex;
  /** Height of the block being sealed. */
  number: bigint;
  /** Who must sign the seal. */
  miner: Hex;
  difficulty: bigint;
  penaltyExponent: number;
}

/** A solution from an external miner (the `eth_submitWork` request). */
export interface WorkSolution {
  sealHash: Hex;
  nonce: Hex;
  mixHash: Hex;
  /** 65-byte seal signature by the miner over (sealHash, nonce, mixHash). */
  signature: Hex;
}

/** Error codes of the work interface. */
export const WorkErrorCode = {
  UNKNOWN_WORK: "WORK_UNKNOWN",
  NOT_ELIGIBLE: "WORK_NOT_ELIGIBLE",
  MINER_BANNED: "WORK_MINER_BANNED",
  ALREADY_SUBMITTED: "WORK_ALREADY_SUBMITTED",
} as const;
/** One of WorkErrorCode. */
export type WorkErrorCode = (typeof WorkErrorCode)[keyof typeof WorkErrorCode];

/** A work request or solution the node refuses. */
export class WorkError extends NodeError<{ code: WorkErrorCode }> {}

/** Options of the WorkProvider. */
export interface WorkProviderOptions {
  /** Work packages remembered for late solutions. */
  maxJobs: number;
}

/** Default WorkProvider options. */
export const defaultWorkProviderOptions: WorkProviderOptions = { maxJobs: 64 };

/**
 * The work-package interface for external miners (eth_getWork / eth_submitWork): hands out seal
 * jobs for an eligible miner address and accepts one solution per miner per height.
 */
export class WorkProvider {
  private readonly opts: WorkProviderOptions;
  private readonly jobs = new Map<Hex, SealJob>();
  /** "parent:miner" of solutions being imported, so two concurrent submissions cannot both pass the check. */
  private readonly inFlight = new Set<string>();

  constructor(
    opts: Partial<WorkProviderOptions>,
    private readonly modules: { chain: Blockchain; importer: BlockImporter; producer: BlockProducer },
  ) {
    this.opts = { ...defaultWorkProviderOptions, ...opts };
  }

  /** A fresh work package for `miner` on the current head; refused for a miner that may not mine the next block. */
  async getWork(miner: Hex): Promise<WorkPackage> {
    const address = miner.toLowerCase() as Hex;
    if (!this.modules.chain.genesis.consensus.miners.includes(address)) {
      throw new WorkError({ code: WorkErrorCode.NOT_ELIGIBLE }, `${address} is not an eligible miner`);
    }
    // a banned miner's seals are refused at import: say so now instead of handing out wasted work
    const until = await this.modules.importer.bannedUntil(address);
    if (until !== undefined && this.modules.chain.head.header.number + 1n <= until) {
      throw new WorkError(
        { code: WorkErrorCode.MINER_BANNED },
        `${address} is banned until block ${until} for equivocation: no work for it before block ${until + 1n}`,
      );
    }
    const job = await this.modules.producer.job(address);
    const hash = bytesToHex(sealHash(job.template.header)) as Hex;
    // handed out again (same head, same transactions): now the newest, not the first to forget
    this.jobs.delete(hash);
    this.jobs.set(hash, job);
    while (this.jobs.size > this.opts.maxJobs) this.jobs.delete(this.jobs.keys().next().value!);
    const { header } = job.template;
    return {
      sealHash: hash,
      target: bytesToHex(toBytes32(sealTarget(header.difficulty, job.penaltyExponent))) as Hex,
      number: header.number,
      miner: address,
      difficulty: header.difficulty,
      penaltyExponent: job.penaltyExponent,
    };
  }

  /** Seals the job of `solution.sealHash` and imports the block; refuses a second solution by a miner on one parent. */
  async submitWork(solution: WorkSolution): Promise<ImportResult> {
    const job = this.jobs.get(solution.sealHash.toLowerCase() as Hex);
    if (!job) throw new WorkError({ code: WorkErrorCode.UNKNOWN_WORK }, `no work package with seal hash ${solution.sealHash}`);
    const unsealed = job.template.header;
    const slot = `${unsealed.parentHash}:${unsealed.miner}`;
    if (this.inFlight.has(slot)) {
      throw new WorkError(
        { code: WorkErrorCode.ALREADY_SUBMITTED },
        `a block by ${unsealed.miner} at height ${unsealed.number} is being imported`,
      );
    }
    // claimed before any await, so two concurrent submissions cannot both pass the check
    this.inFlight.add(slot);
    try {
      const first = await this.modules.importer.firstBlockOn(unsealed.parentHash, unsealed.miner);
      if (first !== undefined) {
        throw new WorkError(
          { code: WorkErrorCode.ALREADY_SUBMITTED },
          `a block by ${unsealed.miner} at height ${unsealed.number} was already accepted on this parent (${first})`,
        );
      }
      return await this.seal(solution, job);
    } finally {
      this.inFlight.delete(slot);
    }
  }

  private async seal(solution: WorkSolution, job: SealJob): Promise<ImportResult> {
    const { header: unsealed, transactions, subBlocks } = job.template;
    const header: BlockHeader = {
      ...unsealed,
      nonce: solution.nonce.toLowerCase() as Hex,
      mixHash: solution.mixHash.toLowerCase() as Hex,
      sealSignature: solution.signature.toLowerCase() as Hex,
    };
    const result = await this.modules.importer.importBlock(blockOf(header, { transactions, subBlocks }));
    this.jobs.delete(solution.sealHash.toLowerCase() as Hex);
    return result;
  }
}

const MAX_UINT256 = (1n << 256n) - 1n;

function toBytes32(n: bigint): Uint8Array {
  return hexToBytes(`0x${(n > MAX_UINT256 ? MAX_UINT256 : n).toString(16).padStart(64, "0")}`);
}
