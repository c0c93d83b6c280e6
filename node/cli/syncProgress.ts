import cliProgress, { type SingleBar } from "cli-progress";
import type { Logger } from "pino";
import type { SyncProgress } from "../../p2p/index.js";

/** Options of the sync progress display of `vs1984 node`. */
export interface SyncProgressOptions {
  /** Blocks behind the best peer from which a sync is shown (a bar, or "Syncing" log lines). */
  minBlocksBehind: bigint;
  /** Least time between two "Syncing" log lines when stderr is not a terminal. */
  logIntervalMs: number;
  /** Span of recent imports the blocks-per-second rate is measured over. */
  rateWindowMs: number;
}

/** Defaults: shown from 64 blocks behind, a log line at most every 5 s, the rate over the last 10 s. */
export const defaultSyncProgressOptions: SyncProgressOptions = { minBlocksBehind: 64n, logIntervalMs: 5_000, rateWindowMs: 10_000 };

/** One moment of a shown sync, as the bar and the log lines print it. */
export interface SyncFrame {
  startingBlock: bigint;
  currentBlock: bigint;
  highestBlock: bigint;
  /** highestBlock - currentBlock. */
  behind: bigint;
  /** Blocks imported per second over the rate window; null until two reports some time apart. */
  blocksPerSecond: number | null;
  /** Seconds left at that rate; null without a rate. */
  etaSeconds: number | null;
}

/** What to do after a progress report. */
export type SyncStep =
  /** Nothing to show: no sync, or one that started close to the best peer. */
  | { kind: "none" }
  /** A long sync began: start the bar, or log a first line. */
  | { kind: "start"; frame: SyncFrame }
  /** The shown sync moved on; `logDue` is true when a log line is due (the throttle of non-terminal output). */
  | { kind: "update"; frame: SyncFrame; logDue: boolean }
  /** The shown sync ended (progress became false): finish the bar. */
  | { kind: "finish"; frame: SyncFrame };

/** Blocks per second over a sliding window of (time, block number) samples. */
export class BlockRate {
  private samples: Array<{ at: number; block: bigint }> = [];

  constructor(private readonly windowMs: number) {}

  /** Records the block number reached at `at` (ms). */
  add(at: number, block: bigint): void {
    this.samples.push({ at, block });
    // keep one sample at or just past the window's start as the anchor of the rate
    while (this.samples.length > 2 && at - this.samples[1]!.at >= this.windowMs) this.samples.shift();
  }

  /** Blocks per second between the oldest kept sample and the newest; null with less than two samples or no time between them. */
  perSecond(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at <= first.at) return null;
    const rate = (Number(last.block - first.block) * 1000) / (last.at - first.at);
    return rate > 0 ? rate : 0;
  }

  /** Forgets every sample (a new sync). */
  clear(): void {
    this.samples = [];
  }
}

/**
 * The decisions of the sync display, without any output: a sync is shown once it is at least
 * `minBlocksBehind` blocks behind, and then until it ends (even as the gap closes); non-terminal
 * output gets a log line at most every `logIntervalMs`.
 */
export class SyncProgressTracker {
  private readonly opts: SyncProgressOptions;
  private readonly rate: BlockRate;
  private last: SyncFrame | null = null;
  private lastLogAt = 0;

  constructor(opts: Partial<SyncProgressOptions> = {}) {
    this.opts = { ...defaultSyncProgressOptions, ...opts };
    this.rate = new BlockRate(this.opts.rateWindowMs);
  }

  /** True while a long sync is shown. */
  get showing(): boolean {
    return this.last !== null;
  }

  /** Takes one report of the network's `syncProgress` event, at `now` (ms). */
  update(progress: SyncProgress | false, now: number): SyncStep {
    if (progress === false) {
      const last = this.last;
      this.last = null;
      this.rate.clear();
      return last ? { kind: "finish", frame: last } : { kind: "none" };
    }
    if (!this.last) {
      if (progress.highestBlock - progress.currentBlock < this.opts.minBlocksBehind) return { kind: "none" };
      this.rate.clear();
      this.rate.add(now, progress.currentBlock);
      this.last = this.frame(progress);
      this.lastLogAt = now;
      return { kind: "start", frame: this.last };
    }
    this.rate.add(now, progress.currentBlock);
    this.last = this.frame(progress);
    const logDue = now - this.lastLogAt >= this.opts.logIntervalMs;
    if (logDue) this.lastLogAt = now;
    return { kind: "update", frame: this.last, logDue };
  }

  private frame(p: SyncProgress): SyncFrame {
    const behind = p.highestBlock > p.currentBlock ? p.highestBlock - p.currentBlock : 0n;
    const blocksPerSecond = this.rate.perSecond();
    const etaSeconds = blocksPerSecond ? Math.round(Number(behind) / blocksPerSecond) : null;
    return { startingBlock: p.startingBlock, currentBlock: p.currentBlock, highestBlock: p.highestBlock, behind, blocksPerSecond, etaSeconds };
  }
}

/** What the display draws on and logs to. */
export interface SyncProgressDisplayModules {
  /** The bar's stream (stderr); a bar only when it is a terminal, log lines otherwise. */
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  log: Logger;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** A rate for display: one decimal below 10 blocks/s, whole numbers above. */
function roundRate(r: number | null): number | null {
  if (r === null) return null;
  return r < 10 ? Math.round(r * 10) / 10 : Math.round(r);
}

/**
 * Shows a long sync: a progress bar on a terminal, else a "Syncing" log line at most every 5 s.
 * Its `onProgress` listens to the network's `syncProgress` event.
 */
export class SyncProgressDisplay {
  private readonly tracker: SyncProgressTracker;
  private bar: SingleBar | null = null;

  constructor(
    opts: Partial<SyncProgressOptions>,
    private readonly modules: SyncProgressDisplayModules,
  ) {
    this.tracker = new SyncProgressTracker(opts);
  }

  /** True while a long sync is shown (the node holds back its per-block log lines meanwhile). */
  get active(): boolean {
    return this.tracker.showing;
  }

  /** Listener of the network's `syncProgress` event. */
  readonly onProgress = (progress: SyncProgress | false): void => {
    const step = this.tracker.update(progress, (this.modules.now ?? Date.now)());
    const tty = this.modules.stream.isTTY === true;
    switch (step.kind) {
      case "none":
        return;
      case "start":
        if (tty) this.startBar(step.frame);
        else this.logLine(step.frame);
        return;
      case "update":
        if (this.bar) this.drawBar(step.frame);
        else if (step.logDue) this.logLine(step.frame);
        return;
      case "finish":
        // the syncer logs the end of the sync itself
        if (this.bar) {
          this.drawBar(step.frame);
          this.stop();
        }
        return;
    }
  };

  /** Takes the bar off the terminal (node shutdown). */
  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }

  private startBar(frame: SyncFrame): void {
    this.bar = new cliProgress.SingleBar({
      stream: this.modules.stream,
      format: "Syncing [{bar}] {percentage}% | block {current}/{highest} | {rate} blocks/s | ETA {eta_formatted}",
      hideCursor: false,
      gracefulExit: false,
      etaBuffer: 50,
    });
    const { total, value } = barValues(frame);
    this.bar.start(total, value, payload(frame));
  }

  private drawBar(frame: SyncFrame): void {
    const { total, value } = barValues(frame);
    this.bar?.setTotal(total);
    this.bar?.update(value, payload(frame));
  }

  private logLine(f: SyncFrame): void {
    this.modules.log.info(
      {
        current: Number(f.currentBlock),
        highest: Number(f.highestBlock),
        behind: Number(f.behind),
        blocksPerSecond: roundRate(f.blocksPerSecond),
        etaSeconds: f.etaSeconds,
      },
      "Syncing",
    );
  }
}

/** The bar counts blocks imported since the sync started out of those it has to import. */
function barValues(f: SyncFrame): { total: number; value: number } {
  const total = Math.max(1, Number(f.highestBlock - f.startingBlock));
  const value = Math.min(total, Math.max(0, Number(f.currentBlock - f.startingBlock)));
  return { total, value };
}

function payload(f: SyncFrame): { current: string; highest: string; rate: string } {
  const r = roundRate(f.blocksPerSecond);
  return { current: f.currentBlock.toString(), highest: f.highestBlock.toString(), rate: r === null ? "-" : String(r) };
}
