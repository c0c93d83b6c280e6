import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import WebSocket from "ws";
import { devAccount } from "../../node/devAccounts.js";
import type { VsNode } from "../../node/node.js";
import { RpcErrorCode } from "../../rpc/rpcError.js";
import { startTestNode } from "../helpers/node.js";

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

describe("vs_subscribe options that do not apply to the kind", () => {
  let node: VsNode;
  beforeAll(async () => {
    const [n, close] = await startTestNode({ mine: false });
    closers.push(close);
    node = n;
  });

  it("refuses {author} for keyDelivered and {buyer} for contentPublished instead of subscribing wider than asked", async () => {
    const ws = new WebSocket(node.rpc!.wsUrl);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    const answers = new Map<number, { result?: unknown; error?: { code: number; message: string } }>();
    ws.on("message", (d) => {
      const m = JSON.parse(String(d)) as { id?: number; result?: unknown; error?: { code: number; message: string } };
      if (m.id !== undefined) answers.set(m.id, m);
    });
    const request = async (id: number, params: unknown[]): Promise<{ result?: unknown; error?: { code: number; message: string } }> => {
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method: "vs_subscribe", params }));
      for (let i = 0; i < 500; i++) {
        const m = answers.get(id);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`no answer to request ${id}`);
    };
    try {
      const address = devAccount(1).address;
      expect((await request(1, ["keyDelivered", { author: address }])).error).toEqual({
        code: RpcErrorCode.INVALID_PARAMS,
        message: "invalid argument 1: keyDelivered takes {buyer}, not author",
      });
      expect((await request(2, ["contentPublished", { buyer: address }])).error).toEqual({
        code: RpcErrorCode.INVALID_PARAMS,
        message: "invalid argument 1: contentPublished takes {author}, not buyer",
      });
      // the matching field, and null for the other one, still subscribe
      expect((await request(3, ["keyDelivered", { buyer: address, author: null }])).result).toMatch(/^0x[0-9a-f]+$/);
      expect((await request(4, ["contentPublished", { author: address }])).result).toMatch(/^0x[0-9a-f]+$/);
    } finally {
      ws.close();
    }
  });
});
