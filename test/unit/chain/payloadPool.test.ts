import { describe, expect, it } from "@jest/globals";
import { EventEmitter, once } from "node:events";
import { bytesToHex } from "@ethereumjs/util";
import type { SubchainDeclaration } from "../../../chain/genesis.js";
import { keccak256 } from "../../../chain/keccak.js";
import {
  PayloadDropReason,
  PayloadPool,
  PayloadPoolErrorCode,
  PayloadPoolEvent,
  type PayloadPoolOptions,
} from "../../../chain/payloadPool.js";
import { TxDropReason, TxPoolEvent, type TxPoolEventData } from "../../../chain/txPool.js";
import type { Hex } from "../../../chain/types.js";

const PINS = 0;
const POSTS = 1;
const SUBCHAINS: SubchainDeclaration[] = [
  { id: PINS, name: "pins", payloadGasPerByte: 16n, maxPayloadBytes: 100, maxSubBlockBytes: 1000 },
  { id: POSTS, name: "posts", payloadGasPerByte: 8n, maxPayloadBytes: 1000, maxSubBlockBytes: 4000 },
];
/** Matches a NodeError with this code. */
const withCode = (code: string): unknown => expect.objectContaining({ code });
const TTL = 1000;

const tx = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const payload = (seed: number, length = 10): Uint8Array => new Uint8Array(length).fill(seed);
const hashOf = (p: Uint8Array): Hex => bytesToHex(keccak256(p)) as Hex;

/** A pool on a hand-driven clock, with the drops it reported. */
function makePool(opts: Partial<PayloadPoolOptions> = {}): { pool: PayloadPool; clock: { now: number }; drops: [Hex, string][] } {
  const clock = { now: 0 };
  const pool = new PayloadPool({ unclaimedTtlMs: TTL, ...opts }, { subchains: SUBCHAINS, now: () => clock.now });
  const drops: [Hex, string][] = [];
  pool.on(PayloadPoolEvent.dropped, (hash, reason) => drops.push([hash, reason]));
  return { pool, clock, drops };
}


describe("PayloadPool", () => {
  it("keys payloads by keccak256, holds each once and announces new ones", () => {
    const { pool } = makePool();
    const added: [Hex, number][] = [];
    pool.on(PayloadPoolEvent.added, (hash, id) => added.push([hash, id]));
    const p = payload(1);
    expect(pool.add(POSTS, p)).toBe(hashOf(p));
    expect(pool.add(POSTS, p)).toBe(hashOf(p));
    expect(pool.get(hashOf(p))).toEqual(p);
    expect(pool.has(hashOf(p))).toBe(true);
    expect([pool.size, pool.bytes]).toEqual([1, 10]);
    expect(added).toEqual([[hashOf(p), POSTS]]);
  });

  it("refuses undeclared sub-chains, empty payloads and payloads over the sub-chain's maxPayloadBytes", () => {
    const { pool } = makePool();
    expect(() => pool.add(7, payload(1))).toThrow(withCode(PayloadPoolErrorCode.UNKNOWN_SUBCHAIN));
    expect(() => pool.add(POSTS, new Uint8Array(0))).toThrow(withCode(PayloadPoolErrorCode.EMPTY_PAYLOAD));
    expect(() => pool.add(PINS, payload(1, 101))).toThrow(withCode(PayloadPoolErrorCode.PAYLOAD_TOO_LARGE));
    expect(() => pool.add(POSTS, payload(1, 101))).not.toThrow();
    expect(() => pool.add(POSTS, payload(1, 1001))).toThrow(withCode(PayloadPoolErrorCode.PAYLOAD_TOO_LARGE));
    expect(pool.size).toBe(1);
  });

  it("keeps a payload no transaction claims only for the TTL", () => {
    const { pool, clock, drops } = makePool();
    const p = payload(1);
    pool.add(POSTS, p);
    clock.now = TTL - 1;
    expect(pool.prune()).toBe(0);
    clock.now = TTL;
    expect(pool.prune()).toBe(1);
    expect(pool.has(hashOf(p))).toBe(false);
    expect(drops).toEqual([[hashOf(p), PayloadDropReason.EXPIRED]]);
    expect([pool.size, pool.bytes]).toEqual([0, 0]);
  });

  it("keeps a claimed payload until its transaction leaves, whichever of the two arrives first", () => {
    const { pool, clock, drops } = makePool();
    const early = payload(1);
    const late = payload(2);
    pool.add(POSTS, early);
    pool.claim(tx(1), [
      { subchainId: POSTS, payloadHash: hashOf(early) },
      { subchainId: POSTS, payloadHash: hashOf(late) },
    ]);
    expect(pool.missing(tx(1))).toEqual([hashOf(late)]);
    expect(pool.payloadsFor(tx(1))).toBeUndefined();
    pool.add(POSTS, late);
    expect(pool.isClaimed(hashOf(late))).toBe(true);
    expect(pool.payloadsFor(tx(1))).toEqual([early, late]);
    clock.now = 10 * TTL;
    expect(pool.prune()).toBe(0);
    pool.release(tx(1), TxDropReason.INCLUDED);
    expect(pool.size).toBe(0);
    expect(drops).toEqual([
      [hashOf(early), PayloadDropReason.RELEASED],
      [hashOf(late), PayloadDropReason.RELEASED],
    ]);
    expect(pool.payloadsFor(tx(1))).toBeUndefined();
  });

  it("keeps a payload two transactions commit to until both have left", () => {
    const { pool } = makePool();
    const p = payload(1);
    const c = [{ subchainId: POSTS, payloadHash: hashOf(p) }];
    pool.add(POSTS, p);
    pool.claim(tx(1), c);
    pool.claim(tx(2), c);
    pool.release(tx(1), TxDropReason.EVICTED);
    expect(pool.has(hashOf(p))).toBe(true);
    pool.release(tx(2), TxDropReason.NONCE_TOO_LOW);
    expect(pool.has(hashOf(p))).toBe(false);
  });

  it("gives a replaced transaction's payload the TTL, so the replacement can claim it", () => {
    const { pool, clock } = makePool();
    const p = payload(1);
    const c = [{ subchainId: POSTS, payloadHash: hashOf(p) }];
    pool.add(POSTS, p);
    pool.claim(tx(1), c);
    clock.now = 5 * TTL;
    pool.release(tx(1), TxDropReason.REPLACED);
    expect(pool.isClaimed(hashOf(p))).toBe(false);
    pool.claim(tx(2), c);
    clock.now = 20 * TTL;
    pool.prune();
    expect(pool.payloadsFor(tx(2))).toEqual([p]);
    pool.release(tx(2), TxDropReason.REPLACED);
    clock.now += TTL;
    pool.prune();
    expect(pool.has(hashOf(p))).toBe(false);
  });

  it("listens to the transaction pool's dropped event", () => {
    const { pool } = makePool();
    const txEvents = new EventEmitter<TxPoolEventData>();
    txEvents.on(TxPoolEvent.dropped, pool.onTxDropped);
    const p = payload(1);
    pool.add(POSTS, p);
    pool.claim(tx(1), [{ subchainId: POSTS, payloadHash: hashOf(p) }]);
    txEvents.emit(TxPoolEvent.dropped, tx(1), TxDropReason.INCLUDED);
    expect(pool.size).toBe(0);
    txEvents.off(TxPoolEvent.dropped, pool.onTxDropped);
  });

  it("refuses a claim to an undeclared sub-chain or of a held payload too large for the claimed sub-chain, recording nothing", () => {
    const { pool } = makePool();
    const big = payload(1, 500);
    pool.add(POSTS, big);
    expect(() => pool.claim(tx(1), [{ subchainId: 9, payloadHash: hashOf(big) }])).toThrow(withCode(PayloadPoolErrorCode.UNKNOWN_SUBCHAIN));
    const commitments = [
      { subchainId: POSTS, payloadHash: hashOf(payload(2)) },
      { subchainId: PINS, payloadHash: hashOf(big) },
    ];
    expect(() => pool.claim(tx(1), commitments)).toThrow(withCode(PayloadPoolErrorCode.PAYLOAD_TOO_LARGE));
    expect(pool.isClaimed(hashOf(big))).toBe(false);
    expect(pool.isClaimed(hashOf(payload(2)))).toBe(false);
    expect(pool.missing(tx(1))).toEqual([]);
  });

  it("evicts the oldest unclaimed payloads beyond the count cap, never a claimed one", () => {
    const { pool, drops } = makePool({ maxCount: 3 });
    const [a, b, c, d, e] = [1, 2, 3, 4, 5].map((i) => payload(i));
    pool.add(POSTS, a!);
    pool.claim(tx(1), [{ subchainId: POSTS, payloadHash: hashOf(a!) }]);
    pool.add(POSTS, b!);
    pool.add(POSTS, c!);
    pool.add(POSTS, d!);
    expect(drops).toEqual([[hashOf(b!), PayloadDropReason.EVICTED]]);
    pool.claim(tx(2), [{ subchainId: POSTS, payloadHash: hashOf(c!) }]);
    pool.claim(tx(3), [{ subchainId: POSTS, payloadHash: hashOf(d!) }]);
    expect(() => pool.add(POSTS, e!)).toThrow(withCode(PayloadPoolErrorCode.POOL_FULL));
    expect([pool.size, pool.bytes]).toEqual([3, 30]);
    expect([a, c, d].every((p) => pool.has(hashOf(p!)))).toBe(true);
  });

  it("caps all bytes and unclaimed bytes; a claimed arrival pushes unclaimed ones out", () => {
    const { pool, drops } = makePool({ maxBytes: 100, maxUnclaimedBytes: 50 });
    const u1 = payload(1, 30);
    const u2 = payload(2, 30);
    pool.add(POSTS, u1);
    pool.add(POSTS, u2);
    // the unclaimed cap: u1 had to go for u2
    expect(drops).toEqual([[hashOf(u1), PayloadDropReason.EVICTED]]);
    const claimed = payload(3, 80);
    pool.claim(tx(1), [{ subchainId: POSTS, payloadHash: hashOf(claimed) }]);
    pool.add(POSTS, claimed);
    expect(drops.at(-1)).toEqual([hashOf(u2), PayloadDropReason.EVICTED]);
    expect([pool.size, pool.bytes]).toEqual([1, 80]);
    expect(() => pool.add(POSTS, payload(4, 21))).toThrow(withCode(PayloadPoolErrorCode.POOL_FULL));
    expect(() => pool.add(POSTS, payload(5, 20))).not.toThrow();
    expect(pool.bytes).toBe(100);
  });

  it("drops expired payloads on its own while started", async () => {
    const pool = new PayloadPool({ unclaimedTtlMs: 20, pruneIntervalMs: 10 }, { subchains: SUBCHAINS });
    pool.start();
    pool.start();
    try {
      const dropped = once(pool, PayloadPoolEvent.dropped);
      const hash = pool.add(POSTS, payload(1));
      expect(await dropped).toEqual([hash, PayloadDropReason.EXPIRED]);
    } finally {
      pool.stop();
      pool.stop();
    }
  });
});
