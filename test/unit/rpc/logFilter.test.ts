import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { bytesToHex } from "@ethereumjs/util";
import { logsBloom, mergeBlooms, type Log } from "../../../chain/receipt.js";
import type { Hex } from "../../../chain/types.js";
import { type LogEntry, type LogFilter, bloomMayMatch, inNumericRange, matchesEntry, matchesLog, parseLogFilter, resolveBound } from "../../../rpc/logs.js";

const hexOf = (n: number): fc.Arbitrary<Hex> => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => bytesToHex(b) as Hex);
// Small pools so that random filters and logs often share addresses and topics.
const addressPool = fc.sample(hexOf(20), { numRuns: 4, seed: 1 });
const topicPool = fc.sample(hexOf(32), { numRuns: 6, seed: 2 });
const pooledAddress = fc.constantFrom(...addressPool);
const pooledTopic = fc.constantFrom(...topicPool);

const logArb: fc.Arbitrary<Log> = fc.record({
  address: fc.oneof(pooledAddress, hexOf(20)),
  topics: fc.array(fc.oneof(pooledTopic, hexOf(32)), { maxLength: 4 }),
  data: hexOf(8),
});

const filterArb: fc.Arbitrary<LogFilter> = fc.record({
  fromBlock: fc.constant({ tag: "latest" as const }),
  toBlock: fc.constant({ tag: "latest" as const }),
  blockHash: fc.constant(null),
  addresses: fc.array(pooledAddress, { maxLength: 3 }),
  topics: fc.array(fc.option(fc.array(pooledTopic, { maxLength: 3 }), { nil: null }), { maxLength: 4 }),
});

/** A filter built to match `log`: each constraint includes the log's own value among others. */
function matchingFilterArb(log: Log): fc.Arbitrary<LogFilter> {
  return fc.record({
    fromBlock: fc.constant({ tag: "latest" as const }),
    toBlock: fc.constant({ tag: "latest" as const }),
    blockHash: fc.constant(null),
    addresses: fc.oneof(fc.constant([] as Hex[]), fc.array(pooledAddress, { maxLength: 2 }).map((a) => [...a, log.address])),
    topics: fc.tuple(...log.topics.map((t) => fc.oneof(fc.constant(null), fc.array(pooledTopic, { maxLength: 2 }).map((o) => [t, ...o])))),
  });
}

const bloomOf = (logs: Log[]): Hex => bytesToHex(logsBloom(logs)) as Hex;

describe("parseLogFilter", () => {
  const a = `0x${"ab".repeat(20)}`;
  const t = `0x${"cd".repeat(32)}`;

  it("defaults to latest..latest with no address or topic constraint", () => {
    expect(parseLogFilter({})).toEqual({ fromBlock: { tag: "latest" }, toBlock: { tag: "latest" }, blockHash: null, addresses: [], topics: [] });
  });

  it("reads numbers and tags, one or many addresses (lowercased), and topic positions with OR lists and wildcards", () => {
    const f = parseLogFilter({
      fromBlock: "0x1",
      toBlock: "earliest",
      address: [a.toUpperCase().replace("0X", "0x"), a],
      topics: [t, null, [t, `0x${"11".repeat(32)}`], [t, null]],
    });
    expect(f.fromBlock).toEqual({ number: 1n });
    expect(f.toBlock).toEqual({ tag: "earliest" });
    expect(f.addresses).toEqual([a]);
    // a null among the alternatives matches anything at that position, as geth reads it
    expect(f.topics).toEqual([[t], null, [t, `0x${"11".repeat(32)}`], null]);
    expect(parseLogFilter({ address: a }).addresses).toEqual([a]);
    expect(parseLogFilter({ blockHash: t }).blockHash).toBe(t);
  });

  it.each([
    ["not an object", "0x1", "filter must be an object"],
    ["an array", [], "filter must be an object"],
    ["blockHash with a range", { blockHash: `0x${"00".repeat(32)}`, fromBlock: "0x1" }, "cannot specify both blockHash and fromBlock/toBlock"],
    ["a short address", { address: "0x1234" }, "address: address must be 20 bytes"],
    ["a bad address in a list", { address: [a, "nope"] }, "address[1]: hex string without 0x prefix"],
    ["five topic positions", { topics: [null, null, null, null, null] }, "more than 4 topic positions"],
    ["topics not an array", { topics: t }, "topics must be an array"],
    ["a short topic", { topics: ["0x12"] }, "topics[0]: hash must be 32 bytes"],
    ["a bad topic in an OR list", { topics: [[t, 5]] }, "topics[0][1]: hash must be a hex string"],
    ["a hash as a range bound", { fromBlock: { blockHash: t } }, "fromBlock must be a block tag or a hex block number"],
    ["a bad tag", { toBlock: "newest" }, "toBlock: block tag must be one of"],
    ["leading zeros", { fromBlock: "0x01" }, "fromBlock: hex number with leading zero digits"],
  ])("refuses %s", (_what, input, message) => {
    expect(() => parseLogFilter(input)).toThrow(message);
  });

  it("never throws anything but an Error with a message on arbitrary JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          parseLogFilter(v);
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
          expect((e as Error).message.length).toBeGreaterThan(0);
        }
      }),
    );
  });
});

describe("matchesLog", () => {
  const log: Log = { address: `0x${"aa".repeat(20)}`, topics: [`0x${"01".repeat(32)}`, `0x${"02".repeat(32)}`], data: "0x" };
  const f = (over: Partial<LogFilter>): LogFilter => ({ ...parseLogFilter({}), ...over });

  it("matches by address, by topic position, OR lists and wildcards", () => {
    expect(matchesLog(f({}), log)).toBe(true);
    expect(matchesLog(f({ addresses: [`0x${"bb".repeat(20)}`, log.address] }), log)).toBe(true);
    expect(matchesLog(f({ addresses: [`0x${"bb".repeat(20)}`] }), log)).toBe(false);
    expect(matchesLog(f({ topics: [null, [log.topics[1]!]] }), log)).toBe(true);
    expect(matchesLog(f({ topics: [[log.topics[1]!]] }), log)).toBe(false);
    expect(matchesLog(f({ topics: [[`0x${"09".repeat(32)}`, log.topics[0]!]] }), log)).toBe(true);
    expect(matchesLog(f({ topics: [[], null] }), log)).toBe(true);
  });

  it("does not match a constrained position the log has no topic at", () => {
    expect(matchesLog(f({ topics: [null, null, [log.topics[0]!]] }), log)).toBe(false);
    expect(matchesLog(f({ topics: [null, null, null] }), log)).toBe(true);
  });

  it("every log matches a filter built from its own address and topics", () => {
    fc.assert(fc.property(logArb.chain((l) => fc.tuple(fc.constant(l), matchingFilterArb(l))), ([l, filter]) => matchesLog(filter, l)));
  });
});

describe("bloomMayMatch", () => {
  it("never rules out a block holding a matching log (no false negatives)", () => {
    fc.assert(
      fc.property(filterArb, fc.array(logArb, { minLength: 1, maxLength: 6 }), (filter, logs) => {
        const bloom = bloomOf(logs);
        if (logs.some((l) => matchesLog(filter, l))) expect(bloomMayMatch(filter, bloom)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps a log's own filter true over a block bloom merged from other receipts", () => {
    fc.assert(
      fc.property(
        logArb.chain((l) => fc.tuple(fc.constant(l), matchingFilterArb(l))),
        fc.array(logArb, { maxLength: 4 }),
        ([log, filter], others) => {
          const blockBloom = mergeBlooms([bloomOf([log]), ...others.map((o) => bloomOf([o]))]);
          expect(bloomMayMatch(filter, blockBloom)).toBe(true);
        },
      ),
    );
  });

  it("rules out an empty bloom for a filter with any constraint, and accepts anything for an open filter", () => {
    const empty = `0x${"00".repeat(256)}` as Hex;
    expect(bloomMayMatch(parseLogFilter({}), empty)).toBe(true);
    expect(bloomMayMatch(parseLogFilter({ address: addressPool[0] }), empty)).toBe(false);
    expect(bloomMayMatch(parseLogFilter({ topics: [null, topicPool[0]] }), empty)).toBe(false);
  });

  it("rules out most blocks without the wanted address (the bloom is useful, not always true)", () => {
    const filter = parseLogFilter({ address: `0x${"77".repeat(20)}` });
    const logs = fc.sample(logArb, { numRuns: 200, seed: 3 });
    const hits = logs.filter((l) => bloomMayMatch(filter, bloomOf([l]))).length;
    expect(hits).toBeLessThan(20);
  });
});

describe("live log matching", () => {
  const entry = (blockNumber: bigint, blockHash: Hex): LogEntry => ({
    log: { address: `0x${"aa".repeat(20)}`, topics: [], data: "0x" },
    blockHash,
    blockNumber,
    blockTimestamp: 0n,
    transactionHash: `0x${"00".repeat(32)}`,
    transactionIndex: 0,
    logIndex: 0,
    removed: false,
  });

  it("applies numeric bounds but not tags, and a block hash", () => {
    const f = parseLogFilter({ fromBlock: "0x5", toBlock: "0x7" });
    expect([4n, 5n, 7n, 8n].map((n) => inNumericRange(f, n))).toEqual([false, true, true, false]);
    expect(inNumericRange(parseLogFilter({ fromBlock: "earliest", toBlock: "latest" }), 1000n)).toBe(true);
    const h = `0x${"12".repeat(32)}` as Hex;
    expect(matchesEntry(parseLogFilter({ blockHash: h }), entry(1n, h))).toBe(true);
    expect(matchesEntry(parseLogFilter({ blockHash: h }), entry(1n, `0x${"34".repeat(32)}`))).toBe(false);
  });
});

describe("resolveBound", () => {
  it("reads tags as the eth_ methods do: safe 6 and finalized 24 blocks below the head, never below genesis", () => {
    const at = (tag: string, head: bigint): bigint => resolveBound(parseLogFilter({ fromBlock: tag }).fromBlock, head);
    expect([at("latest", 100n), at("pending", 100n), at("earliest", 100n), at("safe", 100n), at("finalized", 100n)]).toEqual([100n, 100n, 0n, 94n, 76n]);
    expect([at("safe", 3n), at("finalized", 3n), at("0x2a", 3n)]).toEqual([0n, 0n, 42n]);
  });
});
