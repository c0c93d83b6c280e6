import { describe, expect, it, jest } from "@jest/globals";
import { StemRouter } from "../../../p2p/stem.js";

interface Sent { peer: string; hopsLeft: number }

function router(opts: { neighbours: string[]; random?: () => number; failing?: string[]; embargoMs?: number }) {
  const sent: Sent[] = [];
  const fluffed: Uint8Array[] = [];
  const r = new StemRouter(
    { embargoMs: opts.embargoMs ?? 60_000 },
    {
      neighbours: () => opts.neighbours,
      send: async (peer, hopsLeft) => {
        if (opts.failing?.includes(peer)) throw new Error(`${peer} unreachable`);
        sent.push({ peer, hopsLeft });
      },
      fluff: async (raw) => {
        fluffed.push(raw);
      },
      random: opts.random,
    },
  );
  return { r, sent, fluffed };
}

const RAW = new Uint8Array([1, 2, 3]);

describe("StemRouter", () => {
  it("sends a local transaction to one neighbour with two hops left, not to gossip", async () => {
    const { r, sent, fluffed } = router({ neighbours: ["a", "b", "c"], random: () => 0.5 });
    await r.originate("h1", RAW);
    expect(sent).toEqual([{ peer: "b", hopsLeft: 2 }]);
    expect(fluffed).toHaveLength(0);
    expect(r.pending).toBe(1);
    r.stop();
  });

  it("gossips at once when the node has no neighbour", async () => {
    const { r, sent, fluffed } = router({ neighbours: [] });
    await r.originate("h1", RAW);
    expect(sent).toHaveLength(0);
    expect(fluffed).toEqual([RAW]);
    expect(r.pending).toBe(0);
  });

  it("tries another neighbour when one fails", async () => {
    const { r, sent } = router({ neighbours: ["a", "b"], random: () => 0, failing: ["a"] });
    await r.originate("h1", RAW);
    expect(sent).toEqual([{ peer: "b", hopsLeft: 2 }]);
    r.stop();
  });

  it("forwards with probability 0.9 while hops are left, never back to the sender", async () => {
    const { r, sent, fluffed } = router({ neighbours: ["from", "x"], random: () => 0.89 });
    await r.onStem("from", "h1", 2, RAW);
    expect(sent).toEqual([{ peer: "x", hopsLeft: 1 }]);
    expect(fluffed).toHaveLength(0);
    r.stop();
  });

  it("gossips with probability 0.1", async () => {
    const { r, sent, fluffed } = router({ neighbours: ["from", "x"], random: () => 0.9 });
    await r.onStem("from", "h1", 2, RAW);
    expect(sent).toHaveLength(0);
    expect(fluffed).toEqual([RAW]);
  });

  it("gossips when no hop is left, however the dice fall", async () => {
    const { r, sent, fluffed } = router({ neighbours: ["from", "x"], random: () => 0 });
    await r.onStem("from", "h1", 0, RAW);
    expect(sent).toHaveLength(0);
    expect(fluffed).toHaveLength(1);
  });

  it("drops a transaction that comes round again", async () => {
    const { r, sent } = router({ neighbours: ["a", "b"], random: () => 0 });
    await r.onStem("a", "h1", 2, RAW);
    await r.onStem("b", "h1", 1, RAW);
    expect(sent).toHaveLength(1);
    r.stop();
  });

  it("gossips a transaction itself when the embargo ends before it was seen in gossip", async () => {
    jest.useFakeTimers();
    try {
      const { r, fluffed } = router({ neighbours: ["a"], random: () => 0, embargoMs: 1_000 });
      await r.originate("h1", RAW);
      await r.originate("h2", RAW);
      r.seenInGossip("h2");
      jest.advanceTimersByTime(999);
      expect(fluffed).toHaveLength(0);
      jest.advanceTimersByTime(2);
      await Promise.resolve();
      expect(fluffed).toHaveLength(1);
      expect(r.pending).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});
