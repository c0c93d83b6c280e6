import { afterAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, readdir, truncate, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo, type Server } from "node:net";
import { join } from "node:path";
import { Bucket, RocksStore, bucketKey, loadGenesis } from "../../chain/index.js";
import { runCli } from "../helpers/cli.js";
import { writeKeystore } from "../../node/keystore.js";
import { devWallet, keyOf, openLedger, tempDir } from "../helpers/ledger.js";

// What `vs1984 node` says when it is started wrongly: exit code 1 and one line naming the problem,
// never a stack trace. (Genesis files and keystores: cli.test.ts and the genesis/keystore unit tests.)

const ROOT = join(new URL(".", import.meta.url).pathname, "../..");
// jest's --experimental-vm-modules is not for the child processes
const NO_JEST_FLAGS = { NODE_OPTIONS: "" };

/** A well-formed Guard ID (nobody's). */
const GUARD_ID = "12D3KooWDsD9RFAfvD8RF62NDbe5YDmLykHLBT3cM4cTYBRqMRrf";

const closers: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

function scratch(): string {
  const [dir, remove] = tempDir("vs1984-bad-input-");
  closers.push(remove);
  return dir;
}

interface Run {
  code: number | null;
  output: string;
}

/** Runs `vs1984 <args>` to the end (it must stop by itself within 20 s). */
async function vs1984(args: string[]): Promise<Run> {
  const cli = runCli(args, NO_JEST_FLAGS);
  cli.child.stdin.end();
  const timer = setTimeout(() => cli.child.kill("SIGKILL"), 20_000);
  const code = await cli.exited();
  clearTimeout(timer);
  return { code, output: cli.output() };
}

/** The run failed with exit code 1, its last line `error: …` matching `pattern`, and no stack trace anywhere. */
function expectOneLineError(run: Run, pattern: RegExp): void {
  expect(run.code).toBe(1);
  const lines = run.output.trimEnd().split("\n");
  expect(lines.at(-1)).toMatch(/^error: /);
  expect(lines.at(-1)).toMatch(pattern);
  expect(lines.filter((l) => l.startsWith("error:"))).toHaveLength(1);
  expect(run.output).not.toMatch(/\n\s+at /);
  expect(run.output).not.toMatch(/\\n\s+at /); // nor one inside a JSON log line
}

/** A TCP server holding a free port of 127.0.0.1; its port. */
async function takePort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** A node on the dev chain that stops at the first problem (no RPC, no P2P, no mining unless overridden). */
function devNode(datadir: string, ...more: string[]): string[] {
  return ["node", "--dev", "--datadir", datadir, "--no-mine", "--no-rpc", "--no-p2p", ...more];
}

describe("vs1984 node refuses option values before it touches the data dir", () => {
  it.each([
    [["--rpc.port", ""], /--rpc\.port.*must be a port number/],
    [["--rpc.port", "0x10"], /--rpc\.port.*must be a port number/],
    [["--p2p.port", "1e3"], /--p2p\.port.*must be a port number/],
    [["--p2p.port", "65536"], /--p2p\.port.*must be a port number/],
    [["--maxpeers", "1e3"], /--maxpeers.*must be a positive integer/],
    [["--maxpeers", "99999999999999999999"], /--maxpeers.*must be a positive integer/],
    [["--content.confirmations", " 3"], /--content\.confirmations.*must be a positive integer/],
    [["--log.level", "loud"], /--log\.level.*Allowed choices are fatal, error, warn, info, debug, trace/],
    [["--p2p.addr", "notanip"], /--p2p\.addr.*must be an IPv4 address/],
    [["--bootnodes", "/ip4/127.0.0.1/tcp/1/p2p/abc"], /--bootnodes.*"abc" is not a Guard ID/],
    [["--bootnodes", `/ip4/127.0.0.1/udp/1/p2p/${GUARD_ID}`], /--bootnodes.*is not a multiaddr \/ip4\/<ip>\/tcp\/<port>\/p2p\/<GuardID>: not of that shape/],
    [["--bootnodes", `/p2p/${GUARD_ID}`], /--bootnodes.*not of that shape/],
    [["--bootnodes", ",,"], /--bootnodes.*must list at least one multiaddr/],
  ])("%j", async (args, pattern) => {
    const dir = join(scratch(), "data");
    const run = await vs1984(devNode(dir, ...args));
    expectOneLineError(run, pattern);
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
  });
});

describe("a genesis file that is not a file to read", () => {
  it("is refused without reading it: a device, a pipe with no writer, a file over 64 MiB", async () => {
    const dir = scratch();
    const fifo = join(dir, "pipe.json");
    execFileSync("mkfifo", [fifo]);
    const huge = join(dir, "huge.json");
    await writeFile(huge, "");
    await truncate(huge, 64 * 1024 * 1024 + 1); // sparse: nothing is written
    expectOneLineError(await vs1984(["genesis", "check", "/dev/zero"]), /cannot read genesis file "\/dev\/zero": not a regular file/);
    expectOneLineError(await vs1984(["genesis", "check", fifo]), /cannot read genesis file ".*pipe\.json": not a regular file/);
    expectOneLineError(await vs1984(["genesis", "check", huge]), /cannot read genesis file ".*huge\.json": 67108865 bytes, more than the 67108864/);
    expectOneLineError(await vs1984(["node", "--genesis", fifo, "--datadir", join(dir, "data")]), /cannot read genesis file ".*pipe\.json": not a regular file/);
  });
});

describe("vs1984 content with files it cannot use", () => {
  it("refuses a missing file, a device and an oversized payload file before asking for a password", async () => {
    const dir = scratch();
    const huge = join(dir, "huge.bin");
    await writeFile(huge, "");
    await truncate(huge, 16 * 1024 * 1024 + 1);
    // no --password-file and no terminal: reaching the password would fail with "no password"
    const account = ["--keystore", join(dir, "none.json")];
    expectOneLineError(await vs1984(["content", "publish", "/dev/zero", "--price", "1", "--subchain", "posts", ...account]), /cannot read the file to publish \/dev\/zero: not a regular file/);
    expectOneLineError(await vs1984(["content", "publish", join(dir, "none.md"), "--price", "1", "--subchain", "posts", ...account]), /cannot read the file to publish .*none\.md: ENOENT/);
    expectOneLineError(await vs1984(["content", "get", "1", "--out", join(dir, "out"), "--payload", "/dev/zero", ...account]), /cannot read the payload file \/dev\/zero: not a regular file/);
    expectOneLineError(await vs1984(["content", "get", "1", "--out", join(dir, "out"), "--payload", huge, ...account]), /the payload file .*huge\.bin is larger than any payload/);
  });
});

describe("vs1984 node with a miner keystore it cannot open", () => {
  it("names a wrong password, a truncated file and a missing one", async () => {
    const dir = scratch();
    const { file } = await writeKeystore(join(dir, "keystore"), keyOf(devWallet(9)), "right", { scryptN: 1024 });
    await writeFile(join(dir, "wrong.txt"), "wrong\n");
    const truncated = join(dir, "truncated.json");
    await writeFile(truncated, (await readFile(file, "utf8")).slice(0, 100));
    const withKeystore = (keystore: string): string[] => devNode(join(dir, "data"), "--mine", "--miner.keystore", keystore, "--password-file", join(dir, "wrong.txt"));
    expectOneLineError(await vs1984(withKeystore(file)), /^error: wrong password for keystore .*UTC--/);
    expectOneLineError(await vs1984(withKeystore(truncated)), /^error: keystore .*truncated\.json is malformed: not valid JSON/);
    expectOneLineError(await vs1984(withKeystore(join(dir, "none.json"))), /^error: cannot read keystore .*none\.json: ENOENT/);
    // refused before the data dir is made
    await expect(readdir(join(dir, "data"))).rejects.toThrow(/ENOENT/);
  });
});

describe("vs1984 node on a data dir it cannot use", () => {
  it("says so when the data dir, or its chain folder, is a file", async () => {
    const dir = scratch();
    await writeFile(join(dir, "file"), "not a folder");
    expectOneLineError(await vs1984(devNode(join(dir, "file"))), /data dir .*file cannot be used: .*file is a file, not a folder/);
    expectOneLineError(await vs1984(devNode(join(dir, "file", "below"))), /data dir .*below cannot be used: .*file is a file, not a folder/);
    await mkdir(join(dir, "d"));
    await writeFile(join(dir, "d", "chain"), "");
    expectOneLineError(await vs1984(devNode(join(dir, "d"))), /data dir .*d cannot be used: .*chain is a file, not a folder/);
  });

  it("says so for the wallet and guard commands too, before asking for anything", async () => {
    const dir = scratch();
    const file = join(dir, "file");
    await writeFile(file, "not a folder");
    const pattern = /data dir .*file(\/below)? cannot be used: .*file is a file, not a folder/;
    for (const args of [
      ["wallet", "list", "--datadir", file],
      ["wallet", "new", "--datadir", join(file, "below")],
      ["wallet", "import", "--datadir", file],
      ["wallet", "send", "--to", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "--value", "1", "--datadir", file],
      ["guard", "show", "--datadir", file],
      ["guard", "rotate", "--datadir", file],
    ]) {
      expectOneLineError(await vs1984(args), pattern);
    }
  });

  it("names a data dir another node holds, and leaves that node's chain alone", async () => {
    const dir = scratch();
    const [ledger, close] = await openLedger(await loadGenesis(join(ROOT, "genesis", "dev.json")), { datadir: dir });
    closers.push(close);
    const run = await vs1984(devNode(dir));
    expectOneLineError(run, new RegExp(`a node is running on ${dir} \\(its chain database is locked\\): stop it, or use another data dir`));
    expect(ledger.chain.head.header.number).toBe(0n);
    expect(await ledger.chain.getBlockByNumber(0n)).toBeDefined();
  });

  it.each([
    ["missing", null, "it has no head pointer"],
    ["too short", new Uint8Array([1, 2, 3]), "its head pointer is 3 bytes, not a 32-byte hash"],
    ["naming no stored block", new Uint8Array(32).fill(7), `its head pointer names 0x${"07".repeat(32)}, a block it does not hold`],
  ])("says the chain database is damaged when its head pointer is %s", async (_what, head, why) => {
    const dir = scratch();
    const [, close] = await openLedger(await loadGenesis(join(ROOT, "genesis", "dev.json")), { datadir: dir });
    await close();
    const store = new RocksStore({ path: join(dir, "chain") });
    await store.start();
    const key = bucketKey(Bucket.meta, new TextEncoder().encode("head"));
    await store.batch([head ? { type: "put", key, value: head } : { type: "del", key }]);
    await store.stop();
    const run = await vs1984(devNode(dir, "--mine"));
    expectOneLineError(run, /the chain database in .*chain is damaged \(.+\): restore it from a backup, or move it away/);
    expect(run.output).toContain(`is damaged (${why})`);
  });

  it("says the chain database is damaged when RocksDB finds it corrupt", async () => {
    const dir = scratch();
    const [, close] = await openLedger(await loadGenesis(join(ROOT, "genesis", "dev.json")), { datadir: dir });
    await close();
    await writeFile(join(dir, "chain", "CURRENT"), "garbage\n");
    expectOneLineError(await vs1984(devNode(dir)), /the chain database in .*chain is damaged \(RocksDB: Corruption: .+\): restore it from a backup/);
  });
});

describe("vs1984 node on a port it cannot have", () => {
  it("names the JSON-RPC address in use", async () => {
    const port = await takePort();
    const run = await vs1984(["node", "--dev", "--datadir", scratch(), "--no-mine", "--no-p2p", "--rpc.port", String(port)]);
    expectOneLineError(run, new RegExp(`cannot serve JSON-RPC on 127\\.0\\.0\\.1:${port}: the port is in use .*--rpc\\.port`));
  });

  it("names the P2P address in use", async () => {
    const port = await takePort();
    const run = await vs1984(["node", "--dev", "--datadir", scratch(), "--no-mine", "--no-rpc", "--p2p.port", String(port)]);
    expectOneLineError(run, new RegExp(`cannot serve P2P on 127\\.0\\.0\\.1:${port}: the port is in use .*--p2p\\.port`));
  });

  it("names an RPC host that does not resolve", async () => {
    const run = await vs1984(["node", "--dev", "--datadir", scratch(), "--no-mine", "--no-p2p", "--rpc.addr", "no-such-host.invalid"]);
    expectOneLineError(run, /cannot serve JSON-RPC on no-such-host\.invalid:8545: the host name does not resolve/);
  });
});

describe("a reader that goes away", () => {
  it("ends a command quietly with exit code 0, as Unix tools do (vs1984 … | head)", async () => {
    const cli = runCli(["guard", "show", "--datadir", join(scratch(), "data")], NO_JEST_FLAGS);
    cli.child.stdout.destroy(); // closed before the first line is written
    cli.child.stdin.end();
    expect(await cli.exited()).toBe(0);
    expect(cli.output()).not.toMatch(/EPIPE|\n\s+at /);
  });
});
