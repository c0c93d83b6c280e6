import type { BlockImporter } from "./blockImporter.js";
import { MEDIAN_TIME_SPAN, medianTimePast } from "./difficulty.js";
import { buildBlockTemplate, type BlockHeader, type BlockTemplate, type Blockchain, type Hex, type PayloadSource, type SignedTx } from "../chain/index.js";

/** A template ready to seal: the unsealed block and the work its seal must meet. */
export interface SealJob {
  template: BlockTemplate;
  /** r of the streak penalty: the seal must meet difficulty * 2^r. */
  penaltyExponent: number;
}

/** Collaborators of the BlockProducer. */
export interface BlockProducerModules {
  chain: Blockchain;
  importer: BlockImporter;
  /** Transactions to include, best first (the pool's pending list). */
  candidates: () => Iterable<SignedTx>;
  /** The payloads of pooled publish transactions (a publish goes in only with its payload); absent: none. */
  payloads?: PayloadSource;
  /** Unix seconds now (test-only override of the clock). */
  now?: () => bigint;
  /** Candidates a template left out because running them threw unexpectedly (BlockTemplate.failed): drop them from the pool. */
  onFailed?: (failed: BlockTemplate["failed"]) => void;
}

/** Builds seal jobs on the current head for a miner: timestamp, retargeted difficulty, streak penalty, transactions. */
export class BlockProducer {
  private readonly now: () => bigint;

  constructor(
    private readonly opts: { extraData: Hex },
    private readonly modules: BlockProducerModules,
  ) {
    this.now = modules.now ?? (() => BigInt(Math.floor(Date.now() / 1000)));
  }

  /** A job for `miner` on the current head. */
  async job(miner: Hex): Promise<SealJob> {
    const { chain, importer } = this.modules;
    const parent = chain.head;
    const timestamp = await this.timestamp(parent.header);
    const req = await importer.requirements(parent.hash, miner, timestamp);
    const template = await buildBlockTemplate(
      chain,
      parent.header,
      { miner, timestamp, difficulty: req.difficulty, extraData: this.opts.extraData },
      this.modules.candidates(),
      this.modules.payloads,
    );
    if (template.failed.length > 0) this.modules.onFailed?.(template.failed);
    return { template, penaltyExponent: req.penaltyExponent };
  }

  /** Now, but never before the median time of the last 11 blocks. */
  private async timestamp(parent: BlockHeader): Promise<bigint> {
    const times: bigint[] = [];
    let h: BlockHeader | undefined = parent;
    while (h && times.length < MEDIAN_TIME_SPAN) {
      times.push(h.timestamp);
      h = h.number > 0n ? await this.modules.chain.getHeader(h.parentHash) : undefined;
    }
    const median = medianTimePast(times);
    const now = this.now();
    return now > median ? now : median;
  }
}
