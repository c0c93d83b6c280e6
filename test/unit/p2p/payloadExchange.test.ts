import { describe, expect, it } from "@jest/globals";
import { TopicValidatorResult } from "@libp2p/gossipsub";
import { pino } from "pino";
import { PayloadPool, payloadHash, type Blockchain, type Hex } from "../../../chain/index.js";
import { MAX_RESPONSE_BYTES } from "../../../p2p/messages.js";
import { PayloadExchange } from "../../../p2p/payloadExchange.js";
import type { PenaltyKind } from "../../../p2p/peerScore.js";
import { testGenesis } from "../../helpers/ledger.js";

// PayloadExchange's own logic with stand-ins for the chain store and the peers: which peer is asked,
// what an answer must be to count, who is blamed, and what a served answer holds.

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

interface Peer {
  /** Payloads it answers with, by hash; `lie` answers every hash with these bytes instead. */
  has?: Map<Hex, Uint8Array>;
  lie?: Uint8Array;
  fails?: boolean;
}

async function setup(
  peers: Record<string, Peer>,
  stored = new Map<Hex, Uint8Array>(),
  wanted: { hash: Hex; subchainId: number }[] = [],
  opts: { wantedPerRound?: number; notCanonical?: Hex[] } = {},
) {
  const genesis = await testGenesis();
  const pool = new PayloadPool({}, { subchains: genesis.subchains });
  const asked: string[] = [];
  const penalties: [string, PenaltyKind][] = [];
  const storedWanted: Hex[] = [];
  const subchains = {
    getPayload: async (h: Hex) => stored.get(h),
    getWantedPayloads: async (limit = Infinity, after?: Hex) =>
      wanted
        .filter((w) => !storedWanted.includes(w.hash) && (after === undefined || w.hash > after))
        .sort((a, b) => (a.hash < b.hash ? -1 : 1))
        .slice(0, limit),
    getPayloadLocation: async (h: Hex) => (opts.notCanonical?.includes(h) ? undefined : { subBlockHash: h, index: 0 }),
    storeWantedPayload: async (p: Uint8Array) => {
      const h = payloadHash(p);
      if (!wanted.some((w) => w.hash === h)) return false;
      storedWanted.push(h);
      return true;
    },
  };
  const exchange = new PayloadExchange(
    { maxPeersPerFetch: 3, wantedPerRound: opts.wantedPerRound ?? 64 },
    {
      chain: { genesis, subchains } as unknown as Pick<Blockchain, "subchains" | "genesis">,
      pool,
      peers: () => Object.keys(peers),
      request: async (peer, hashes) => {
        asked.push(peer);
        const p = peers[peer]!;
        if (p.fails) throw new Error("stream reset");
        return hashes.map((h) => p.lie ?? p.has?.get(h));
      },
      penalize: (peer, kind) => penalties.push([peer, kind]),
      log: pino({ level: "silent" }),
      random: () => 0, // always the first remaining peer
    },
  );
  return { exchange, pool, asked, penalties, storedWanted };
}

describe("PayloadExchange", () => {
  it("asks peers in turn until each hash is answered with bytes that hash to it; a liar is blamed, a failing peer only passed over", async () => {
    const good = bytes(100, 1);
    const hash = payloadHash(good);
    const { exchange, asked, penalties } = await setup({
      liar: { lie: bytes(100, 2) },
      broken: { fails: true },
      honest: { has: new Map([[hash, good]]) },
      unused: { has: new Map([[hash, good]]) },
    });
    const found = await exchange.fetch([hash]);
    expect(found.get(hash)).toEqual(good);
    expect(asked).toEqual(["liar", "broken", "honest"]);
    expect(penalties).toEqual([["liar", "malformed"]]);
  });

  it("gives up after maxPeersPerFetch peers and returns what it found", async () => {
    const a = bytes(10, 1);
    const b = bytes(10, 2);
    const { exchange, asked } = await setup({
      p1: { has: new Map([[payloadHash(a), a]]) },
      p2: {},
      p3: {},
      p4: { has: new Map([[payloadHash(b), b]]) },
    });
    const found = await exchange.fetch([payloadHash(a), payloadHash(b)]);
    expect([...found.keys()]).toEqual([payloadHash(a)]);
    expect(asked).toEqual(["p1", "p2", "p3"]);
  });

  it("serves stored and pooled payloads, and leaves out what would pass the answer cap", async () => {
    const stored = bytes(1000, 3);
    const pooled = bytes(2000, 4);
    const big = bytes(MAX_RESPONSE_BYTES - 3_000, 5);
    const { exchange, pool } = await setup({}, new Map([[payloadHash(stored), stored], [payloadHash(big), big]]));
    pool.add(1, pooled);
    const answer = await exchange.serve([payloadHash(stored), payloadHash(pooled), `0x${"ee".repeat(32)}`, payloadHash(big)]);
    // lengths, not bytes: a failing comparison of 10 MiB arrays takes minutes to print
    expect(answer.map((a) => a?.length)).toEqual([stored.length, pooled.length, undefined, undefined]);
    expect(answer.slice(0, 2)).toEqual([stored, pooled]);
    // alone it fits
    const alone = await exchange.serve([payloadHash(big)]);
    expect(alone.map((a) => a?.length)).toEqual([big.length]);
    expect(alone[0] === big).toBe(true);
  });

  it("takes payloads from peers into the pool: one a pooled transaction claims is forwarded, an unclaimed one kept but not forwarded, a known one dropped quietly, an oversized or empty one rejected", async () => {
    const { exchange, pool } = await setup({});
    const p = bytes(500, 6);
    pool.claim(`0x${"aa".repeat(32)}`, [{ subchainId: 1, payloadHash: payloadHash(p) }]);
    expect(exchange.receive("peer", 1, p)).toBe(TopicValidatorResult.Accept);
    expect(pool.has(payloadHash(p))).toBe(true);
    expect(exchange.receive("peer", 1, p)).toBe(TopicValidatorResult.Ignore);
    const unclaimed = bytes(500, 7);
    expect(exchange.receive("peer", 1, unclaimed)).toBe(TopicValidatorResult.Ignore);
    expect(pool.has(payloadHash(unclaimed))).toBe(true);
    const tooBig = bytes((await testGenesis()).subchains.find((d) => d.id === 1)!.maxPayloadBytes + 1, 7);
    expect(exchange.receive("peer", 1, tooBig)).toBe(TopicValidatorResult.Reject);
    expect(exchange.receive("peer", 1, new Uint8Array(0))).toBe(TopicValidatorResult.Reject);
    expect(exchange.receive("peer", 200, bytes(5, 1))).toBe(TopicValidatorResult.Reject);
  });

  it("fills wanted payloads from the pool first, then from peers, and runs one round at a time", async () => {
    const inPool = bytes(300, 8);
    const atPeer = bytes(300, 9);
    const wanted = [inPool, atPeer].map((p) => ({ hash: payloadHash(p), subchainId: 1 }));
    const { exchange, pool, asked, storedWanted } = await setup({ peer: { has: new Map([[payloadHash(atPeer), atPeer]]) } }, new Map(), wanted);
    pool.add(1, inPool);
    const [first, second] = await Promise.all([exchange.fillWanted(), exchange.fillWanted()]);
    expect([first, second]).toEqual([2, 2]);
    expect(storedWanted).toEqual([payloadHash(inPool), payloadHash(atPeer)]);
    expect(asked).toEqual(["peer"]);
    expect(await exchange.fillWanted()).toBe(0);
  });

  it("moves on round after round past wanted payloads nobody has, and does not ask for one whose block left the canonical chain", async () => {
    const payloads = [1, 2, 3, 4, 5].map((i) => bytes(50, i));
    const byHash = [...payloads].sort((a, b) => (payloadHash(a) < payloadHash(b) ? -1 : 1));
    // the peer has only the last two in hash order; the first one is not canonical
    const has = new Map(byHash.slice(3).map((p) => [payloadHash(p), p] as [Hex, Uint8Array]));
    const wanted = byHash.map((p) => ({ hash: payloadHash(p), subchainId: 1 }));
    const { exchange, storedWanted, asked } = await setup({ peer: { has } }, new Map(), wanted, { wantedPerRound: 2, notCanonical: [wanted[0]!.hash] });
    expect(await exchange.fillWanted()).toBe(0); // 0 (not asked for) and 1 (nobody has it)
    expect(asked).toEqual(["peer"]);
    expect(await exchange.fillWanted()).toBe(1); // 2 (nobody) and 3
    expect(await exchange.fillWanted()).toBe(1); // 4
    expect(storedWanted.sort()).toEqual(byHash.slice(3).map(payloadHash).sort());
    // back to the start: 0 and 1 again, then 2
    expect(await exchange.fillWanted()).toBe(0);
    expect(await exchange.fillWanted()).toBe(0);
  });

  it("fetches the payloads pooled publishes lack, and asks again for one nobody had only after a while", async () => {
    const found = bytes(400, 11);
    const lost = bytes(400, 12);
    const { exchange, pool, asked } = await setup({ peer: { has: new Map([[payloadHash(found), found]]) } });
    pool.claim(`0x${"01".repeat(32)}`, [{ subchainId: 1, payloadHash: payloadHash(found) }]);
    pool.claim(`0x${"02".repeat(32)}`, [{ subchainId: 1, payloadHash: payloadHash(lost) }]);
    expect(await exchange.fillMissing()).toBe(1);
    expect(pool.get(payloadHash(found))).toEqual(found);
    expect(pool.isClaimed(payloadHash(found))).toBe(true);
    expect(asked).toEqual(["peer"]);
    // the lost one was just asked for: not again this round
    expect(await exchange.fillMissing()).toBe(0);
    expect(asked).toEqual(["peer"]);
  });
});
