// `npm run devnet -- --nodes 5`: a local network of dev-chain nodes, each `vs1984 node --dev` in its
// own process on 127.0.0.1 with its own data dir and ports. node0 is the bootnode of the others and
// mines as dev account 9; node1 mines as dev account 8 (a keystore written into its data dir); the
// rest do not mine. Their log lines are printed prefixed with their name ("node2 | ...").
// Ctrl-C (or SIGTERM) stops every node and exits 0; a second Ctrl-C kills them at once.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { JsonRpcClient } from "../node/cli/mine.js";
import { DEV_MINER_INDEX, devAccount } from "../node/devAccounts.js";
import { keystoreDir, listKeystores, writeKeystore } from "../node/keystore.js";
import { loadOrCreateGuard } from "../p2p/index.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "bin", "vs1984.js");
const HOST = "127.0.0.1";
/** P2P ports are RPC ports plus this. */
const P2P_PORT_OFFSET = 100;
const MAX_NODES = 20;
/** The dev account node1 mines as (another genesis miner than --dev's account 9). */
const SECOND_MINER_INDEX = 8;
/** Time a node has to answer JSON-RPC after its process started. */
const READY_TIMEOUT_MS = 60_000;
/** Time a node has to exit after SIGINT before it is killed. */
const STOP_TIMEOUT_MS = 10_000;
/** Signals closer than this to the first one are the same Ctrl-C passed on by npm and tsx. */
const REPEAT_SIGNAL_MS = 1_000;
/** Names a folder given to --fresh may hold: what a devnet writes, nothing else. */
const DEVNET_ENTRY = /^node\d+$/;

interface DevnetOptions {
  nodes: number;
  datadir: string;
  fresh?: boolean;
  basePort: number;
  "log.level": string;
}

/** One node of the devnet as planned before it starts. */
interface NodeSpec {
  name: string;
  datadir: string;
  rpcPort: number;
  p2pPort: number;
  rpcUrl: string;
  /** `/ip4/127.0.0.1/tcp/<p2p port>/p2p/<Guard ID>`. */
  multiaddr: string;
  /** "dev account 9 (0x…)", or "no". */
  mining: string;
  /** Arguments after `vs1984`. */
  args: string[];
}

/** What the plan needs to know of the files written before it: the Guard IDs, node1's keystore. */
interface PlanInputs {
  guardIds: string[];
  minerKeystore: { file: string; passwordFile: string } | null;
}

/** The nodes of a devnet: ports, bootnode, who mines with which key. */
function devnetPlan(opts: DevnetOptions, inputs: PlanInputs): NodeSpec[] {
  const specs: NodeSpec[] = [];
  for (let i = 0; i < opts.nodes; i++) {
    const name = `node${i}`;
    const datadir = join(opts.datadir, name);
    const rpcPort = opts.basePort + i;
    const p2pPort = opts.basePort + P2P_PORT_OFFSET + i;
    const args = ["node", "--dev", "--datadir", datadir, "--rpc.port", String(rpcPort), "--p2p.port", String(p2pPort)];
    args.push("--log.level", opts["log.level"]);
    if (i > 0) args.push("--bootnodes", specs[0]!.multiaddr);
    let mining: string;
    if (i === 0) {
      mining = `dev account ${DEV_MINER_INDEX} (${devAccount(DEV_MINER_INDEX).address})`; // plain --dev
    } else if (i === 1 && inputs.minerKeystore) {
      args.push("--miner.keystore", inputs.minerKeystore.file, "--password-file", inputs.minerKeystore.passwordFile);
      mining = `dev account ${SECOND_MINER_INDEX} (${devAccount(SECOND_MINER_INDEX).address})`;
    } else {
      args.push("--no-mine");
      mining = "no";
    }
    specs.push({
      name,
      datadir,
      rpcPort,
      p2pPort,
      rpcUrl: `http://${HOST}:${rpcPort}`,
      multiaddr: `/ip4/${HOST}/tcp/${p2pPort}/p2p/${inputs.guardIds[i]!}`,
      mining,
      args,
    });
  }
  return specs;
}

function intOption(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}

function say(text: string): void {
  process.stdout.write(`devnet | ${text}\n`);
}

/** True when nothing listens on 127.0.0.1:port. */
function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => done(true)));
  });
}

/** Wipes the devnet folder for --fresh, refusing a folder that holds anything a devnet did not write. */
async function wipe(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  const foreign = names.filter((n) => !DEVNET_ENTRY.test(n));
  if (foreign.length > 0) {
    throw new Error(`--fresh would delete ${dir}, which holds ${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", …" : ""}: not a devnet folder`);
  }
  await rm(dir, { recursive: true, force: true });
}

/**
 * node1's miner keystore (dev account 8) and its password file, both mode 0600 in node1's data dir:
 * the ones of an earlier run when both are there, else new ones with a random password.
 */
async function secondMinerKeystore(datadir: string): Promise<{ file: string; passwordFile: string }> {
  const account = devAccount(SECOND_MINER_INDEX);
  const passwordFile = join(datadir, "miner-password.txt");
  const existing = (await listKeystores(keystoreDir(datadir))).filter((k) => k.address === account.address);
  const hasPassword = await stat(passwordFile).then(
    (s) => s.isFile(),
    () => false,
  );
  if (hasPassword && existing.length > 0) return { file: existing[existing.length - 1]!.file, passwordFile };
  const password = randomBytes(24).toString("base64url");
  await mkdir(datadir, { recursive: true, mode: 0o700 });
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  await chmod(passwordFile, 0o600);
  const { file } = await writeKeystore(keystoreDir(datadir), account.privateKey, password);
  return { file, passwordFile };
}

/** Copies a child's output lines to ours, each prefixed with the node's name. */
function prefixLines(stream: NodeJS.ReadableStream, name: string, out: NodeJS.WritableStream): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => out.write(`${name} | ${line}\n`));
}

/** The running node processes of a devnet. */
class Devnet {
  private readonly children = new Map<string, ChildProcess>();
  private readonly exits = new Map<string, Promise<void>>();
  stopping = false;
  /** Set once every node was started: from then on, the last node exiting ends the devnet. */
  watching = false;

  constructor(readonly onAllExited: () => void) {}

  /** Starts one node's process (`node bin/vs1984.js …`). */
  spawn(spec: NodeSpec): ChildProcess {
    const child = spawn(process.execPath, [BIN, ...spec.args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    prefixLines(child.stdout!, spec.name, process.stdout);
    prefixLines(child.stderr!, spec.name, process.stderr);
    this.children.set(spec.name, child);
    this.exits.set(
      spec.name,
      new Promise((done) =>
        child.once("exit", (code, signal) => {
          this.children.delete(spec.name);
          if (!this.stopping) {
            const how = signal ? `signal ${signal}` : `exit code ${code}`;
            if (!this.watching) say(`${spec.name} exited (${how})`);
            else {
              say(`${spec.name} exited unexpectedly (${how}); the other nodes stay up`);
              if (this.children.size === 0) this.onAllExited();
            }
          }
          done();
        }),
      ),
    );
    say(`${spec.name} started (pid ${child.pid})`);
    return child;
  }

  /** True while the node's process runs. */
  running(name: string): boolean {
    return this.children.has(name);
  }

  /** Resolves when the node answers eth_blockNumber; rejects if its process exits first or after the timeout. */
  async ready(spec: NodeSpec): Promise<void> {
    const client = new JsonRpcClient(spec.rpcUrl, 1_000);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (!this.running(spec.name)) throw new Error(`${spec.name} exited before it answered on ${spec.rpcUrl}`);
      try {
        await client.call("eth_blockNumber");
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`${spec.name} did not answer on ${spec.rpcUrl} within ${READY_TIMEOUT_MS / 1000} s`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** SIGINT to every node, SIGKILL to those still running after STOP_TIMEOUT_MS; resolves when all have exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    const waits = [...this.children].map(async ([name, child]) => {
      child.kill("SIGINT");
      const timer = setTimeout(() => {
        say(`${name} still running after ${STOP_TIMEOUT_MS / 1000} s: killing it`);
        child.kill("SIGKILL");
      }, STOP_TIMEOUT_MS);
      await this.exits.get(name);
      clearTimeout(timer);
    });
    await Promise.all(waits);
  }

  /** SIGKILL to every node still running (a second Ctrl-C, or this process exiting). */
  kill(): void {
    for (const child of this.children.values()) child.kill("SIGKILL");
  }
}

function printTable(specs: NodeSpec[], devnet: Devnet, pids: Map<string, number | undefined>): void {
  const rows = [
    ["name", "pid", "RPC", "P2P", "mining as"],
    ...specs.map((s) => [s.name, devnet.running(s.name) ? String(pids.get(s.name) ?? "") : "exited", s.rpcUrl, s.multiaddr, s.mining]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  "));
  process.stdout.write(`\n${lines.join("\n")}\n\n`);
}

async function main(opts: DevnetOptions): Promise<void> {
  opts.datadir = resolve(opts.datadir);
  if (opts.basePort + P2P_PORT_OFFSET + opts.nodes - 1 > 65535) {
    throw new Error(`--base-port ${opts.basePort} leaves no room for ${opts.nodes} P2P ports at +${P2P_PORT_OFFSET}: choose a lower one`);
  }
  for (let i = 0; i < opts.nodes; i++) {
    for (const [port, what] of [
      [opts.basePort + i, "RPC"],
      [opts.basePort + P2P_PORT_OFFSET + i, "P2P"],
    ] as const) {
      if (!(await portFree(port))) {
        throw new Error(`port ${port} (node${i} ${what}) is taken on ${HOST}: stop what uses it, or choose another --base-port`);
      }
    }
  }
  if (opts.fresh) await wipe(opts.datadir);
  await mkdir(opts.datadir, { recursive: true, mode: 0o700 });

  // every node's Guard identity first: node0's multiaddr is the others' bootnode, and the table shows all
  const guardIds: string[] = [];
  for (let i = 0; i < opts.nodes; i++) guardIds.push((await loadOrCreateGuard(join(opts.datadir, `node${i}`))).identity.guardId);
  const minerKeystore = opts.nodes > 1 ? await secondMinerKeystore(join(opts.datadir, "node1")) : null;
  const specs = devnetPlan(opts, { guardIds, minerKeystore });

  const devnet = new Devnet(() => {
    say("every node has exited");
    process.exit(1);
  });
  process.on("exit", () => devnet.kill());
  let firstSignalAt = 0;
  const stop = (signal: string): void => {
    if (devnet.stopping) {
      // Ctrl-C reaches us up to three times at once (the terminal, npm and tsx each pass it on):
      // only a signal well after the first is a second Ctrl-C
      if (Date.now() - firstSignalAt < REPEAT_SIGNAL_MS) return;
      say(`${signal} again: killing every node`);
      devnet.kill();
      return;
    }
    firstSignalAt = Date.now();
    say(`${signal}: stopping every node`);
    devnet.stop().then(
      () => {
        say("stopped");
        process.exit(0);
      },
      (e: unknown) => {
        say(`stop failed: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));

  say(`starting ${opts.nodes} node(s) in ${opts.datadir}`);
  const pids = new Map<string, number | undefined>();
  const [first, ...rest] = specs;
  pids.set(first!.name, devnet.spawn(first!).pid);
  try {
    await devnet.ready(first!);
  } catch (e) {
    if (devnet.stopping) return;
    say(`the bootnode did not start: ${(e as Error).message}`);
    await devnet.stop();
    process.exit(1);
  }
  for (const spec of rest) pids.set(spec.name, devnet.spawn(spec).pid);
  const started = await Promise.allSettled(rest.map((spec) => devnet.ready(spec)));
  if (devnet.stopping) return;
  for (const r of started) if (r.status === "rejected") say((r.reason as Error).message);
  devnet.watching = true;
  if (!specs.some((s) => devnet.running(s.name))) devnet.onAllExited();
  printTable(specs, devnet, pids);
  say("Ctrl-C stops every node");
}

const program = new Command("devnet")
  .description("run a local devnet: N dev-chain nodes on 127.0.0.1, node0 the bootnode, node0 and node1 mining")
  .addOption(new Option("--nodes <n>", "number of nodes").default(5).argParser(intOption(1, MAX_NODES)))
  .option("--datadir <dir>", "folder with one data dir per node (node0, node1, …)", join(".vs1984", "devnet"))
  .option("--fresh", "delete the devnet folder first (a new chain and new Guard IDs)")
  .addOption(
    new Option("--base-port <port>", `RPC ports are port+i, P2P ports port+${P2P_PORT_OFFSET}+i`).default(18545).argParser(intOption(1, 65535)),
  )
  .option("--log.level <level>", "the nodes' log level: fatal, error, warn, info, debug, trace", "info")
  .action((opts: DevnetOptions) => main(opts));

await program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
