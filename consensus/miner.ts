import { randomBytes } from "node:crypto";
import { bytesToBigInt } from "@ethereumjs/util";
import type { BlockImporter } from "./blockImporter.js";
import type { BlockProducer } from "./blockProducer.js";
import { minerAddress, sealHeader } from "./seal.js";
import { ChainEvent, blockOf, type Blockchain, type Hex } from "../chain/index.js";

/** Options of the in-process miner. */
export interface MinerOptions {
  /** Scrypt calls in flight at once (each on libuv's thread pool). */
  concurrency: number;
  /** Nonces each lane tries before the template is rebuilt (picks up new transactions). */
  triesPerRound: number;
}

/** Default miner options. */
export const defaultMinerOptions: MinerOptions = { concurrency: 2, triesPerRound: 64 };

/** Wait after a failed round; doubled after each further failure, up to the most, and back to the least after a good round. */
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5000;

/** Collaborators of the Miner. */
export interface MinerModules {
  chain: Blockchain;
  importer: BlockImporter;
  producer: BlockProducer;
  /** The miner's secp256k1 private key (its Real ID); never logged. */
  key: Uint8Array;
  /** Called after each block this miner sealed and imported, and on each failure. */
  onBlock?: (hash: Hex, number: bigint) => void;
  onError?: (e: unknown) => void;
}

/**
 * Mines on the head: builds a template, searches nonces with async scrypt (the event loop stays
 * free), imports a found block, and restarts on every new head.
 */
export class Miner {
  private readonly opts: MinerOptions;
  readonly address: Hex;
  private running = false;
  private loop: Promise<void> | null = null;
  private abort: AbortController | null = null;
  /** Ends the wait after a failed round early: on a new head (the likely cure) and on stop. */
  private wake: (() => void) | null = null;
  private hashes = 0;
  private readonly startedAt = Date.now();

  constructor(opts: Partial<MinerOptions>, private readonly modules: MinerModules) {
    this.opts = { ...defaultMinerOptions, ...opts };
    this.address = minerAddress(modules.key);
  }

  /** True while mining. */
  get isMining(): boolean {
    return this.running;
  }

  /** Scrypt hashes tried since start. */
  get hashCount(): number {
    return this.hashes;
  }

  /** Average hashes per second since construction. */
  get hashrate(): number {
    const s = (Date.now() - this.startedAt) / 1000;
    return s > 0 ? this.hashes / s : 0;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.modules.chain.on(ChainEvent.newHead, this.onNewHead);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.modules.chain.off(ChainEvent.newHead, this.onNewHead);
    this.abort?.abort();
    this.wake?.();
    await this.loop;
    this.loop = null;
  }

  private readonly countHash = (): void => {
    this.hashes++;
  };

  private readonly onNewHead = (): void => {
    this.abort?.abort();
    this.wake?.();
  };

  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
  }

  private async run(): Promise<void> {
    const { importer, producer } = this.modules;
    const scrypt = this.modules.chain.genesis.consensus.scrypt;
    let retryMs = RETRY_MIN_MS;
    while (this.running) {
      try {
        const job = await producer.job(this.address);
        const abort = new AbortController();
        this.abort = abort;
        const start = bytesToBigInt(randomBytes(8));
        const lanes = Array.from({ length: this.opts.concurrency }, (_, lane) =>
          sealHeader(job.template.header, this.modules.key, scrypt, job.penaltyExponent, {
            startNonce: start + BigInt(lane) * BigInt(this.opts.triesPerRound),
            maxTries: this.opts.triesPerRound,
            signal: abort.signal,
            onAttempt: this.countHash,
          }).then((h) => {
            if (h) abort.abort();
            return h;
          }),
        );
        const results = await Promise.all(lanes);
        const sealed = results.find((h) => h !== null);
        if (!sealed || !this.running) {
          retryMs = RETRY_MIN_MS;
          continue;
        }
        const block = blockOf(sealed, job.template);
        const result = await importer.importBlock(block);
        retryMs = RETRY_MIN_MS;
        if (result.status === "head") this.modules.onBlock?.(block.hash, sealed.number);
      } catch (e) {
        this.modules.onError?.(e);
        // A failed round (say the head moved under the template) is retried on the next head or
        // after a wait; one that keeps failing (a head stamped far in the future, say) is retried
        // ever more slowly, so it neither spins nor floods the log.
        if (this.running) await this.pause(retryMs);
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    }
  }
}
