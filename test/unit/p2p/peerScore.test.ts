import { describe, expect, it } from "@jest/globals";
import { Penalty, PeerScores } from "../../../p2p/peerScore.js";

function scores(opts = {}): { s: PeerScores; bans: string[]; clock: { t: number } } {
  const clock = { t: 1_000_000 };
  const bans: string[] = [];
  const s = new PeerScores(
    { banThreshold: -100, banMs: 60_000, recoveryPerMinute: 10, requestsPerWindow: 3, windowMs: 1_000, ...opts },
    { onBan: (id) => bans.push(id), now: () => clock.t },
  );
  return { s, bans, clock };
}

describe("PeerScores", () => {
  it("bans a peer when its penalties reach the threshold, and only then", () => {
    const { s, bans } = scores();
    expect(s.penalize("a", "malformed", "x")).toBe(false);
    expect(s.penalize("a", "malformed", "x")).toBe(false);
    expect(s.penalize("a", "malformed", "x")).toBe(false);
    expect(s.standing("a").score).toBe(3 * Penalty.malformed);
    expect(s.isBanned("a")).toBe(false);
    expect(s.penalize("a", "malformed", "garbage frame")).toBe(true);
    expect(bans).toEqual(["a"]);
    expect(s.isBanned("a")).toBe(true);
    expect(s.standing("a").lastPenalty).toContain("garbage frame");
    expect(s.isBanned("b")).toBe(false);
  });

  it("bans a peer on another chain at once", () => {
    const { s, bans } = scores();
    expect(s.penalize("a", "wrongChain", "chain 1")).toBe(true);
    expect(bans).toEqual(["a"]);
  });

  it("lifts a ban after banMs", () => {
    const { s, clock } = scores();
    s.penalize("a", "wrongChain", "chain 1");
    clock.t += 59_999;
    expect(s.isBanned("a")).toBe(true);
    clock.t += 2;
    expect(s.isBanned("a")).toBe(false);
    expect(s.banned()).toEqual([]);
  });

  it("forgives misbehaviour slowly", () => {
    const { s, clock } = scores();
    s.penalize("a", "invalidBlock", "bad seal");
    expect(s.standing("a").score).toBe(-60);
    clock.t += 3 * 60_000;
    expect(s.standing("a").score).toBe(-30);
    clock.t += 60 * 60_000;
    expect(s.standing("a").score).toBe(0);
  });

  it("counts requests per peer and protocol in windows", () => {
    const { s, clock } = scores();
    expect([1, 2, 3, 4].map(() => s.allowRequest("a", "/p/1"))).toEqual([true, true, true, false]);
    expect(s.allowRequest("a", "/q/1")).toBe(true);
    expect(s.allowRequest("b", "/p/1")).toBe(true);
    clock.t += 1_000;
    expect(s.allowRequest("a", "/p/1")).toBe(true);
  });

  it("refuses every request of a banned peer", () => {
    const { s } = scores();
    s.penalize("a", "wrongChain", "x");
    expect(s.allowRequest("a", "/p/1")).toBe(false);
  });
});
