import { MethodRegistry, RpcError, RpcServer } from "../../rpc/index.js";
import { expectValidResult, hasSpec } from "./spec.js";

/** A JSON-RPC call over HTTP; error answers reject with an RpcError carrying code, message and data. */
export type RpcCall = (name: string, ...params: unknown[]) => Promise<unknown>;

/** Calls `url` with plain JSON-RPC POSTs (no client library), checking spec-defined eth_ answers. */
export function httpCall(url: string): RpcCall {
  let id = 0;
  return async (method, ...params) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
    });
    const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string; data?: unknown } };
    if (body.error) throw new RpcError(body.error.code, body.error.message, body.error.data);
    if (hasSpec(method)) expectValidResult(method, body.result);
    return body.result;
  };
}

/**
 * Serves `registry` on 127.0.0.1 at a random port (the real server, started on the first call) and
 * returns a call over HTTP plus its closer.
 */
export function serveRegistry(registry: MethodRegistry): [RpcCall, () => Promise<void>] {
  const server = new RpcServer({ host: "127.0.0.1", port: 0 }, { registry });
  const started = server.start();
  let call: RpcCall | null = null;
  return [
    async (method, ...params) => {
      await started;
      call ??= httpCall(server.url);
      return call(method, ...params);
    },
    () => server.stop(),
  ];
}

/** The RpcError a call rejects with (fails the test if it resolves or rejects otherwise). */
export async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RpcError) return e;
    throw e;
  }
  throw new Error("expected the call to fail with an RpcError");
}
