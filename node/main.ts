#!/usr/bin/env node
// Entry point of the `vs1984` command; `npm start` runs `vs1984 node --dev`.
import "./polyfills.js";
import { isIPv4 } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { pino } from "pino";
import { ChainEvent, type ChainEventData, type Hex, loadGenesis } from "../chain/index.js";
import { contentCommand } from "./cli/content.js";
import { genesisCommand } from "./cli/genesisCheck.js";
import { guardCommand } from "./cli/guard.js";
import { mineCommand } from "./cli/mine.js";
import { readPassword } from "./cli/password.js";
import { integerArg } from "./cli/args.js";
import { SyncProgressDisplay } from "./cli/syncProgress.js";
import { walletCommand } from "./cli/wallet.js";
import { DEV_MINER_INDEX, devAccount } from "./devAccounts.js";
import { checkDatadir } from "./dataDir.js";
import { loadKeystore } from "./keystore.js";
import { VsNode, type NodeOptions } from "./node.js";
import { DEFAULT_MAX_PEERS, DEFAULT_P2P_ADDR, DEFAULT_P2P_PORT, DEV_P2P_ADDR } from "../p2p/index.js";
import { multiaddr } from "@multiformats/multiaddr";
import { peerIdFromString } from "@libp2p/peer-id";
import { VERSION } from "./version.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const port = integerArg(0, 65535, "must be a port number 0-65535 (0 = any free port)");
const positiveInt = integerArg(1, Number.MAX_SAFE_INTEGER, "must be a positive integer");

function ipv4(value: string): string {
  if (!isIPv4(value)) throw new InvalidArgumentError("must be an IPv4 address, such as 0.0.0.0 or 127.0.0.1");
  return value;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"];

const BOOTNODE_HOSTS = ["ip4", "ip6", "dns4", "dns6"];

// a bootnode that cannot be dialled would only show at debug level, every 5 s: refuse it here
function bootnodes(value: string): string {
  const list = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new InvalidArgumentError("must list at least one multiaddr /ip4/<ip>/tcp/<port>/p2p/<GuardID>");
  for (const b of list) {
    let why: string | null = null;
    try {
      const parts = multiaddr(b).getComponents();
      const [host, tcp, p2p] = parts;
      if (parts.length !== 3 || !BOOTNODE_HOSTS.includes(host?.name ?? "") || tcp?.name !== "tcp" || p2p?.name !== "p2p") {
        why = "not of that shape";
      } else {
        try {
          peerIdFromString(p2p.value ?? "");
        } catch {
          why = `"${p2p.value}" is not a Guard ID`;
        }
      }
    } catch (e) {
      why = (e as Error).message;
    }
    if (why) throw new InvalidArgumentError(`"${b}" is not a multiaddr /ip4/<ip>/tcp/<port>/p2p/<GuardID>: ${why}`);
  }
  return value;
}

function address(value: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(value)) throw new InvalidArgumentError("must be a 0x-prefixed 20-byte hex address");
  return value.toLowerCase();
}

interface NodeCommandOptions {
  dev?: boolean;
  genesis?: string;
  datadir?: string;
  rpc: boolean;
  "rpc.addr": string;
  "rpc.port": number;
  "rpc.cors"?: string;
  mine?: boolean;
  "miner.keystore"?: string;
  "miner.address"?: string;
  passwordFile?: string;
  metrics?: boolean;
  p2p: boolean;
  "p2p.addr"?: string;
  "p2p.port": number;
  "p2p.private-peers"?: boolean;
  bootnodes?: string;
  maxpeers: number;
  subchains?: string;
  nat: "none" | "upnp";
  "log.level": string;
  "content.keystore"?: string;
  "content.passwordFile"?: string;
  "content.confirmations"?: number;
}

async function runNode(opts: NodeCommandOptions, program: Command): Promise<void> {
  const log = pino({ level: opts["log.level"] });
  if (!opts.dev && !opts.genesis) program.error("error: give --genesis <file>, or --dev for the development chain");
  const genesis = await loadGenesis(opts.genesis ?? join(ROOT, "genesis", "dev.json"));
  const datadir = resolve(opts.datadir ?? join(".vs1984", opts.dev ? "dev" : genesis.name));
  await checkDatadir(datadir);
  const mine = opts.mine ?? !!opts.dev;
  let minerKey: Uint8Array | null = null;
  let coinbase: Hex | null = (opts["miner.address"]?.toLowerCase() as Hex | undefined) ?? null;
  if (opts["miner.keystore"]) {
    const key = await loadKeystore(opts["miner.keystore"], await readPassword(opts.passwordFile, { prompt: "Miner keystore password: " }));
    minerKey = mine ? key.privateKey : null;
    coinbase ??= key.address;
  } else if (opts.dev) {
    const dev = devAccount(DEV_MINER_INDEX);
    minerKey = mine ? dev.privateKey : null;
    coinbase ??= dev.address;
  } else if (mine) {
    program.error("error: --mine needs --miner.keystore FILE (the miner's Real ID); only --dev mines with a dev key");
  }
  let contentDelivery: NodeOptions["contentDelivery"] = null;
  if (opts["content.keystore"]) {
    // one password opens the author's keystore and the content keys `vs1984 content publish` stored with it
    const password = await readPassword(opts["content.passwordFile"], { prompt: "Author keystore password: " });
    const key = await loadKeystore(opts["content.keystore"], password);
    contentDelivery = { authorKey: key.privateKey, contentKeyPassword: password, confirmations: opts["content.confirmations"] ?? (opts.dev ? 1 : 3) };
  }
  const cors = opts["rpc.cors"] ? opts["rpc.cors"].split(",").map((s) => s.trim()).filter(Boolean) : [];
  const node = new VsNode(
    {
      datadir,
      genesis,
      minerKey,
      coinbase,
      devAccounts: opts.dev ? Array.from({ length: 10 }, (_, i) => devAccount(i)) : [],
      rpc: opts.rpc ? { host: opts["rpc.addr"], port: opts["rpc.port"], corsOrigins: cors } : null,
      metrics: !!opts.metrics,
      contentDelivery,
      // a dev node is a one-machine playground: it keeps every payload unless told otherwise
      subchains: opts.subchains
        ? opts.subchains.split(",").map((s) => s.trim()).filter(Boolean)
        : opts.dev
          ? genesis.subchains.map((d) => d.name)
          : [],
      p2p: opts.p2p
        ? {
            addr: opts["p2p.addr"] ?? (opts.dev ? DEV_P2P_ADDR : DEFAULT_P2P_ADDR),
            port: opts["p2p.port"],
            maxPeers: opts.maxpeers,
            nat: opts.nat,
            bootnodes: opts.bootnodes ? opts.bootnodes.split(",").map((b) => b.trim()).filter(Boolean) : [],
            privatePeers: opts["p2p.private-peers"],
          }
        : null,
    },
    log,
  );
  await node.start();
  const head = node.ledger.chain.head;
  log.info(
    { version: VERSION, network: genesis.name, chainId: genesis.chainId.toString(), datadir, head: head.header.number.toString(), mining: !!minerKey, coinbase },
    "Node started",
  );
  if (node.rpc && opts.metrics) log.info({ url: `${node.rpc.url}metrics` }, "Metrics served");
  // a sync far behind shows a bar on a terminal (stderr), else a "Syncing" line every 5 s
  const syncDisplay = new SyncProgressDisplay({}, { stream: process.stderr, log });
  node.network?.on("syncProgress", syncDisplay.onProgress);
  node.ledger.chain.on(ChainEvent.newHead, (e: ChainEventData[typeof ChainEvent.newHead]) => {
    if (syncDisplay.active) return; // one line per synced block would bury the progress
    const h = e.head.header;
    log.info(
      { number: h.number.toString(), hash: e.head.hash, txs: e.head.transactions.length, miner: h.miner, reorg: e.removed.length || undefined },
      "New head",
    );
  });
  // keeps the process alive until a signal even when nothing else does (--no-rpc --no-mine)
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(keepAlive);
    syncDisplay.stop();
    log.info({ signal }, "Stopping");
    node.stop().then(
      () => {
        log.info("Stopped cleanly");
        process.exit(0);
      },
      (e: unknown) => {
        log.error({ err: e }, "Stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

// `vs1984 … | head` closes our stdout early: a node then stops as on Ctrl-C (cleanly), any other
// command ends quietly, as Unix tools do, instead of dying on an unhandled EPIPE with a stack
let readerGone = false;
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
  if (readerGone) return;
  readerGone = true;
  if (process.listenerCount("SIGTERM") > 0) process.emit("SIGTERM", "SIGTERM");
  else process.exit(0);
});

const program = new Command("vs1984").description("VS1984 full node").version(VERSION);
program
  .command("node")
  .description("run a full node (main chain, transaction pool, miner, JSON-RPC and WebSocket API)")
  .option("--dev", "development chain: dev genesis, data in ./.vs1984/dev, dev accounts served, mining as dev account 9")
  .option("--genesis <file>", "genesis file (default with --dev: genesis/dev.json)")
  .option("--datadir <dir>", "data folder (default: ./.vs1984/<dev | network name>)")
  .option("--no-rpc", "do not serve JSON-RPC")
  .option("--rpc.addr <host>", "RPC listen address (HTTP and WebSocket on one port)", "127.0.0.1")
  .addOption(new Option("--rpc.port <port>", "RPC port (0 = any free port)").default(8545).argParser(port))
  .option("--rpc.cors <origins>", "comma-separated origins allowed by CORS, or * (default: none)")
  .option("--mine", "mine with the in-process miner (default with --dev)")
  .option("--no-mine", "do not mine (with --dev: leave mining to an external `vs1984 mine`)")
  .option("--miner.keystore <file>", "keystore of the miner's Real ID (Web3 Secret Storage v3)")
  .addOption(new Option("--miner.address <address>", "address eth_getWork hands work packages for (default: the miner's)").argParser(address))
  .option("--password-file <file>", "file whose first line is the miner keystore password (else a prompt)")
  .option("--metrics", "serve Prometheus metrics at /metrics on the RPC port")
  .option("--no-p2p", "run alone: no P2P host, no peers")
  .addOption(new Option("--p2p.addr <ip>", `P2P listen address, IPv4 (default: ${DEFAULT_P2P_ADDR}; with --dev: ${DEV_P2P_ADDR})`).argParser(ipv4))
  .addOption(new Option("--p2p.port <port>", "P2P TCP port (0 = any free port)").default(DEFAULT_P2P_PORT).argParser(port))
  .option("--p2p.private-peers", "also dial LAN addresses that peers tell of (default: only when --p2p.addr is a private or loopback address)")
  .addOption(new Option("--bootnodes <multiaddrs>", "comma-separated multiaddrs with /p2p/<GuardID> to join the network through").argParser(bootnodes))
  .addOption(new Option("--maxpeers <n>", "most connected peers").default(DEFAULT_MAX_PEERS).argParser(positiveInt))
  .option("--subchains <names>", "comma-separated sub-chains whose payloads this node stores, such as posts,bt (pins always; --dev: all of them)")
  .addOption(new Option("--nat <mode>", "map the P2P port on the router").choices(["none", "upnp"]).default("none"))
  .option("--content.keystore <file>", "run the key-delivery service as this author (keystore of the account that published)")
  .option("--content.password-file <file>", "file whose first line is the password of --content.keystore and of the content keys (else a prompt)")
  .addOption(new Option("--content.confirmations <n>", "blocks a purchase needs before its key is delivered (default 3; with --dev 1)").argParser(positiveInt))
  .addOption(new Option("--log.level <level>", "log level").choices(LOG_LEVELS).default("info"))
  .action((opts: NodeCommandOptions) => runNode(opts, program));
program.addCommand(walletCommand());
program.addCommand(contentCommand());
program.addCommand(mineCommand());
program.addCommand(genesisCommand());
program.addCommand(guardCommand());

await program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
