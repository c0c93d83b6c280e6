import { NodeError, type Hex } from "../chain/index.js";

/** Error codes of the block timestamp rules. */
export const TimestampErrorCode = {
  /** The timestamp is earlier than the median of the last 11 ancestors. */
  TIMESTAMP_BEFORE_MEDIAN: "TIMESTAMP_BEFORE_MEDIAN",
  /** The timestamp is further in the future than the node's clock allows. */
  TIMESTAMP_TOO_FAR_AHEAD: "TIMESTAMP_TOO_FAR_AHEAD",
} as const;
/** One of TimestampErrorCode. */
export type TimestampErrorCode = (typeof TimestampErrorCode)[keyof typeof TimestampErrorCode];

/** A block timestamp that breaks the median-time-past or future-drift rule. */
export class TimestampError extends NodeError<{ code: TimestampErrorCode }> {}

/** The parent fields retargeting reads. */
export interface DifficultyParent {
  /** The parent's base difficulty (for the genesis block: the genesis `initialDifficulty`). */
  difficulty: bigint;
  /** The parent's timestamp, unix seconds. */
  timestamp: bigint;
  /** The parent's number; 0 is the genesis block. */
  number: bigint;
}

/** The genesis parameters retargeting reads. */
export interface DifficultyParams {
  /** Target seconds between blocks. */
  blockTime: number;
  /** Lowest base difficulty retargeting may reach. */
  minDifficulty: bigint;
  /** Retarget step: the difficulty moves by `difficulty / divisor` per step. */
  difficultyBoundDivisor: bigint;
}

/** How many timestamps the median-time-past rule looks at. */
export const MEDIAN_TIME_SPAN = 11;
/** Default number of seconds a block may be ahead of the local clock. */
export const MAX_FUTURE_SECONDS = 15;
const MAX_DOWN_STEPS = -99n;

/** The miner's streak r: how many of the previous W blocks' miners (most recent first, genesis excluded) are `miner`. */
export function streakCount(miner: Hex, previousMiners: readonly Hex[]): number {
  const m = miner.toLowerCase();
  let count = 0;
  for (const previous of previousMiners) if (previous.toLowerCase() === m) count++;
  return count;
}

/**
 * The base difficulty of the child of `parent` at `timestamp`, Homestead style:
 * parent + parent / divisor * max(1 - floor(elapsed / blockTime), -99), never below minDifficulty.
 */
export function nextDifficulty(parent: DifficultyParent, timestamp: bigint, params: DifficultyParams): bigint {
  if (!Number.isSafeInteger(params.blockTime) || params.blockTime < 1) {
    throw new RangeError(`blockTime must be a positive integer, got ${params.blockTime}`);
  }
  if (params.difficultyBoundDivisor < 1n) {
    throw new RangeError(`difficultyBoundDivisor must be at least 1, got ${params.difficultyBoundDivisor}`);
  }
  const min = params.minDifficulty;
  // The genesis timestamp is fixed in the genesis file, long before block 1 is mined: retargeting against it
  // would only ever push block 1 down, so block 1 starts from initialDifficulty as it stands.
  if (parent.number === 0n) return parent.difficulty < min ? min : parent.difficulty;

  // The median rule lets a child's timestamp precede its parent's; counting that as 0 elapsed keeps the
  // factor at most +1, so a backdated timestamp cannot raise the difficulty by many steps at once.
  const elapsed = timestamp > parent.timestamp ? timestamp - parent.timestamp : 0n;
  let factor = 1n - elapsed / BigInt(params.blockTime);
  if (factor < MAX_DOWN_STEPS) factor = MAX_DOWN_STEPS;
  let step = parent.difficulty / params.difficultyBoundDivisor;
  // Below `divisor` the step rounds to 0 and the difficulty could never move again (a fast dev chain at
  // difficulty 1 would stay at 1 forever, a slow one at 4 would never come down), so a step is at least 1.
  if (step === 0n && factor !== 0n) step = 1n;
  const next = parent.difficulty + step * factor;
  return next < min ? min : next;
}

/** The median of the last up-to-11 ancestor timestamps (most recent first); for an even count, the upper middle. */
export function medianTimePast(timestamps: readonly bigint[]): bigint {
  if (timestamps.length === 0) throw new RangeError("median time past needs at least one ancestor timestamp");
  const sorted = timestamps.slice(0, MEDIAN_TIME_SPAN).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted[Math.floor(sorted.length / 2)] as bigint;
}

/**
 * Checks a block timestamp: not before the median of its last up-to-11 ancestors (equal is allowed, so a fast
 * dev chain can put many blocks in one second) and at most `maxFutureSeconds` past `nowSeconds`; throws TimestampError.
 */
export function checkTimestamp(
  timestamp: bigint,
  parentTimestamps: readonly bigint[],
  nowSeconds: bigint,
  maxFutureSeconds: number = MAX_FUTURE_SECONDS,
): void {
  const median = medianTimePast(parentTimestamps);
  if (timestamp < median) {
    throw new TimestampError(
      { code: TimestampErrorCode.TIMESTAMP_BEFORE_MEDIAN },
      `block timestamp ${timestamp} is before the median ${median} of the last ${Math.min(parentTimestamps.length, MEDIAN_TIME_SPAN)} blocks`,
    );
  }
  const latest = nowSeconds + BigInt(maxFutureSeconds);
  if (timestamp > latest) {
    throw new TimestampError(
      { code: TimestampErrorCode.TIMESTAMP_TOO_FAR_AHEAD },
      `block timestamp ${timestamp} is ${timestamp - nowSeconds} s ahead of the local clock ${nowSeconds}; at most ${maxFutureSeconds} s allowed`,
    );
  }
}
