import { afterAll, describe, expect, it } from "@jest/globals";
import { readFile, writeFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join, resolve } from "node:path";
import { listenMultiaddrs, nodeDatadir } from "../../node/cli/guard.js";
import { guardFiles, loadOrCreateGuard } from "../../p2p/index.js";
import { type CliProcess, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/ledger.js";

const ROOT = join(new URL(".", import.meta.url).pathname, "../..");
// jest's --experimental-vm-modules is not for the child processes
const NO_JEST_FLAGS = { NODE_OPTIONS: "" };

interface Run {
  code: number | null;
  stdout: string;
  output: string;
}

/** Runs `vs1984 <args>` to the end; its stdout alone (for JSON) and all its output. */
async function vs1984(args: string[]): Promise<Run> {
  const cli = runCli(args, NO_JEST_FLAGS);
  let stdout = "";
  cli.child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  cli.child.stdin.end();
  const code = await cli.exited();
  return { code, stdout, output: cli.output() };
}

interface ShowJson {
  guardId: string;
  onionPublicKey: string;
  listen: string[];
  listenAddr: string;
  datadir: string;
  created: boolean;
}

const closers: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

function datadir(): string {
  const [dir, remove] = tempDir("vs1984-guard-cli-");
  closers.push(remove);
  return join(dir, "data");
}

describe("vs1984 guard show", () => {
  it("--json prints the Guard ID the module loads, creating the identity on first use only", async () => {
    const dir = datadir();
    const first = await vs1984(["guard", "show", "--datadir", dir, "--json", "--p2p.addr", "127.0.0.1", "--p2p.port", "30303"]);
    expect(first.code).toBe(0);
    const shown = JSON.parse(first.stdout) as ShowJson;
    const { identity, created } = await loadOrCreateGuard(dir);
    expect(created).toBe(false);
    expect(shown).toEqual({
      guardId: identity.guardId,
      onionPublicKey: identity.onionPublicKeyHex,
      listen: [`/ip4/127.0.0.1/tcp/30303/p2p/${identity.guardId}`],
      listenAddr: "127.0.0.1",
      datadir: dir,
      created: true,
    });
    const again = JSON.parse((await vs1984(["guard", "show", "--datadir", dir, "--json"])).stdout) as ShowJson;
    expect(again.guardId).toBe(identity.guardId);
    expect(again.created).toBe(false);
  });

  it("prints text with every IPv4 interface for 0.0.0.0, and never a private key", async () => {
    const dir = datadir();
    const run = await vs1984(["guard", "show", "--datadir", dir]);
    expect(run.code).toBe(0);
    const { identity } = await loadOrCreateGuard(dir);
    expect(run.stdout).toContain(`Created a new Guard identity in ${dir}\n`);
    expect(run.stdout).toMatch(new RegExp(`^Guard ID: +${identity.guardId}$`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^Onion key: +${identity.onionPublicKeyHex}$`, "m"));
    const ipv4 = Object.values(networkInterfaces()).flatMap((l) => l ?? []).filter((i) => i.family === "IPv4");
    expect(ipv4.length).toBeGreaterThan(0);
    for (const i of ipv4) expect(run.stdout).toContain(`/ip4/${i.address}/tcp/19840/p2p/${identity.guardId}`);
    expect(run.stdout).toContain("(listening on 0.0.0.0: every interface of this machine)");
    expect(run.output).not.toContain(Buffer.from(identity.onionPrivateKey).toString("hex"));
    expect(run.output).not.toContain(Buffer.from(identity.privateKey.raw.subarray(0, 32)).toString("hex"));
  });

  it("fails naming the file when guard.key is corrupt, and leaves it alone", async () => {
    const dir = datadir();
    await loadOrCreateGuard(dir);
    const { guard } = guardFiles(dir);
    await writeFile(guard, "broken", { mode: 0o600 });
    const run = await vs1984(["guard", "show", "--datadir", dir]);
    expect(run.code).toBe(1);
    expect(run.output).toContain(`error: key file ${guard} is malformed`);
    expect(await readFile(guard, "utf8")).toBe("broken");
  });

  it("finds the data dir as vs1984 node does", async () => {
    expect(await nodeDatadir({ datadir: "x/y" })).toBe(resolve("x/y"));
    expect(await nodeDatadir({ dev: true })).toBe(resolve(".vs1984/dev"));
    expect(await nodeDatadir({ dev: true, genesis: join(ROOT, "genesis", "testnet.json") })).toBe(resolve(".vs1984/dev"));
    expect(await nodeDatadir({ genesis: join(ROOT, "genesis", "testnet.json") })).toBe(resolve(".vs1984/vs1984-testnet"));
    await expect(nodeDatadir({})).rejects.toThrow("give --datadir DIR, or --dev, or --genesis FILE");
  });

  it("builds one multiaddr for a given address, /ip6 for IPv6", () => {
    expect(listenMultiaddrs("127.0.0.1", 1, "12D3KooWx")).toEqual(["/ip4/127.0.0.1/tcp/1/p2p/12D3KooWx"]);
    expect(listenMultiaddrs("::1", 2, "12D3KooWx")).toEqual(["/ip6/::1/tcp/2/p2p/12D3KooWx"]);
  });

  it("refuses a bad --p2p.port and --p2p.addr", async () => {
    const dir = datadir();
    const port = await vs1984(["guard", "show", "--datadir", dir, "--p2p.port", "0"]);
    expect(port.code).toBe(1);
    expect(port.output).toContain("must be a port number 1-65535");
    const addr = await vs1984(["guard", "show", "--datadir", dir, "--p2p.addr", "example.org"]);
    expect(addr.code).toBe(1);
    expect(addr.output).toContain("must be an IPv4 or IPv6 address");
  });
});

describe("vs1984 guard rotate", () => {
  it("makes a new Guard ID and keeps the old key file", async () => {
    const dir = datadir();
    const before = JSON.parse((await vs1984(["guard", "show", "--datadir", dir, "--json"])).stdout) as ShowJson;
    const oldKey = await readFile(guardFiles(dir).guard);
    const run = await vs1984(["guard", "rotate", "--datadir", dir]);
    expect(run.code).toBe(0);
    const after = JSON.parse((await vs1984(["guard", "show", "--datadir", dir, "--json"])).stdout) as ShowJson;
    expect(after.guardId).not.toBe(before.guardId);
    expect(after.onionPublicKey).not.toBe(before.onionPublicKey);
    expect(run.stdout).toMatch(new RegExp(`^Old Guard ID: ${before.guardId}$`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^New Guard ID: ${after.guardId}$`, "m"));
    const kept = run.stdout.match(/^Kept: +(.+guard\.key\.[^/]+\.bak)$/m)?.[1];
    expect(kept).toBeDefined();
    expect(await readFile(kept!)).toEqual(oldKey);
  });

  it("is refused while a node runs on the data dir, and works once it stopped", async () => {
    const dir = datadir();
    const before = JSON.parse((await vs1984(["guard", "show", "--datadir", dir, "--json"])).stdout) as ShowJson;
    const node: CliProcess = runCli(["node", "--dev", "--datadir", dir, "--no-rpc", "--no-mine", "--p2p.port", "0"], NO_JEST_FLAGS);
    closers.push(() => node.stop());
    await node.waitFor(/Node started/);

    const refused = await vs1984(["guard", "rotate", "--datadir", dir]);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain(`error: a node is running on ${dir} (its chain database is locked): stop it, then run guard rotate again`);
    const { identity } = await loadOrCreateGuard(dir);
    expect(identity.guardId).toBe(before.guardId);

    expect(await node.stop()).toBe(0);
    const rotated = await vs1984(["guard", "rotate", "--datadir", dir, "--json"]);
    expect(rotated.code).toBe(0);
    const json = JSON.parse(rotated.stdout) as { guardId: string; previousGuardId: string; backups: string[] };
    expect(json.previousGuardId).toBe(before.guardId);
    expect(json.guardId).not.toBe(before.guardId);
    expect(json.backups).toHaveLength(2);
  });
});
