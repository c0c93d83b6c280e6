import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { encryptKeystoreJson } from "ethers";
import { runCli, type CliProcess } from "../helpers/cli.js";
import { devAddress, devWallet, tempDir } from "../helpers/ledger.js";
import { httpCall } from "../helpers/rpcClient.js";

const running: CliProcess[] = [];
const cleanups: (() => void)[] = [];
let dir = "";
let password = "";
const keystores = new Map<number, string>();

beforeAll(async () => {
  const [d, remove] = tempDir();
  dir = d;
  cleanups.push(remove);
  password = join(dir, "password");
  writeFileSync(password, "correct horse\n", { mode: 0o600 });
  // a cheap KDF: the keystore's scrypt cost is not what these tests are about
  for (const i of [0, 7, 8]) {
    const w = devWallet(i);
    const file = join(dir, `key${i}.json`);
    writeFileSync(file, await encryptKeystoreJson({ address: w.address, privateKey: w.privateKey }, "correct horse", { scrypt: { N: 16 } }));
    keystores.set(i, file);
  }
});

afterAll(async () => {
  for (const p of running) await p.stop();
  for (const c of cleanups) c();
});

function cli(args: string[]): CliProcess {
  const p = runCli(args);
  running.push(p);
  return p;
}

function mine(url: string, account: number, extra: string[] = []): CliProcess {
  return cli(["mine", "--rpc", url, "--keystore", keystores.get(account)!, "--password-file", password, ...extra]);
}

/** The exit code, or "running" when the process is still alive after `ms`. */
async function exitWithin(p: CliProcess, ms: number): Promise<number | null | "running"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"running">((r) => (timer = setTimeout(() => r("running"), ms)));
  try {
    return await Promise.race([p.exited(), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function startNode(datadir: string, port: number): CliProcess {
  return cli(["node", "--dev", "--no-mine", "--datadir", datadir, "--rpc.port", String(port), "--p2p.port", "0"]);
}

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function errorLines(p: CliProcess): string[] {
  return p.output().split("\n").filter((l) => l.startsWith("error:"));
}

describe("`vs1984 mine` as people run it, against `vs1984 node --dev --no-mine`", () => {
  let url = "";
  let port = 0;
  let nodeDir = "";
  let node: CliProcess;
  const call = (method: string, ...params: unknown[]): Promise<unknown> => httpCall(url)(method, ...params);
  const head = async (): Promise<number> => Number(await call("eth_blockNumber"));

  beforeAll(async () => {
    port = await freePort();
    nodeDir = join(dir, "node");
    node = startNode(nodeDir, port);
    url = (await node.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/))[1]!;
    await node.waitFor(/"mining":false/);
  }, 40_000);

  it("refuses a key that is not an eligible miner at start: one error line, exit 1", async () => {
    const p = mine(url, 0);
    expect(await exitWithin(p, 20_000)).toBe(1);
    const errors = errorLines(p);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`${devAddress(0)} is not an eligible miner on this chain`);
    expect(p.output()).not.toContain("Mining as");
  }, 30_000);

  it("refuses a wrong keystore password and an unreachable node: one error line, exit 1", async () => {
    const wrong = join(dir, "wrong");
    writeFileSync(wrong, "not it\n", { mode: 0o600 });
    const badPassword = mine(url, 7, ["--password-file", wrong]);
    expect(await exitWithin(badPassword, 20_000)).toBe(1);
    expect(errorLines(badPassword)).toEqual([expect.stringContaining("wrong password for keystore")]);

    for (const bad of ["127.0.0.1:8545", "ws://127.0.0.1:8545"]) {
      const p = mine(bad, 7);
      expect(await exitWithin(p, 20_000)).toBe(1);
      expect(errorLines(p)).toEqual([expect.stringContaining(`argument '${bad}' is invalid. must be an http:// or https:// URL`)]);
      expect(p.output()).not.toContain("Password");
    }

    const unreachable = mine(`http://127.0.0.1:${await freePort()}`, 7);
    expect(await exitWithin(unreachable, 20_000)).toBe(1);
    expect(errorLines(unreachable)).toEqual([expect.stringMatching(/^error: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/)]);
  }, 45_000);

  it("two miners (dev accounts 7 and 8) both get blocks, the streak penalty shows in their targets, Ctrl-C exits 0", async () => {
    const start = await head();
    const m7 = mine(url, 7);
    const m8 = mine(url, 8);
    const minersOf = async (): Promise<string[]> => {
      const n = await head();
      const blocks = await Promise.all(Array.from({ length: n - start }, (_, i) => call("eth_getBlockByNumber", `0x${(start + i + 1).toString(16)}`, false)));
      return blocks.map((b) => (b as { miner: string }).miner.toLowerCase());
    };
    await until("blocks by both miners", async () => {
      const miners = await minersOf();
      return miners.includes(devAddress(7)) && miners.includes(devAddress(8));
    }, 90_000);
    // each reports its hashrate every 5 s; stopping withdraws it instead of counting for another minute
    await until("hashrate reports", async () => BigInt((await call("eth_hashrate")) as string) > 0n, 15_000);
    expect(await m7.stop()).toBe(0);
    expect(await m8.stop()).toBe(0);
    expect(await call("eth_hashrate")).toBe("0x0");
    expect(m7.output()).toMatch(/Stopped \(SIGINT\): [1-9]\d* block\(s\) found/);

    // with both idle, one head: the targets differ exactly by each miner's streak in the window
    const { streakWindow } = (await call("vs_workParams")) as { streakWindow: number };
    const n = await head();
    const window = await Promise.all(
      Array.from({ length: Math.min(streakWindow, n) }, (_, i) => call("eth_getBlockByNumber", `0x${(n - i).toString(16)}`, false)),
    );
    const streak = (i: number): number => window.filter((b) => (b as { miner: string }).miner.toLowerCase() === devAddress(i)).length;
    const target = async (i: number): Promise<bigint> => {
      const work = (await call("eth_getWork", devAddress(i))) as string[];
      expect(Number(work[3])).toBe(n + 1);
      return BigInt(work[2]!);
    };
    expect(streak(9)).toBe(0); // dev account 9 has not mined here: its target is the base one
    expect(streak(7) + streak(8)).toBe(window.length);
    // the base difficulty follows the template's timestamp: read until one second holds all three
    let targets: bigint[] = [];
    for (let tries = 0; tries < 5; tries++) {
      targets = [await target(9), await target(7), await target(8), await target(9)];
      if (targets[0] === targets[3]) break;
    }
    const [base, t7, t8, again] = targets;
    expect(again).toBe(base);
    expect(t7).toBe(base! >> BigInt(streak(7)));
    expect(t8).toBe(base! >> BigInt(streak(8)));
    expect(streak(7) > 0 || streak(8) > 0).toBe(true);
  }, 120_000);

  it("survives the node restarting: says so once, then mines on the restarted node", async () => {
    const m = mine(url, 7);
    await m.waitFor(/block \d+ accepted/, 60_000);
    expect(await node.stop()).toBe(0);
    // reset mid-answer ("other side closed", ECONNRESET) or refused, whichever comes first
    await m.waitFor(/cannot reach http:\/\/127\.0\.0\.1:\d+\/: (other side closed|ECONNRESET|ECONNREFUSED)/, 10_000);
    await new Promise((r) => setTimeout(r, 2500)); // a few retries while the node is away
    node = startNode(nodeDir, port);
    await node.waitFor(/"mining":false/, 40_000);
    const before = await head();
    await m.waitFor(/work again from http:\/\/127\.0\.0\.1:\d+\/ \(block \d+\)/, 20_000);
    await until("a block after the restart", async () => (await head()) > before, 60_000);
    // told once, not every second (a solution the node went away under is told apart, as not submitted)
    const outages = m.output().split("\n").filter((l) => l.includes("cannot reach") && !l.includes("not submitted"));
    expect(outages).toHaveLength(1);
    expect(m.child.exitCode).toBeNull();
    expect(await m.stop()).toBe(0);
  }, 150_000);
});

describe("`vs1984 mine` against a node that stops answering", () => {
  let server: Server;
  let url = "";
  let mode: "hang" | "lossy" = "hang";

  beforeAll(async () => {
    // answers vs_workParams like a dev node, then never answers eth_getWork (a paused or wedged node)
    server = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        const { id, method } = JSON.parse(body) as { id: number; method: string };
        const answer = (result: unknown): void => {
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify({ jsonrpc: "2.0", id, result }));
        };
        if (method === "vs_workParams") answer({ scrypt: { N: 16, r: 1, p: 1 }, streakWindow: 8, blockTime: 2, miners: [devAddress(7)] });
        // in "lossy" mode: work every hash solves, and a submission whose connection breaks
        else if (mode === "lossy" && method === "eth_getWork") answer([`0x${"11".repeat(32)}`, `0x${"00".repeat(12)}${devAddress(7).slice(2)}`, `0x${"ff".repeat(32)}`, "0x5"]);
        else if (mode === "lossy" && method === "eth_submitWork") req.socket.destroy();
        // else left hanging
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("stops promptly on SIGTERM with exit 0 while eth_getWork is unanswered", async () => {
    const m = mine(url, 7);
    await m.waitFor(/Mining as/, 20_000);
    await new Promise((r) => setTimeout(r, 500)); // eth_getWork is now in flight
    const t0 = Date.now();
    m.child.kill("SIGTERM");
    expect(await exitWithin(m, 5_000)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(m.output()).toContain("Stopped (SIGTERM): 0 block(s) found");
    expect(m.output()).not.toContain("cancelled");
  }, 30_000);

  it("does not count a submission lost with its connection as a block the node rejected", async () => {
    mode = "lossy";
    const m = mine(url, 7);
    await m.waitFor(/block 5 not submitted: cannot reach http:\/\/127\.0\.0\.1:\d+\/: other side closed/, 20_000);
    expect(await m.stop()).toBe(0);
    expect(m.output()).not.toMatch(/block \d+ rejected/);
    expect(m.output()).toMatch(/Stopped \(SIGINT\): 0 block\(s\) found, 0 rejected/);
  }, 30_000);
});
