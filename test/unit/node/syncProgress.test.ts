import { describe, expect, it } from "@jest/globals";
import { PassThrough } from "node:stream";
import { pino } from "pino";
import { BlockRate, SyncProgressDisplay, SyncProgressTracker } from "../../../node/cli/syncProgress.js";

const progress = (startingBlock: bigint, currentBlock: bigint, highestBlock: bigint) => ({ startingBlock, currentBlock, highestBlock });

describe("SyncProgressTracker", () => {
  it("shows nothing for a sync that starts fewer than 64 blocks behind", () => {
    const t = new SyncProgressTracker();
    expect(t.update(progress(100n, 101n, 164n), 0)).toEqual({ kind: "none" });
    expect(t.update(progress(100n, 102n, 164n), 1000)).toEqual({ kind: "none" });
    expect(t.update(false, 2000)).toEqual({ kind: "none" });
    expect(t.showing).toBe(false);
  });

  it("starts showing at 64 blocks behind and keeps showing as the gap closes, until progress is false", () => {
    const t = new SyncProgressTracker();
    const start = t.update(progress(0n, 1n, 65n), 0);
    expect(start.kind).toBe("start");
    expect(t.showing).toBe(true);
    const near = t.update(progress(0n, 64n, 65n), 1000);
    expect(near.kind).toBe("update");
    const end = t.update(false, 2000);
    expect(end).toMatchObject({ kind: "finish", frame: { currentBlock: 64n, highestBlock: 65n } });
    expect(t.showing).toBe(false);
    // a later short sync is not shown
    expect(t.update(progress(65n, 66n, 70n), 3000)).toEqual({ kind: "none" });
  });

  it("honours a lower threshold", () => {
    const t = new SyncProgressTracker({ minBlocksBehind: 5n });
    expect(t.update(progress(0n, 1n, 6n), 0).kind).toBe("start");
  });

  it("follows a highest block that moves on during the sync", () => {
    const t = new SyncProgressTracker();
    t.update(progress(0n, 1n, 1000n), 0);
    const step = t.update(progress(0n, 2n, 1200n), 100);
    expect(step).toMatchObject({ kind: "update", frame: { highestBlock: 1200n, behind: 1198n } });
  });

  it("computes blocks per second and the time left from the imports", () => {
    const t = new SyncProgressTracker();
    t.update(progress(0n, 0n, 10_000n), 0);
    const step = t.update(progress(0n, 500n, 10_000n), 2000);
    expect(step.kind).toBe("update");
    if (step.kind !== "update") return;
    expect(step.frame.blocksPerSecond).toBe(250);
    expect(step.frame.etaSeconds).toBe(38); // 9500 blocks at 250/s
  });

  it("has no rate on its first report", () => {
    const step = new SyncProgressTracker().update(progress(0n, 0n, 1000n), 0);
    expect(step).toMatchObject({ kind: "start", frame: { blocksPerSecond: null, etaSeconds: null } });
  });

  it("marks a log line due at most every 5 s", () => {
    const t = new SyncProgressTracker();
    t.update(progress(0n, 1n, 10_000n), 0); // start: logged
    const due: boolean[] = [];
    for (let i = 1; i <= 12; i++) {
      const step = t.update(progress(0n, BigInt(1 + i), 10_000n), i * 1000);
      if (step.kind === "update") due.push(step.logDue);
    }
    // due at 5 s and 10 s only
    expect(due.map((d, i) => (d ? i + 1 : 0)).filter(Boolean)).toEqual([5, 10]);
  });
});

describe("BlockRate", () => {
  it("measures over the last window only", () => {
    const r = new BlockRate(10_000);
    r.add(0, 0n);
    r.add(1_000, 1000n); // a fast start
    for (let s = 2; s <= 30; s++) r.add(s * 1000, 1000n + BigInt(s - 1) * 10n); // then 10 blocks/s
    expect(r.perSecond()).toBeCloseTo(10, 5);
  });

  it("is null with one sample or none, and never negative (a reorg to a lower head)", () => {
    const r = new BlockRate(10_000);
    expect(r.perSecond()).toBeNull();
    r.add(0, 100n);
    expect(r.perSecond()).toBeNull();
    r.add(1000, 90n);
    expect(r.perSecond()).toBe(0);
    r.clear();
    expect(r.perSecond()).toBeNull();
  });
});

describe("SyncProgressDisplay", () => {
  /** A display on a non-terminal stream whose log lines are collected. */
  function display(isTTY: boolean): { d: SyncProgressDisplay; lines: () => Array<Record<string, unknown>>; drawn: () => string; clock: { now: number } } {
    const logs: string[] = [];
    const log = pino({ level: "info" }, { write: (s: string) => logs.push(s) });
    const stream = Object.assign(new PassThrough(), { isTTY, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    let drawn = "";
    stream.on("data", (b: Buffer) => (drawn += b.toString()));
    const clock = { now: 0 };
    const d = new SyncProgressDisplay({}, { stream, log, now: () => clock.now });
    return { d, lines: () => logs.map((l) => JSON.parse(l) as Record<string, unknown>), drawn: () => drawn, clock };
  }

  it("logs Syncing lines with numbers and the rate when stderr is not a terminal", () => {
    const { d, lines, drawn, clock } = display(false);
    d.onProgress(progress(0n, 1n, 1001n));
    expect(d.active).toBe(true);
    for (let i = 1; i <= 6; i++) {
      clock.now = i * 1000;
      d.onProgress(progress(0n, 1n + BigInt(i) * 100n, 1001n));
    }
    d.onProgress(false);
    expect(d.active).toBe(false);
    const l = lines();
    expect(l.map((x) => x.msg)).toEqual(["Syncing", "Syncing"]);
    expect(l[0]).toMatchObject({ current: 1, highest: 1001, behind: 1000, blocksPerSecond: null });
    expect(l[1]).toMatchObject({ current: 501, highest: 1001, behind: 500, blocksPerSecond: 100, etaSeconds: 5 });
    expect(drawn()).toBe("");
  });

  it("draws a bar instead of log lines on a terminal", () => {
    const { d, lines, drawn, clock } = display(true);
    d.onProgress(progress(0n, 1n, 1001n));
    clock.now = 6000;
    d.onProgress(progress(0n, 601n, 1001n));
    d.onProgress(false);
    expect(lines()).toEqual([]);
    expect(d.active).toBe(false);
    expect(drawn()).toMatch(/Syncing \[.*\] \d+% \| block \d+\/1001/);
  });

  it("ignores a sync close to the best peer", () => {
    const { d, lines } = display(false);
    d.onProgress(progress(10n, 11n, 12n));
    d.onProgress(false);
    expect(lines()).toEqual([]);
    expect(d.active).toBe(false);
  });
});
