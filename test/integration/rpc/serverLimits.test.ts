import { afterAll, describe, expect, it } from "@jest/globals";
import { smallQuantity } from "../../../rpc/params.js";
import { MethodRegistry, defineMethod } from "../../../rpc/rpcMethod.js";
import { RpcServer, type RpcServerOptions } from "../../../rpc/server.js";

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

/** A server with a method answering `n` bytes and one that waits until released. */
async function serve(opts: Partial<RpcServerOptions>): Promise<{ server: RpcServer; release: () => void; running: () => number }> {
  let running = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const registry = new MethodRegistry().register(
    defineMethod({
      name: "test_big",
      summary: "answers a string of n bytes",
      params: [smallQuantity("n")],
      result: { name: "s", schema: { type: "string" } },
      handler: ([n]) => "x".repeat(n),
    }),
    defineMethod({
      name: "test_wait",
      summary: "waits for the test",
      params: [],
      result: { name: "ok", schema: { type: "boolean" } },
      handler: async () => {
        running++;
        await gate;
        running--;
        return true;
      },
    }),
  );
  const server = new RpcServer({ host: "127.0.0.1", port: 0, ...opts }, { registry });
  await server.start();
  closers.push(() => server.stop());
  return { server, release, running: () => running };
}

const post = async (url: string, body: unknown): Promise<unknown> =>
  (await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json();

describe("RPC server resource limits", () => {
  it("refuses the rest of a batch once its answers pass maxResponseBytes, keeping memory bounded", async () => {
    const { server } = await serve({ maxResponseBytes: 100_000 });
    const batch = Array.from({ length: 10 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "test_big", params: ["0x4e20"] })); // 20,000 bytes each
    const answers = (await post(server.url, batch)) as { id: number; result?: string; error?: { code: number; message: string } }[];
    expect(answers.map((a) => a.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const ok = answers.filter((a) => a.result !== undefined);
    expect(ok.length).toBe(4);
    expect(ok.every((a) => a.result!.length === 20_000)).toBe(true);
    for (const a of answers.slice(4)) {
      expect(a.error!.code).toBe(-32005);
      expect(a.error!.message).toMatch(/response too large: the answers of this batch exceed 100000 bytes/);
    }
  });

  it("refuses calls beyond maxCallsInFlight with -32005 instead of queueing without bound", async () => {
    const { server, release, running } = await serve({ maxCallsInFlight: 3 });
    const waiting = Array.from({ length: 3 }, (_, i) => post(server.url, { jsonrpc: "2.0", id: i, method: "test_wait", params: [] }));
    while (running() < 3) await new Promise((r) => setTimeout(r, 5));
    const refused = (await post(server.url, { jsonrpc: "2.0", id: 9, method: "test_wait", params: [] })) as { error: { code: number; message: string } };
    expect(refused.error.code).toBe(-32005);
    expect(refused.error.message).toMatch(/server busy: 3 calls in flight/);
    release();
    expect((await Promise.all(waiting)).map((a) => (a as { result: boolean }).result)).toEqual([true, true, true]);
  });

  it("lets running calls finish before stop() returns, and refuses new ones while stopping", async () => {
    const { server, release, running } = await serve({});
    const call = post(server.url, { jsonrpc: "2.0", id: 1, method: "test_wait", params: [] });
    while (running() < 1) await new Promise((r) => setTimeout(r, 5));
    let stopped = false;
    const stopping = server.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    const late = (await post(server.url, { jsonrpc: "2.0", id: 2, method: "test_wait", params: [] })) as { error: { code: number; message: string } };
    expect([late.error.code, late.error.message]).toEqual([-32000, "the node is shutting down"]);
    release();
    expect(((await call) as { result: boolean }).result).toBe(true);
    await stopping;
    expect(stopped).toBe(true);
  });
});
