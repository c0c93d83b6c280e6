import { afterAll, describe, expect, it } from "@jest/globals";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { JsonRpcClient } from "../../node/cli/mine.js";
import { tempDir } from "../helpers/ledger.js";

const ROOT = join(new URL(".", import.meta.url).pathname, "../..");
const NODES = 3;

/** True when nothing listens on 127.0.0.1:port. */
function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => done(true)));
  });
}

/** A base port whose RPC (base+i) and P2P (base+100+i) ports are free now. */
async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: NODES }, (_, i) => [base + i, base + 100 + i]).flat();
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error("no free port range found");
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value other than undefined (rejects after `timeoutMs`). */
async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await sleep(500);
  }
}

/** Whether a process with this pid still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let script: ChildProcessWithoutNullStreams | null = null;
let output = "";
/** Pids of the node processes, from the script's "nodeN started (pid P)" lines. */
const nodePids = (): number[] => [...output.matchAll(/node\d+ started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
const [dir, removeDir] = tempDir("vs1984-devnet-");

afterAll(async () => {
  // nothing may outlive a failed run
  if (script && script.exitCode === null && script.signalCode === null) script.kill("SIGKILL");
  for (const pid of nodePids()) if (alive(pid)) process.kill(pid, "SIGKILL");
  await sleep(200);
  removeDir();
});

describe("npm run devnet", () => {
  it("runs 3 nodes that agree on one chain mined by two miners, and Ctrl-C stops them all", async () => {
    const base = await freeBasePort();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(ROOT, "scripts", "devnet.ts"), "--nodes", String(NODES), "--fresh", "--datadir", join(dir, "devnet"), "--base-port", String(base)],
      // jest's --experimental-vm-modules is not for the child processes
      { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: "" } },
    );
    script = child;
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const rpc = Array.from({ length: NODES }, (_, i) => new JsonRpcClient(`http://127.0.0.1:${base + i}`, 2_000));
    try {
      // every node up, connected, and at the same head >= 3
      const head = await until("the nodes to agree on a head >= 3", 60_000, async () => {
        const heads = await Promise.all(rpc.map((c) => c.call("eth_blockNumber") as Promise<string>));
        const peers = await Promise.all(rpc.map((c) => c.call("net_peerCount") as Promise<string>));
        if (peers.some((p) => BigInt(p) < 1n)) return undefined;
        if (new Set(heads).size !== 1 || BigInt(heads[0]!) < 3n) return undefined;
        // the same block at that height on the bootnode and on the last node
        const [b0, b2] = (await Promise.all([rpc[0]!.call("eth_getBlockByNumber", [heads[0], false]), rpc[2]!.call("eth_getBlockByNumber", [heads[0], false])])) as Array<{
          hash: string;
        } | null>;
        return b0 && b2 && b0.hash === b2.hash ? BigInt(heads[0]!) : undefined;
      });
      expect(head).toBeGreaterThanOrEqual(3n);
      // the table shows both miners
      expect(output).toMatch(/^node0 .*dev account 9/m);
      expect(output).toMatch(/^node1 .*dev account 8/m);
      expect(output).toMatch(/^node2 .* no$/m);
      // node0 (dev account 9) and node1 (dev account 8) both sealed blocks of the canonical chain
      const miners = await until("blocks by two miners", 20_000, async () => {
        const n = BigInt((await rpc[0]!.call("eth_blockNumber")) as string);
        const blocks = await Promise.all(
          Array.from({ length: Number(n) }, (_, i) => rpc[0]!.call("eth_getBlockByNumber", [`0x${(i + 1).toString(16)}`, false]) as Promise<{ miner: string }>),
        );
        const set = new Set(blocks.map((b) => b.miner.toLowerCase()));
        return set.size >= 2 ? set : undefined;
      });
      expect(miners.size).toBe(2);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- devnet output (tail) ---\n${output.slice(-4000)}`, { cause: e });
    }

    const pids = nodePids();
    expect(pids).toHaveLength(NODES);
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await exited;
    clearTimeout(timer);
    expect(code).toBe(0);
    expect(output).toContain("devnet | stopped");
    expect(pids.filter(alive)).toEqual([]);
    for (const c of rpc) await expect(c.call("eth_blockNumber")).rejects.toThrow(/cannot reach/);
  }, 90_000);
});
