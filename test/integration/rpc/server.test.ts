import { randomUUID } from "node:crypto";
import { createConnection, type Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { setImmediate as tick, setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "@jest/globals";
import { JsonRpcProvider } from "ethers";
import fc from "fast-check";
import { WebSocket, type ClientOptions } from "ws";
import { NodeError } from "../../../chain/index.js";
import { discoverMethod } from "../../../rpc/discover.js";
import { RpcError, RpcErrorCode } from "../../../rpc/rpcError.js";
import { MethodRegistry, defineMethod, type Param, type RpcConnection } from "../../../rpc/rpcMethod.js";
import { RpcServer, type RpcMetrics, type RpcServerModules, type RpcServerOptions } from "../../../rpc/server.js";

// ---------------------------------------------------------------------------------------------
// A registry of a few real methods, and a server on 127.0.0.1 at a random port.

const anyValue: Param<unknown> = { name: "value", schema: {}, optional: false, parse: (v) => v };
const count: Param<number> = {
  name: "count",
  schema: { type: "number" },
  optional: true,
  parse: (v) => {
    if (typeof v !== "number") throw new Error(`count must be a number, got ${typeof v}`);
    return v;
  },
};
const millis: Param<number> = {
  name: "ms",
  schema: { type: "integer", minimum: 0, maximum: 1000 },
  optional: false,
  parse: (v) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 1000) throw new Error("ms must be an integer 0..1000");
    return v;
  },
};
const anyResult = { name: "result", schema: {} };

interface Fixture {
  registry: MethodRegistry;
  /** Connections seen by test_hold, in call order. */
  held: (RpcConnection | null)[];
}

function testRegistry(): Fixture {
  const held: (RpcConnection | null)[] = [];
  let waiting: (() => void)[] = [];
  const registry = new MethodRegistry();
  registry.register(
    defineMethod({ name: "test_echo", summary: "Returns its first argument.", params: [anyValue, count], result: anyResult, handler: ([v]) => v }),
    defineMethod({
      name: "test_reject",
      summary: "Throws a transaction rejection.",
      params: [],
      result: anyResult,
      handler: () => {
        throw new NodeError({ code: "TX_NONCE_TOO_LOW" }, "nonce too low: account 0xabc has nonce 5, transaction has 3");
      },
    }),
    defineMethod({
      name: "test_crash",
      summary: "Throws a bug carrying a secret.",
      params: [],
      result: anyResult,
      handler: () => {
        throw new Error("EACCES: open '/home/alice/.vs1984/keystore/secret.json'");
      },
    }),
    defineMethod({
      name: "test_sleep",
      summary: "Answers after ms milliseconds.",
      params: [millis],
      result: anyResult,
      handler: async ([ms]) => {
        await delay(ms);
        return ms;
      },
    }),
    defineMethod({
      name: "test_together",
      summary: "Answers once two calls of it are in flight at the same time.",
      params: [],
      result: anyResult,
      handler: () =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new RpcError(-32000, "calls did not run concurrently")), 5000);
          waiting.push(() => {
            clearTimeout(timer);
            resolve("together");
          });
          if (waiting.length >= 2) {
            const release = waiting;
            waiting = [];
            for (const r of release) r();
          }
        }),
    }),
    defineMethod({ name: "test_bigint", summary: "Returns a bigint by mistake.", params: [], result: anyResult, handler: () => 1n }),
    defineMethod({
      name: "test_hold",
      summary: "Keeps the caller's connection for the test.",
      params: [],
      result: anyResult,
      handler: (_args, ctx) => {
        held.push(ctx.connection);
        return ctx.connection?.id ?? null;
      },
    }),
  );
  registry.register(discoverMethod(registry, { version: "9.9.9" }));
  return { registry, held };
}

/** Records every call the server reports. */
class RecordingMetrics implements RpcMetrics {
  readonly calls: [string, boolean][] = [];
  open = 0;
  observeCall(method: string, seconds: number, ok: boolean): void {
    expect(seconds).toBeGreaterThanOrEqual(0);
    this.calls.push([method, ok]);
  }
  connections(delta: number): void {
    this.open += delta;
  }
}

interface Started extends Fixture {
  server: RpcServer;
  metrics: RecordingMetrics;
}

async function startServer(
  opts: Partial<RpcServerOptions> = {},
  modules: Partial<RpcServerModules> = {},
): Promise<[Started, () => Promise<void>]> {
  const fixture = testRegistry();
  const metrics = new RecordingMetrics();
  const server = new RpcServer({ host: "127.0.0.1", port: 0, ...opts }, { registry: fixture.registry, metrics, ...modules });
  await server.start();
  return [{ ...fixture, server, metrics }, () => server.stop()];
}

const JSON_HEADERS = { "content-type": "application/json" };

interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body (undefined when empty). */
  body: unknown;
}

async function post(server: RpcServer, body: unknown, headers: Record<string, string> = JSON_HEADERS): Promise<HttpAnswer> {
  const res = await fetch(server.url, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text === "" ? undefined : JSON.parse(text) };
}

function call(method: string, params?: unknown[], id: string | number | null = 1): Record<string, unknown> {
  return params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params };
}

function notification(method: string, params: unknown[] = []): Record<string, unknown> {
  return { jsonrpc: "2.0", method, params };
}

interface WsClient {
  ws: WebSocket;
  /** The next message received (parsed). */
  next(): Promise<unknown>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
}

async function connect(url: string, options?: ClientOptions): Promise<[WsClient, () => void]> {
  const ws = new WebSocket(url, options);
  const queue: unknown[] = [];
  const waiters: ((m: unknown) => void)[] = [];
  ws.on("message", (data) => {
    const m: unknown = JSON.parse(String(data));
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const next = (): Promise<unknown> => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)));
  return [{ ws, next, closed }, () => ws.terminate()];
}

/** The HTTP status a WebSocket upgrade is refused with. */
function refusedUpgrade(url: string, options: ClientOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on("open", () => {
      ws.terminate();
      reject(new Error("the upgrade was accepted"));
    });
    ws.on("error", () => undefined);
  });
}

function errorOf(body: unknown): { code: number; message: string } {
  const e = (body as { error?: { code: number; message: string } }).error;
  if (!e) throw new Error(`expected an error answer, got ${JSON.stringify(body)}`);
  return e;
}

// ---------------------------------------------------------------------------------------------

describe("RpcServer over HTTP", () => {
  it("answers a call with the same id, whether a string, a number or null", async () => {
    const [{ server }, close] = await startServer();
    for (const id of ["abc", 7, 0.5, null]) {
      const res = await post(server, call("test_echo", ["hi"], id));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(res.body).toEqual({ jsonrpc: "2.0", id, result: "hi" });
    }
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    expect(server.wsUrl).toBe(`ws://127.0.0.1:${server.port}/`);
    await close();
  });

  it("answers invalid JSON with -32700 and id null", async () => {
    const [{ server }, close] = await startServer();
    for (const text of ['{"jsonrpc":"2.0","id":1,"method":"test_echo"', "not json", "", "[1,]"]) {
      const res = await post(server, text);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: RpcErrorCode.PARSE_ERROR } });
      expect(errorOf(res.body).message).toMatch(/^parse error/);
    }
    await close();
  });

  it("answers an invalid request with -32600 saying what is wrong", async () => {
    const [{ server }, close] = await startServer();
    const cases: [unknown, unknown, RegExp][] = [
      [1, null, /request object/],
      ["text", null, /request object/],
      [null, null, /request object/],
      [{ jsonrpc: "2.0", id: 1 }, 1, /method must be a string/],
      [{ jsonrpc: "2.0", id: 2, method: 5 }, 2, /method must be a string/],
      [{ jsonrpc: "1.0", id: 3, method: "test_echo" }, 3, /jsonrpc must be "2.0"/],
      [{ id: 4, method: "test_echo" }, 4, /jsonrpc must be "2.0"/],
      [{ jsonrpc: "2.0", id: { a: 1 }, method: "test_echo" }, null, /id must be a string, a number or null/],
      [{ jsonrpc: "2.0", id: true, method: "test_echo" }, null, /id must be/],
      [{ jsonrpc: "2.0", id: 5, method: "test_echo", params: "x" }, 5, /params must be an array or an object/],
      // invalid requests are answered even without an id: nothing tells them apart from a call
      [{ jsonrpc: "2.0", method: 1 }, null, /method must be a string/],
    ];
    for (const [request, id, message] of cases) {
      const res = await post(server, JSON.stringify(request));
      expect(res.body).toMatchObject({ jsonrpc: "2.0", id, error: { code: RpcErrorCode.INVALID_REQUEST } });
      expect(errorOf(res.body).message).toMatch(message);
    }
    await close();
  });

  it("answers an unknown method with -32601 naming it, counted under one metric label", async () => {
    const [{ server, metrics }, close] = await startServer();
    const res = await post(server, call("eth_foo", []));
    expect(res.body).toEqual({
      jsonrpc: "2.0",
      id: 1,
      error: { code: RpcErrorCode.METHOD_NOT_FOUND, message: "the method eth_foo does not exist/is not available" },
    });
    const long = `x_${"a".repeat(10_000)}`;
    const longRes = await post(server, call(long, []));
    expect(errorOf(longRes.body).message.length).toBeLessThan(200);
    await post(server, call("test_echo", [1]));
    expect(metrics.calls).toEqual([
      ["unknown", false],
      ["unknown", false],
      ["test_echo", true],
    ]);
    await close();
  });

  it("answers bad params with -32602 naming the argument", async () => {
    const [{ server }, close] = await startServer();
    const cases: [unknown, string][] = [
      [[], "missing value for required argument 0 (value)"],
      [["v", "three"], "invalid argument 1: count must be a number, got string"],
      [["v", 1, 2], "too many arguments, want at most 2"],
    ];
    for (const [params, message] of cases) {
      const res = await post(server, { jsonrpc: "2.0", id: 1, method: "test_echo", params });
      expect(res.body).toEqual({ jsonrpc: "2.0", id: 1, error: { code: RpcErrorCode.INVALID_PARAMS, message } });
    }
    const named = await post(server, { jsonrpc: "2.0", id: 1, method: "test_echo", params: { value: 1 } });
    expect(errorOf(named.body)).toEqual({ code: RpcErrorCode.INVALID_PARAMS, message: "params must be an array of positional arguments" });
    await close();
  });

  it("maps a rejection to -32000 with its words, and a bug to -32603 without its secret", async () => {
    const [{ server, metrics }, close] = await startServer();
    const rejected = await post(server, call("test_reject", []));
    expect(errorOf(rejected.body)).toEqual({ code: -32000, message: "nonce too low: account 0xabc has nonce 5, transaction has 3" });
    const crashed = await post(server, call("test_crash", []));
    expect(crashed.status).toBe(200);
    expect(errorOf(crashed.body)).toEqual({ code: RpcErrorCode.INTERNAL_ERROR, message: "internal error" });
    expect(crashed.text).not.toMatch(/alice|keystore|EACCES|at /);
    expect(metrics.calls).toEqual([
      ["test_reject", false],
      ["test_crash", false],
    ]);
    await close();
  });

  it("answers a bigint result with a clear internal error instead of crashing", async () => {
    const [{ server }, close] = await startServer();
    const res = await post(server, [call("test_bigint", [], 1), call("test_echo", ["ok"], 2)]);
    expect(res.body).toEqual([
      { jsonrpc: "2.0", id: 1, error: { code: RpcErrorCode.INTERNAL_ERROR, message: expect.stringMatching(/test_bigint returned a bigint/) } },
      { jsonrpc: "2.0", id: 2, result: "ok" },
    ]);
    await close();
  });

  it("runs a batch's calls concurrently and answers in request order, leaving out notifications", async () => {
    const [{ server }, close] = await startServer();
    const res = await post(server, [
      call("test_sleep", [150], "a"),
      call("test_echo", ["b"], "b"),
      notification("test_echo", ["quiet"]),
      call("test_sleep", [20], "c"),
      call("test_nope", [], "d"),
      call("test_sleep", [0], 4),
    ]);
    expect(res.status).toBe(200);
    expect((res.body as { id: unknown }[]).map((a) => a.id)).toEqual(["a", "b", "c", "d", 4]);
    expect((res.body as unknown[])[0]).toEqual({ jsonrpc: "2.0", id: "a", result: 150 });
    // each of these answers only once both are in flight: sequential calls would time out
    const together = await post(server, [call("test_together", [], 1), call("test_together", [], 2)]);
    expect(together.body).toEqual([
      { jsonrpc: "2.0", id: 1, result: "together" },
      { jsonrpc: "2.0", id: 2, result: "together" },
    ]);
    await close();
  });

  it("gives notifications no reply: HTTP 204 with an empty body", async () => {
    const [{ server, metrics }, close] = await startServer();
    for (const body of [
      notification("test_echo", ["x"]),
      notification("test_nope"),
      notification("test_crash"),
      [notification("test_echo", ["x"]), notification("test_sleep", [5])],
    ]) {
      const res = await post(server, body);
      expect(res.status).toBe(204);
      expect(res.text).toBe("");
    }
    // notifications still run
    expect(metrics.calls.map(([m]) => m).sort()).toEqual(["test_crash", "test_echo", "test_echo", "test_sleep", "unknown"]);
    await close();
  });

  it("refuses an empty batch and a batch over the limit with one error", async () => {
    const [{ server }, close] = await startServer();
    const empty = await post(server, []);
    expect(empty.body).toEqual({ jsonrpc: "2.0", id: null, error: { code: RpcErrorCode.INVALID_REQUEST, message: "invalid request: empty batch" } });
    const atLimit = await post(server, Array.from({ length: 1000 }, (_, i) => call("test_echo", [i], i)));
    expect((atLimit.body as unknown[]).length).toBe(1000);
    const over = await post(server, Array.from({ length: 1001 }, (_, i) => call("test_echo", [i], i)));
    expect(over.body).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: RpcErrorCode.LIMIT_EXCEEDED, message: "batch of 1001 calls exceeds the limit of 1000" },
    });
    await close();
  });

  it("takes a body of exactly 5 MiB and refuses 5 MiB + 1 with HTTP 413 naming the limit", async () => {
    const [{ server }, close] = await startServer();
    const limit = 5 * 1024 * 1024;
    const shell = JSON.stringify(call("test_echo", [""]));
    const exact = shell.replace('[""]', `["${"x".repeat(limit - shell.length)}"]`);
    expect(Buffer.byteLength(exact)).toBe(limit);
    const ok = await post(server, exact);
    expect(ok.status).toBe(200);
    expect((ok.body as { result: string }).result.length).toBe(limit - shell.length);

    const res = await post(server, `${exact} `);
    expect(res.status).toBe(413);
    expect(res.body).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: RpcErrorCode.LIMIT_EXCEEDED, message: `request body exceeds the limit of ${limit} bytes` },
    });
    expect((await post(server, call("test_echo", ["still here"]))).body).toEqual({ jsonrpc: "2.0", id: 1, result: "still here" });
    await close();
  });

  it("refuses a body that is not declared as JSON (a web page could send it without a preflight)", async () => {
    const [{ server }, close] = await startServer();
    for (const headers of [{ "content-type": "text/plain" }, { "content-type": "application/x-www-form-urlencoded" }]) {
      const res = await post(server, call("test_echo", ["x"]), headers);
      expect(res.status).toBe(415);
      expect(errorOf(res.body).code).toBe(RpcErrorCode.INVALID_REQUEST);
    }
    const withCharset = await post(server, call("test_echo", ["x"]), { "content-type": "application/json; charset=utf-8" });
    expect(withCharset.body).toEqual({ jsonrpc: "2.0", id: 1, result: "x" });
    await close();
  });

  it("serves ethers v6 (batched calls, method-not-found recognised)", async () => {
    const [{ server }, close] = await startServer();
    const provider = new JsonRpcProvider(server.url, 1984, { staticNetwork: true });
    const answers = await Promise.all([1, 2, 3, 4].map((i) => provider.send("test_echo", [i])));
    expect(answers).toEqual([1, 2, 3, 4]);
    await expect(provider.send("eth_foo", [])).rejects.toMatchObject({ code: "UNSUPPORTED_OPERATION" });
    provider.destroy();
    await close();
  });

  it("serves rpc.discover: an OpenRPC document of every method, itself included", async () => {
    const [{ server }, close] = await startServer();
    const res = await post(server, call("rpc.discover"));
    const doc = (res.body as { result: { openrpc: string; info: unknown; methods: { name: string; params: unknown }[] } }).result;
    expect(doc.openrpc).toBe("1.2.6");
    expect(doc.info).toEqual({ title: "VS1984 node JSON-RPC", version: "9.9.9" });
    expect(doc.methods.map((m) => m.name)).toEqual([
      "rpc.discover",
      "test_bigint",
      "test_crash",
      "test_echo",
      "test_hold",
      "test_reject",
      "test_sleep",
      "test_together",
    ]);
    expect(doc.methods.find((m) => m.name === "test_echo")).toEqual({
      name: "test_echo",
      summary: "Returns its first argument.",
      paramStructure: "by-position",
      params: [
        { name: "value", required: true, schema: {} },
        { name: "count", required: false, schema: { type: "number" } },
      ],
      result: { name: "result", schema: {} },
    });
    await close();
  });

  it("serves GET /metrics only when given metrics text", async () => {
    const [{ server }, close] = await startServer();
    expect((await fetch(`${server.url}metrics`)).status).toBe(404);
    await close();
    const [{ server: withMetrics }, close2] = await startServer({}, { metricsText: async () => "# HELP vs1984_up 1\nvs1984_up 1\n" });
    const res = await fetch(`${withMetrics.url}metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await res.text()).toContain("vs1984_up 1");
    await close2();
  });

  it("starts and stops idempotently", async () => {
    const [{ server }, close] = await startServer();
    const port = server.port;
    await server.start();
    expect(server.port).toBe(port);
    await close();
    await close();
    await expect(fetch(server.url)).rejects.toThrow();
  });

  it("rejects start on a port in use, and can then be stopped", async () => {
    const [{ server, registry }, close] = await startServer();
    const second = new RpcServer({ host: "127.0.0.1", port: server.port }, { registry });
    await expect(Promise.all([second.start(), second.start()])).rejects.toThrow(/EADDRINUSE/);
    await second.stop();
    await close();
  });
});

describe("RpcServer CORS and origins", () => {
  const preflight = (server: RpcServer, origin: string): Promise<Response> =>
    fetch(server.url, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });

  it("sends no CORS headers by default and refuses requests from web pages", async () => {
    const [{ server }, close] = await startServer();
    const plain = await post(server, call("test_echo", ["x"]));
    expect(plain.status).toBe(200);
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
    const fromPage = await post(server, call("test_echo", ["x"]), { ...JSON_HEADERS, origin: "http://evil.example" });
    expect(fromPage.status).toBe(403);
    expect(fromPage.headers.get("access-control-allow-origin")).toBeNull();
    expect(errorOf(fromPage.body).message).toBe("origin http://evil.example is not allowed");
    const pre = await preflight(server, "http://evil.example");
    expect(pre.status).toBe(403);
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    expect(await refusedUpgrade(server.wsUrl, { origin: "http://evil.example" })).toBe(403);
    await close();
  });

  it("answers preflights and allows only the configured origins", async () => {
    const [{ server }, close] = await startServer({ corsOrigins: ["http://app.example"] });
    const pre = await preflight(server, "http://app.example");
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("http://app.example");
    expect(pre.headers.get("access-control-allow-methods")).toContain("POST");
    expect(pre.headers.get("access-control-allow-headers")).toContain("content-type");
    const res = await post(server, call("test_echo", ["x"]), { ...JSON_HEADERS, origin: "http://app.example" });
    expect(res.body).toEqual({ jsonrpc: "2.0", id: 1, result: "x" });
    expect(res.headers.get("access-control-allow-origin")).toBe("http://app.example");
    expect(res.headers.get("vary")).toMatch(/origin/i);
    const other = await post(server, call("test_echo", ["x"]), { ...JSON_HEADERS, origin: "http://other.example" });
    expect(other.status).toBe(403);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    expect(await refusedUpgrade(server.wsUrl, { origin: "http://other.example" })).toBe(403);
    const [client, closeClient] = await connect(server.wsUrl, { origin: "http://app.example" });
    client.ws.send(JSON.stringify(call("test_echo", ["ws"])));
    expect(await client.next()).toEqual({ jsonrpc: "2.0", id: 1, result: "ws" });
    closeClient();
    await close();
  });

  it("allows a listed origin into the private network when its preflight asks (Chromium's Private Network Access)", async () => {
    const [{ server }, close] = await startServer({ corsOrigins: ["https://dapp.example"] });
    const ask = (origin: string): Promise<Response> =>
      fetch(server.url, {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-private-network": "true" },
      });
    const listed = await ask("https://dapp.example");
    expect(listed.status).toBe(204);
    expect(listed.headers.get("access-control-allow-private-network")).toBe("true");
    const other = await ask("https://evil.example");
    expect(other.status).toBe(403);
    expect(other.headers.get("access-control-allow-private-network")).toBeNull();
    expect((await preflight(server, "https://dapp.example")).headers.get("access-control-allow-private-network")).toBeNull();
    await close();
  });

  it('allows any origin with ["*"]', async () => {
    const [{ server }, close] = await startServer({ corsOrigins: ["*"] });
    const res = await post(server, call("test_echo", ["x"]), { ...JSON_HEADERS, origin: "http://anything.example" });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect((await preflight(server, "null")).headers.get("access-control-allow-origin")).toBe("*");
    await close();
  });
});

describe("RpcServer over WebSocket", () => {
  it("serves WebSocket on the same port and path as HTTP, batches included", async () => {
    const [{ server, metrics }, close] = await startServer();
    expect(new URL(server.wsUrl).host).toBe(new URL(server.url).host);
    expect(new URL(server.wsUrl).pathname).toBe("/");
    const [client, closeClient] = await connect(server.wsUrl);
    expect(metrics.open).toBe(1);
    client.ws.send(JSON.stringify(call("test_echo", ["one"], "x")));
    expect(await client.next()).toEqual({ jsonrpc: "2.0", id: "x", result: "one" });
    client.ws.send(JSON.stringify([call("test_sleep", [50], 1), call("test_echo", [2], 2)]));
    expect(await client.next()).toEqual([
      { jsonrpc: "2.0", id: 1, result: 50 },
      { jsonrpc: "2.0", id: 2, result: 2 },
    ]);
    client.ws.send("{oops");
    expect(await client.next()).toMatchObject({ id: null, error: { code: RpcErrorCode.PARSE_ERROR } });
    client.ws.send(JSON.stringify(call("test_nope", [], 3)));
    expect(errorOf(await client.next()).message).toBe("the method test_nope does not exist/is not available");
    closeClient();
    await close();
  });

  it("gives notifications no reply over WebSocket", async () => {
    const [{ server, metrics }, close] = await startServer();
    const [client, closeClient] = await connect(server.wsUrl);
    client.ws.send(JSON.stringify(notification("test_echo", ["n"])));
    client.ws.send(JSON.stringify([notification("test_echo", ["n"]), notification("test_nope")]));
    client.ws.send(JSON.stringify(call("test_echo", ["answered"], 9)));
    expect(await client.next()).toEqual({ jsonrpc: "2.0", id: 9, result: "answered" });
    // observed in the order the calls finish
    expect(metrics.calls.map(([m]) => m).sort()).toEqual(["test_echo", "test_echo", "test_echo", "unknown"]);
    closeClient();
    await close();
  });

  it("gives each WebSocket call its connection: notify sends, onClose runs once", async () => {
    const [{ server, held, metrics }, close] = await startServer();
    const [client] = await connect(server.wsUrl);
    client.ws.send(JSON.stringify(call("test_hold", [], 1)));
    const id = ((await client.next()) as { result: string }).result;
    const conn = held[0]!;
    expect(conn.id).toBe(id);
    expect(conn.notify("eth_subscription", { subscription: "0x1", result: { n: "0x2" } })).toBe(true);
    expect(await client.next()).toEqual({ jsonrpc: "2.0", method: "eth_subscription", params: { subscription: "0x1", result: { n: "0x2" } } });

    let closes = 0;
    const closed = new Promise<void>((resolve) =>
      conn.onClose(() => {
        closes++;
        resolve();
      }),
    );
    client.ws.close();
    await closed;
    await client.closed;
    expect(conn.notify("eth_subscription", {})).toBe(false);
    let late = 0;
    conn.onClose(() => late++);
    expect([closes, late]).toEqual([1, 1]);
    // HTTP calls have no connection
    await post(server, call("test_hold"));
    expect(held[1]).toBeNull();
    for (let i = 0; i < 50 && metrics.open !== 0; i++) await delay(10);
    expect(metrics.open).toBe(0);
    await close();
  });

  it("closes a WebSocket with 1009 when a message is over the frame limit", async () => {
    const [{ server }, close] = await startServer({ maxWsFrameBytes: 1024 });
    const [client, closeClient] = await connect(server.wsUrl);
    client.ws.send(JSON.stringify(call("test_echo", ["x".repeat(900)])));
    expect(await client.next()).toEqual({ jsonrpc: "2.0", id: 1, result: "x".repeat(900) });
    client.ws.send(JSON.stringify(call("test_echo", ["x".repeat(2000)])));
    expect((await client.closed).code).toBe(1009);
    closeClient();
    expect((await post(server, call("test_echo", ["fine"]))).body).toEqual({ jsonrpc: "2.0", id: 1, result: "fine" });
    await close();
  });

  it("disconnects a client that stops reading instead of buffering for it without bound", async () => {
    const limit = 256 * 1024;
    const [{ server, held }, close] = await startServer({ maxWsBufferedBytes: limit });
    const [client, closeClient] = await connect(server.wsUrl);
    client.ws.send(JSON.stringify(call("test_hold", [], 1)));
    await client.next();
    const conn = held[0]!;
    let closes = 0;
    conn.onClose(() => closes++);

    (client.ws as unknown as { _socket: Socket })._socket.pause();
    const payload = "x".repeat(64 * 1024);
    let sent = 0;
    // the kernel's socket buffers take a few MiB first; the bound keeps a failure from looping on
    while (conn.notify("test_flood", { n: sent, payload })) {
      sent++;
      if (sent > 4000) throw new Error(`still connected after ${sent} notifications of 64 KiB`);
      await tick();
    }
    expect(sent).toBeGreaterThan(0);
    expect(closes).toBe(1);
    expect(conn.notify("test_flood", {})).toBe(false);
    closeClient();
    expect((await post(server, call("test_echo", ["alive"]))).body).toEqual({ jsonrpc: "2.0", id: 1, result: "alive" });
    await close();
  });

  it("cuts off a client that floods pings without reading the pongs, as one that does not read its answers", async () => {
    const [{ server, held }, close] = await startServer({ maxWsBufferedBytes: 256 * 1024 });
    const [client, closeClient] = await connect(server.wsUrl);
    client.ws.send(JSON.stringify(call("test_hold", [], 1)));
    await client.next();
    let closes = 0;
    held[0]!.onClose(() => closes++);
    (client.ws as unknown as { _socket: Socket })._socket.pause();
    const payload = Buffer.alloc(125);
    let sent = 0;
    // each ping makes the server queue a pong; ws cuts the client off at 60 pongs it cannot send
    while (closes === 0) {
      for (let i = 0; i < 1000; i++) client.ws.ping(payload);
      sent += 1000;
      if (sent > 1_000_000) throw new Error(`still connected after ${sent} pings (${sent * 127} bytes of pongs queued)`);
      await tick();
    }
    expect(closes).toBe(1);
    closeClient();
    expect((await post(server, call("test_echo", ["alive"]))).body).toEqual({ jsonrpc: "2.0", id: 1, result: "alive" });
    await close();
  });

  it("closes every WebSocket when stopped, cutting off one that does not answer", async () => {
    const [{ server }, close] = await startServer();
    const [a] = await connect(server.wsUrl);
    const [b] = await connect(server.wsUrl);
    const [deaf, closeDeaf] = await connect(server.wsUrl);
    (deaf.ws as unknown as { _socket: Socket })._socket.pause();
    const started = Date.now();
    await close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).code).toBe(1001);
    closeDeaf();
  });
});

describe("RpcServer under malformed input", () => {
  const json = fc.jsonValue({ maxDepth: 3 });
  const id = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 }), json);
  // the slow and waiting test methods are left out: random params must not make runs wait
  const method = fc.oneof(
    fc.constantFrom("test_echo", "test_reject", "test_crash", "test_bigint", "rpc.discover", "constructor", "__proto__", "toString"),
    fc.string(),
    json,
  );
  const params = fc.oneof(fc.array(json, { maxLength: 4 }), json);
  const request = fc.record(
    { jsonrpc: fc.oneof({ weight: 4, arbitrary: fc.constant("2.0") }, { weight: 1, arbitrary: json }), id, method, params },
    { requiredKeys: [] },
  );
  const nested = (n: number, inner = ""): string => "[".repeat(n) + inner + "]".repeat(n);
  const body = fc.oneof(
    request.map((r) => JSON.stringify(r)),
    fc.array(request, { maxLength: 20 }).map((rs) => JSON.stringify(rs)),
    json.map((v) => JSON.stringify(v)),
    fc.string({ unit: "binary", maxLength: 200 }),
    fc.tuple(request, fc.nat()).map(([r, k]) => {
      const s = JSON.stringify(r);
      return s.slice(0, k % (s.length + 1));
    }),
    fc.integer({ min: 1, max: 100_000 }).map((n) => nested(n)),
    fc.integer({ min: 1, max: 100_000 }).map((n) => `{"jsonrpc":"2.0","id":1,"method":"test_echo","params":[${nested(n, "1")}]}`),
    fc.constantFrom(
      "1e400",
      "-0",
      "123456789012345678901234567890",
      '{"jsonrpc":"2.0","id":1e400,"method":"test_echo","params":[1e400]}',
      '{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"test_echo","params":[-1e-400]}',
      '{"__proto__":{"jsonrpc":"2.0"},"id":1,"method":"test_echo"}',
      '{"jsonrpc":"2.0","id":1,"method":"test_echo","params":[{"__proto__":{"polluted":true}}]}',
      '{"jsonrpc":"2.0","id":1,"method":"test_echo","params":{"length":1e9}}',
      `[${Array.from({ length: 1000 }, () => "1").join(",")}]`,
      "\u0000\uffff\ud800",
    ),
  );

  /** Every answer is JSON-RPC 2.0: an object (or a non-empty array of them) with an id and one of result/error. */
  function checkAnswer(text: string): void {
    const parsed: unknown = JSON.parse(text);
    const answers = Array.isArray(parsed) ? parsed : [parsed];
    expect(answers.length).toBeGreaterThan(0);
    for (const a of answers as Record<string, unknown>[]) {
      expect(a.jsonrpc).toBe("2.0");
      expect(Object.hasOwn(a, "id")).toBe(true);
      expect(Object.hasOwn(a, "result") !== Object.hasOwn(a, "error")).toBe(true);
      if (a.error) expect(Number.isInteger((a.error as { code: unknown }).code)).toBe(true);
    }
  }

  it("answers random and malformed bodies with JSON-RPC and keeps serving", async () => {
    const [{ server }, close] = await startServer();
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const res = await fetch(server.url, { method: "POST", headers: JSON_HEADERS, body: text });
        const answer = await res.text();
        if (res.status === 204) expect(answer).toBe("");
        else {
          expect(res.status).toBe(200);
          checkAnswer(answer);
        }
      }),
      { numRuns: 400, interruptAfterTimeLimit: 8000 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const [client, closeClient] = await connect(server.wsUrl);
    const samples = fc.sample(body, { numRuns: 200, seed: 1984 });
    for (const text of samples) client.ws.send(text);
    const last = randomUUID();
    client.ws.send(JSON.stringify(call("test_echo", ["after the storm"], last)));
    for (;;) {
      const m = (await client.next()) as { id?: unknown };
      checkAnswer(JSON.stringify(m));
      if (m.id === last) {
        expect(m).toEqual({ jsonrpc: "2.0", id: last, result: "after the storm" });
        break;
      }
    }
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    closeClient();

    expect((await post(server, call("test_echo", ["still answering"], 42))).body).toEqual({
      jsonrpc: "2.0",
      id: 42,
      result: "still answering",
    });
    await close();
  });
});

/** A raw TCP client that writes `text` and never finishes its request unless told to. */
interface RawClient {
  socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves with the milliseconds from connecting until the server closed the connection. */
  closed: Promise<number>;
}

function rawClient(port: number, text: string): RawClient {
  const started = Date.now();
  const socket = createConnection({ host: "127.0.0.1", port }, () => {
    if (text) socket.write(text);
  });
  let received = "";
  socket.on("data", (d) => (received += d.toString()));
  socket.on("error", () => undefined);
  const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now() - started)));
  return { socket, received: () => received, closed };
}

describe("RpcServer under hostile clients", () => {
  it("cuts off requests that never finish (slow loris) with 408 after requestTimeoutMs, serving others meanwhile", async () => {
    const [{ server }, close] = await startServer({ requestTimeoutMs: 500 });
    const silent = rawClient(server.port, "");
    const endlessHeaders = rawClient(server.port, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const endlessBody = rawClient(
      server.port,
      'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"jsonrpc"',
    );
    const trickle = rawClient(server.port, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[");
    const dripping = setInterval(() => {
      if (!trickle.socket.destroyed) trickle.socket.write(" ");
    }, 50);
    try {
      expect((await post(server, call("test_echo", ["meanwhile"]))).body).toEqual({ jsonrpc: "2.0", id: 1, result: "meanwhile" });
      const lasted = await Promise.all([silent, endlessHeaders, endlessBody, trickle].map((c) => c.closed));
      for (const ms of lasted) {
        expect(ms).toBeGreaterThanOrEqual(400);
        expect(ms).toBeLessThan(3000);
      }
      for (const c of [silent, endlessHeaders, endlessBody, trickle]) expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(dripping);
    }
    expect((await post(server, call("test_echo", ["after"]))).body).toEqual({ jsonrpc: "2.0", id: 1, result: "after" });
    // the deadline is for receiving the request: a call that runs longer is still answered
    expect((await post(server, call("test_sleep", [1000]))).body).toEqual({ jsonrpc: "2.0", id: 1, result: 1000 });
    await close();
  });

  it("closes an HTTP connection whose client stops reading its answers, after idleTimeoutMs", async () => {
    const [{ server }, close] = await startServer({ idleTimeoutMs: 500 });
    // five pipelined batches of about 4 MB of answer each: more than the kernel's socket buffers take
    const batch = JSON.stringify(Array.from({ length: 200 }, (_, i) => call("test_echo", ["y".repeat(20_000)], i)));
    const request = `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(batch)}\r\n\r\n${batch}`;
    const reader = rawClient(server.port, request.repeat(5));
    reader.socket.pause();
    await delay(1500);
    reader.socket.resume();
    expect(await reader.closed).toBeLessThan(10_000);
    // cut off with answers still unsent (a client that keeps reading gets all five)
    expect(reader.received().match(/HTTP\/1\.1 200 /g)?.length ?? 0).toBeLessThan(5);
    expect((await post(server, call("test_echo", ["others still served"]))).body).toEqual({ jsonrpc: "2.0", id: 1, result: "others still served" });
    await close();
  });

  it("refuses a body declared larger than the limit at once, without waiting for it", async () => {
    const [{ server }, close] = await startServer();
    const big = rawClient(server.port, `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n[`);
    expect(await big.closed).toBeLessThan(2000);
    expect(big.received()).toMatch(/^HTTP\/1\.1 413 /);
    expect(big.received()).toContain('"code":-32005');
    await close();
  });

  it("refuses a POST without a content type or with a form type with HTTP 415", async () => {
    const [{ server }, close] = await startServer();
    const bare = await fetch(server.url, { method: "POST", body: new Blob([JSON.stringify(call("test_echo", ["x"]))]) });
    expect(bare.status).toBe(415);
    expect(errorOf(await bare.json()).code).toBe(RpcErrorCode.INVALID_REQUEST);
    const form = new FormData();
    form.set("jsonrpc", "2.0");
    const multipart = await fetch(server.url, { method: "POST", body: form });
    expect(multipart.status).toBe(415);
    await close();
  });

  it("refuses a compressed body with HTTP 415 instead of parsing it as JSON", async () => {
    const [{ server }, close] = await startServer();
    const body = gzipSync(JSON.stringify(call("test_echo", ["x"])));
    for (const encoding of ["gzip", "br, gzip", "x-unknown"]) {
      const res = await fetch(server.url, { method: "POST", headers: { ...JSON_HEADERS, "content-encoding": encoding }, body });
      expect(res.status).toBe(415);
      const error = errorOf(await res.json());
      expect(error.code).toBe(RpcErrorCode.INVALID_REQUEST);
      expect(error.message).toBe("invalid request: content encodings are not supported, send the body uncompressed");
    }
    const plain = await fetch(server.url, {
      method: "POST",
      headers: { ...JSON_HEADERS, "content-encoding": "identity" },
      body: JSON.stringify(call("test_echo", ["x"])),
    });
    expect(plain.status).toBe(200);
    await close();
  });

  it("closes TCP connections beyond maxConnections and serves the ones it holds", async () => {
    const [{ server }, close] = await startServer({ maxConnections: 2 });
    const held = [rawClient(server.port, ""), rawClient(server.port, "")];
    await delay(100);
    const extra = rawClient(server.port, "");
    expect(await extra.closed).toBeLessThan(2000);
    expect(extra.received()).toBe("");
    const body = JSON.stringify(call("test_echo", ["x"]));
    held[0]!.socket.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    for (let i = 0; i < 40 && !held[0]!.received().includes('"result":"x"'); i++) await delay(50);
    expect(held[0]!.received()).toContain('"result":"x"');
    for (const c of held) c.socket.destroy();
    await close();
  });

  it("answers other paths and methods in JSON-RPC form: 404, and 405 naming the allowed methods", async () => {
    const [{ server }, close] = await startServer();
    const missing = await fetch(`${server.url}nope?x=${"y".repeat(500)}`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await missing.json()).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: RpcErrorCode.INVALID_REQUEST, message: "invalid request: no such path, POST JSON-RPC to /" },
    });
    const put = await fetch(server.url, { method: "PUT", headers: JSON_HEADERS, body: "{}" });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, POST, OPTIONS");
    expect(errorOf(await put.json()).message).toBe("invalid request: method PUT not allowed, POST JSON-RPC to /");
    await close();
  });

  it("refuses JSON nested deeper than maxJsonDepth before parsing it, over HTTP and WebSocket", async () => {
    const [{ server }, close] = await startServer();
    const nest = (levels: number): unknown => (levels === 0 ? 1 : [nest(levels - 1)]);
    // the request object is level 1 and params level 2: 62 more levels make 64 in all
    const atLimit = await post(server, call("test_echo", [nest(62)]));
    expect(atLimit.body).toEqual({ jsonrpc: "2.0", id: 1, result: nest(62) });
    const refused = {
      jsonrpc: "2.0",
      id: null,
      error: { code: RpcErrorCode.LIMIT_EXCEEDED, message: "request nested deeper than the limit of 64 levels" },
    };
    expect((await post(server, call("test_echo", [nest(63)]))).body).toEqual(refused);
    // a batch is a level too
    expect((await post(server, [call("test_echo", [nest(62)])])).body).toEqual(refused);
    // brackets inside strings are text, escaped quotes included
    const text = `\\"${"[".repeat(5000)}{`;
    expect((await post(server, call("test_echo", [text]))).body).toEqual({ jsonrpc: "2.0", id: 1, result: text });
    // a whole body of brackets: refused without parsing (JSON.parse would hold the event loop for about a second)
    const half = 2 * 1024 * 1024;
    const deep = await post(server, `{"jsonrpc":"2.0","id":1,"method":"test_echo","params":${"[".repeat(half)}${"]".repeat(half)}}`);
    expect(deep.body).toEqual(refused);

    const [client, closeClient] = await connect(server.wsUrl);
    client.ws.send(JSON.stringify(call("test_echo", [nest(63)])));
    expect(await client.next()).toEqual(refused);
    client.ws.send(JSON.stringify(call("test_echo", ["still open"], 2)));
    expect(await client.next()).toEqual({ jsonrpc: "2.0", id: 2, result: "still open" });
    closeClient();
    await close();
  });

  it("answers each non-object in a batch with -32600 in its place, and the calls beside them", async () => {
    const [{ server }, close] = await startServer();
    const res = await post(server, [1, "x", null, [], [call("test_echo", ["inner"])], call("test_echo", ["ok"], 7), true]);
    const invalid = {
      jsonrpc: "2.0",
      id: null,
      error: { code: RpcErrorCode.INVALID_REQUEST, message: "invalid request: expected a JSON-RPC request object" },
    };
    expect(res.body).toEqual([invalid, invalid, invalid, invalid, invalid, { jsonrpc: "2.0", id: 7, result: "ok" }, invalid]);
    const onlyJunk = await post(server, Array.from({ length: 1000 }, (_, i) => i));
    expect((onlyJunk.body as unknown[]).length).toBe(1000);
    expect((onlyJunk.body as unknown[]).every((a) => JSON.stringify(a) === JSON.stringify(invalid))).toBe(true);
    await close();
  });

  it("answers binary WebSocket frames as UTF-8 JSON, -32700 for garbage, and closes 1007 on invalid UTF-8 text", async () => {
    const [{ server }, close] = await startServer();
    const [client, closeClient] = await connect(server.wsUrl);
    client.ws.send(Buffer.from(JSON.stringify(call("test_echo", ["binary"]))), { binary: true });
    expect(await client.next()).toEqual({ jsonrpc: "2.0", id: 1, result: "binary" });
    client.ws.send(Buffer.from([0x00, 0xff, 0x80, 0x7b]), { binary: true });
    expect(await client.next()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: RpcErrorCode.PARSE_ERROR } });
    client.ws.send("not json at all");
    expect(errorOf(await client.next()).message).toMatch(/^parse error: /);
    client.ws.send(Buffer.from([0x22, 0xc3, 0x28, 0x22]), { binary: false });
    expect((await client.closed).code).toBe(1007);
    closeClient();
    expect((await post(server, call("test_echo", ["alive"]))).body).toEqual({ jsonrpc: "2.0", id: 1, result: "alive" });
    await close();
  });

  it("refuses WebSocket upgrades beyond maxWsConnections with HTTP 503, and takes new ones once some close", async () => {
    const [{ server, metrics }, close] = await startServer({ maxWsConnections: 2 });
    const [, closeA] = await connect(server.wsUrl);
    const [b, closeB] = await connect(server.wsUrl);
    expect(await refusedUpgrade(server.wsUrl, {})).toBe(503);
    // HTTP is not affected
    expect((await post(server, call("test_echo", ["http"]))).body).toEqual({ jsonrpc: "2.0", id: 1, result: "http" });
    b.ws.close();
    await b.closed;
    for (let i = 0; i < 100 && metrics.open !== 1; i++) await delay(10);
    const [c, closeC] = await connect(server.wsUrl);
    c.ws.send(JSON.stringify(call("test_echo", ["third"])));
    expect(await c.next()).toEqual({ jsonrpc: "2.0", id: 1, result: "third" });
    for (const fn of [closeA, closeB, closeC]) fn();
    await close();
  });

  it("pings WebSocket clients and cuts off one that stops answering (a vanished peer), keeping one that answers", async () => {
    const [{ server, held }, close] = await startServer({ wsPingIntervalMs: 100 });
    const [live, closeLive] = await connect(server.wsUrl);
    const [gone, closeGone] = await connect(server.wsUrl);
    gone.ws.send(JSON.stringify(call("test_hold")));
    await gone.next();
    const closedOnServer = new Promise<number>((resolve) => {
      const started = Date.now();
      held[0]!.onClose(() => resolve(Date.now() - started));
    });
    // a paused socket reads nothing, so it answers no ping, as a peer whose machine went away
    (gone.ws as unknown as { _socket: Socket })._socket.pause();
    expect(await closedOnServer).toBeLessThan(2000);
    await delay(300);
    live.ws.send(JSON.stringify(call("test_echo", ["pinged and here"])));
    expect(await live.next()).toEqual({ jsonrpc: "2.0", id: 1, result: "pinged and here" });
    closeLive();
    closeGone();
    await close();
  });

  it("runs at most maxWsPendingMessages messages of one WebSocket client at a time, answering other clients meanwhile", async () => {
    const [{ server }, close] = await startServer({ maxWsPendingMessages: 1 });
    const [greedy, closeGreedy] = await connect(server.wsUrl);
    const [other, closeOther] = await connect(server.wsUrl);
    const started = Date.now();
    for (const id of [1, 2, 3]) greedy.ws.send(JSON.stringify(call("test_sleep", [200], id)));
    other.ws.send(JSON.stringify(call("test_echo", ["not kept waiting"])));
    expect(await other.next()).toEqual({ jsonrpc: "2.0", id: 1, result: "not kept waiting" });
    const othersTurn = Date.now() - started;
    const answers = [await greedy.next(), await greedy.next(), await greedy.next()];
    // one after another: 3 x 200 ms, where running them together would take 200 ms
    expect(Date.now() - started).toBeGreaterThanOrEqual(590);
    expect(othersTurn).toBeLessThan(Date.now() - started);
    expect(answers).toEqual([1, 2, 3].map((id) => ({ jsonrpc: "2.0", id, result: 200 })));
    greedy.ws.send(JSON.stringify(call("test_echo", ["read again"], 4)));
    expect(await greedy.next()).toEqual({ jsonrpc: "2.0", id: 4, result: "read again" });
    closeGreedy();
    closeOther();
    await close();
  });

  it("answers OPTIONS without an Origin (not a browser) with 204 and the allowed methods", async () => {
    const [{ server }, close] = await startServer();
    const res = await fetch(server.url, { method: "OPTIONS" });
    expect(res.status).toBe(204);
    expect(res.headers.get("allow")).toBe("GET, POST, OPTIONS");
    await close();
  });

  it("takes allowed origins spelled with a trailing slash or capitals as browsers send them", async () => {
    const [{ server }, close] = await startServer({ corsOrigins: ["HTTP://App.Example:5173/"] });
    const res = await post(server, call("test_echo", ["x"]), { ...JSON_HEADERS, origin: "http://app.example:5173" });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://app.example:5173");
    await close();
  });
});
