import { afterAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { WebSocket } from "ws";
import { RpcErrorCode } from "../../../rpc/rpcError.js";
import { MethodRegistry } from "../../../rpc/rpcMethod.js";
import { RpcServer, nestedDeeperThan } from "../../../rpc/server.js";
import { SubscriptionManager, subscriptionMethods } from "../../../rpc/subscriptions.js";
import { openLedger, testGenesis } from "../../helpers/ledger.js";

const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

/** Depth of arrays and objects in a JSON value (a scalar is 0). */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (typeof v === "object" && v !== null) return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

describe("nestedDeeperThan (the depth check before JSON.parse)", () => {
  it("agrees with the depth of every JSON value, strings full of brackets, quotes and backslashes included", () => {
    const text = fc.string({ unit: fc.constantFrom("[", "]", "{", "}", '"', "\\", "a", ",", ":") });
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, fc.integer(), text, fc.array(tie("node"), { maxLength: 3 }), fc.dictionary(text, tie("node"), { maxKeys: 3 })),
    })).node;
    fc.assert(
      fc.property(value, fc.nat({ max: 12 }), (v, max) => {
        expect(nestedDeeperThan(JSON.stringify(v), max)).toBe(depthOf(v) > max);
      }),
      { numRuns: 1000 },
    );
  });

  it("never throws on text that is not JSON, and counts only what stays open", () => {
    fc.assert(fc.property(fc.string(), fc.nat({ max: 5 }), (s, max) => typeof nestedDeeperThan(s, max) === "boolean"));
    expect(nestedDeeperThan('"unterminated [[[[', 1)).toBe(false);
    expect(nestedDeeperThan("[][][][][]", 1)).toBe(false);
    expect(nestedDeeperThan("[[]]", 1)).toBe(true);
  });
});

/** A WebSocket client answering requests in order of their ids. */
async function wsClient(url: string): Promise<[(body: unknown) => Promise<unknown>, () => Promise<void>]> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const waiting: ((m: unknown) => void)[] = [];
  ws.on("message", (data) => waiting.shift()?.(JSON.parse(String(data))));
  const request = (body: unknown): Promise<unknown> =>
    new Promise((resolve) => {
      waiting.push(resolve);
      ws.send(JSON.stringify(body));
    });
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      ws.once("close", () => resolve());
      ws.close();
    });
  return [request, close];
}

const subscribe = (id: number): Record<string, unknown> => ({ jsonrpc: "2.0", id, method: "eth_subscribe", params: ["newHeads"] });

describe("subscriptions over a real WebSocket", () => {
  it("caps subscriptions per connection with -32005 and drops them all when connections close, many clients at once", async () => {
    const [ledger, closeLedger] = await openLedger(await testGenesis());
    closers.push(closeLedger);
    const subs = new SubscriptionManager({}, { chain: ledger.chain, pool: ledger.pool });
    subs.start();
    closers.push(() => subs.stop());
    const server = new RpcServer({ host: "127.0.0.1", port: 0 }, { registry: new MethodRegistry().register(...subscriptionMethods({ subscriptions: subs })) });
    await server.start();
    closers.push(() => server.stop());

    const [request, close] = await wsClient(server.wsUrl);
    const answers = (await request(Array.from({ length: 101 }, (_, i) => subscribe(i)))) as { id: number; result?: string; error?: unknown }[];
    expect(answers.filter((a) => typeof a.result === "string")).toHaveLength(100);
    expect(answers[100]).toEqual({
      jsonrpc: "2.0",
      id: 100,
      error: { code: RpcErrorCode.LIMIT_EXCEEDED, message: "too many subscriptions: at most 100 per connection" },
    });
    expect(subs.size).toBe(100);

    // twenty more clients fill their quota, then all go away: nothing of them stays behind
    const others = await Promise.all(Array.from({ length: 20 }, () => wsClient(server.wsUrl)));
    await Promise.all(others.map(([req]) => req(Array.from({ length: 100 }, (_, i) => subscribe(i)))));
    expect(subs.size).toBe(2100);
    await Promise.all([close(), ...others.map(([, c]) => c())]);
    for (let i = 0; i < 100 && subs.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(subs.size).toBe(0);

    const [again, closeAgain] = await wsClient(server.wsUrl);
    expect(await again(subscribe(1))).toMatchObject({ jsonrpc: "2.0", id: 1, result: expect.stringMatching(/^0x/) });
    await closeAgain();
  });
});
