import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import type { Hex } from "../../../chain/types.js";
import { type ChainTip, addWeight, isBetterTip } from "../../../consensus/forkChoice.js";

function tip(totalDifficulty: bigint, hashByte: string): ChainTip {
  return { hash: `0x${hashByte.repeat(32)}` as Hex, totalDifficulty };
}

const arbTip: fc.Arbitrary<ChainTip> = fc.record({
  hash: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }).map((n) => `0x${n.toString(16).padStart(64, "0")}` as Hex),
  totalDifficulty: fc.bigInt({ min: 0n, max: 20n }),
});

describe("fork choice", () => {
  it("prefers the heavier chain whatever the hashes", () => {
    expect(isBetterTip(tip(11n, "ff"), tip(10n, "00"))).toBe(true);
    expect(isBetterTip(tip(10n, "00"), tip(11n, "ff"))).toBe(false);
  });

  it("breaks a tie by the lower hash as a 256-bit number", () => {
    expect(isBetterTip(tip(10n, "01"), tip(10n, "02"))).toBe(true);
    expect(isBetterTip(tip(10n, "02"), tip(10n, "01"))).toBe(false);
    const lowUpper = { hash: `0x${"0A".repeat(32)}` as Hex, totalDifficulty: 10n };
    expect(isBetterTip(lowUpper, tip(10n, "0b"))).toBe(true);
  });

  it("does not switch to the same tip", () => {
    expect(isBetterTip(tip(10n, "01"), tip(10n, "01"))).toBe(false);
  });

  it("adds only the base difficulty to the weight", () => {
    expect(addWeight(100n, { difficulty: 7n })).toBe(107n);
  });

  it("is a strict total order over tips: irreflexive, antisymmetric, total and transitive", () => {
    fc.assert(
      fc.property(arbTip, arbTip, arbTip, (a, b, c) => {
        expect(isBetterTip(a, a)).toBe(false);
        expect(isBetterTip(a, b) && isBetterTip(b, a)).toBe(false);
        if (a.hash !== b.hash) expect(isBetterTip(a, b) || isBetterTip(b, a)).toBe(true);
        if (isBetterTip(a, b) && isBetterTip(b, c)) expect(isBetterTip(a, c)).toBe(true);
      }),
    );
  });

  it("is transitive on ties too (many equal weights)", () => {
    const tieTip = fc.record({ hash: arbTip.map((t) => t.hash), totalDifficulty: fc.constant(5n) });
    fc.assert(
      fc.property(tieTip, tieTip, tieTip, (a, b, c) => {
        if (isBetterTip(a, b) && isBetterTip(b, c)) expect(isBetterTip(a, c)).toBe(true);
        expect(isBetterTip(a, b) && isBetterTip(b, a)).toBe(false);
      }),
    );
  });
});
