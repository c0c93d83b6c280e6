import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import type { Hex } from "../../../chain/types.js";
import {
  type DifficultyParams,
  TimestampErrorCode,
  checkTimestamp,
  medianTimePast,
  nextDifficulty,
  streakCount,
} from "../../../consensus/difficulty.js";

const PARAMS: DifficultyParams = { blockTime: 10, minDifficulty: 1000n, difficultyBoundDivisor: 2048n };
const PARENT = { difficulty: 2048n * 1000n, timestamp: 1_000_000n, number: 5n };
const STEP = 1000n;

function codeOf(f: () => void): string {
  try {
    f();
    return "OK";
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

describe("nextDifficulty", () => {
  it("rises by one step when the block came faster than blockTime", () => {
    expect(nextDifficulty(PARENT, PARENT.timestamp + 9n, PARAMS)).toBe(PARENT.difficulty + STEP);
    expect(nextDifficulty(PARENT, PARENT.timestamp, PARAMS)).toBe(PARENT.difficulty + STEP);
  });

  it("stays when the block came within one blockTime window", () => {
    expect(nextDifficulty(PARENT, PARENT.timestamp + 10n, PARAMS)).toBe(PARENT.difficulty);
    expect(nextDifficulty(PARENT, PARENT.timestamp + 19n, PARAMS)).toBe(PARENT.difficulty);
  });

  it("falls by one step per extra blockTime when slow", () => {
    expect(nextDifficulty(PARENT, PARENT.timestamp + 20n, PARAMS)).toBe(PARENT.difficulty - STEP);
    expect(nextDifficulty(PARENT, PARENT.timestamp + 55n, PARAMS)).toBe(PARENT.difficulty - 4n * STEP);
  });

  it("falls by at most 99 steps however slow", () => {
    const bound = PARENT.difficulty - 99n * STEP;
    expect(nextDifficulty(PARENT, PARENT.timestamp + 1000n, PARAMS)).toBe(bound);
    expect(nextDifficulty(PARENT, PARENT.timestamp + 10n ** 9n, PARAMS)).toBe(bound);
  });

  it("never goes below minDifficulty", () => {
    const low = { ...PARENT, difficulty: 1500n };
    expect(nextDifficulty(low, low.timestamp + 10n ** 6n, { ...PARAMS, difficultyBoundDivisor: 8n })).toBe(PARAMS.minDifficulty);
    expect(nextDifficulty({ ...PARENT, difficulty: 10n }, PARENT.timestamp + 5n, PARAMS)).toBe(PARAMS.minDifficulty);
  });

  it("still moves by steps of 1 when the difficulty is below the divisor, up when fast and down when slow", () => {
    const tiny = { difficulty: 1n, timestamp: 100n, number: 3n };
    const params = { ...PARAMS, minDifficulty: 1n };
    expect(nextDifficulty(tiny, 100n, params)).toBe(2n);
    expect(nextDifficulty(tiny, 1000n, params)).toBe(1n);
    // 900 s at blockTime 10: factor 1 - 90 = -89, one unit each
    expect(nextDifficulty({ ...tiny, difficulty: 100n }, 1000n, params)).toBe(11n);
    expect(nextDifficulty({ ...tiny, difficulty: 5n }, 125n, params)).toBe(4n);
  });

  it("counts a timestamp before the parent's as no time elapsed (one step up, not more)", () => {
    expect(nextDifficulty(PARENT, PARENT.timestamp - 1000n, PARAMS)).toBe(PARENT.difficulty + STEP);
  });

  it("gives block 1 the genesis difficulty, whatever the genesis timestamp", () => {
    const genesis = { difficulty: 5000n, timestamp: 0n, number: 0n };
    expect(nextDifficulty(genesis, 1_700_000_000n, PARAMS)).toBe(5000n);
    expect(nextDifficulty(genesis, 0n, PARAMS)).toBe(5000n);
  });

  it("moves by at most one step up and 99 steps down, never below the floor", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 2n ** 128n }),
        fc.bigInt({ min: 0n, max: 2n ** 40n }),
        fc.bigInt({ min: -(2n ** 20n), max: 2n ** 40n }),
        fc.integer({ min: 1, max: 600 }),
        fc.bigInt({ min: 1n, max: 2n ** 20n }),
        fc.bigInt({ min: 2n, max: 4096n }),
        (difficulty, timestamp, delta, blockTime, minDifficulty, divisor) => {
          const params = { blockTime, minDifficulty, difficultyBoundDivisor: divisor };
          const parent = { difficulty, timestamp, number: 1n };
          const next = nextDifficulty(parent, timestamp + delta, params);
          const step = difficulty / divisor;
          expect(next >= minDifficulty).toBe(true);
          const ceiling = difficulty + (step === 0n ? 1n : step);
          expect(next <= (ceiling > minDifficulty ? ceiling : minDifficulty)).toBe(true);
          if (next > minDifficulty) expect(next >= difficulty - 99n * (step === 0n ? 1n : step)).toBe(true);
        },
      ),
    );
  });
});

describe("streakCount", () => {
  const A = `0x${"aa".repeat(20)}` as Hex;
  const B = `0x${"bb".repeat(20)}` as Hex;

  it("counts the blocks the miner authored in the window", () => {
    expect(streakCount(A, [])).toBe(0);
    expect(streakCount(A, [B, B, B])).toBe(0);
    expect(streakCount(A, [A, B, A, B])).toBe(2);
    expect(streakCount(A, [A, A, A, A, A, A, A, A])).toBe(8);
    expect(streakCount(B, [A, A, B])).toBe(1);
  });

  it("ignores the letter case of addresses", () => {
    expect(streakCount(A.toUpperCase().replace("0X", "0x") as Hex, [A, B])).toBe(1);
  });
});

describe("timestamps", () => {
  it("takes the median of the last 11, the upper middle for an even count", () => {
    expect(medianTimePast([5n])).toBe(5n);
    expect(medianTimePast([3n, 1n, 2n])).toBe(2n);
    expect(medianTimePast([4n, 1n, 3n, 2n])).toBe(3n);
    // Only the 11 most recent count: the 12th (1000) is ignored.
    expect(medianTimePast([11n, 10n, 9n, 8n, 7n, 6n, 5n, 4n, 3n, 2n, 1n, 1000n])).toBe(6n);
    expect(() => medianTimePast([])).toThrow(RangeError);
  });

  it("accepts a timestamp equal to the median, even below the parent's", () => {
    const parents = [20n, 30n, 10n];
    expect(codeOf(() => checkTimestamp(20n, parents, 100n))).toBe("OK");
    expect(codeOf(() => checkTimestamp(20n, [20n, 20n, 20n], 20n))).toBe("OK");
  });

  it("rejects a timestamp before the median", () => {
    expect(codeOf(() => checkTimestamp(19n, [20n, 30n, 10n], 100n))).toBe(TimestampErrorCode.TIMESTAMP_BEFORE_MEDIAN);
  });

  it("accepts up to 15 s ahead of the clock and rejects more", () => {
    expect(codeOf(() => checkTimestamp(115n, [10n], 100n))).toBe("OK");
    expect(codeOf(() => checkTimestamp(116n, [10n], 100n))).toBe(TimestampErrorCode.TIMESTAMP_TOO_FAR_AHEAD);
    expect(codeOf(() => checkTimestamp(101n, [10n], 100n, 0))).toBe(TimestampErrorCode.TIMESTAMP_TOO_FAR_AHEAD);
  });

  it("the median is never below the oldest nor above the newest of the window", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 2n ** 40n }), { minLength: 1, maxLength: 20 }), (ts) => {
        const window = ts.slice(0, 11);
        const m = medianTimePast(ts);
        expect(window.includes(m)).toBe(true);
        expect(window.filter((t) => t < m).length <= Math.floor(window.length / 2)).toBe(true);
        expect(window.filter((t) => t > m).length <= Math.floor((window.length - 1) / 2)).toBe(true);
      }),
    );
  });
});
