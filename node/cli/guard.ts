import { stat } from "node:fs/promises";
import { isIPv4, isIPv6 } from "node:net";
import { networkInterfaces } from "node:os";
import { join, resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { RocksStore, loadGenesis } from "../../chain/index.js";
import { checkDatadir, isDatabaseLocked } from "../dataDir.js";
import { integerArg } from "./args.js";
import { DEFAULT_P2P_ADDR, DEFAULT_P2P_PORT, DEV_P2P_ADDR, loadOrCreateGuard, rotateGuard } from "../../p2p/index.js";

/** How the data dir is chosen: as `vs1984 node` chooses it. */
interface DatadirOpts {
  datadir?: string;
  dev?: boolean;
  genesis?: string;
}

interface ShowOpts extends DatadirOpts {
  "p2p.addr"?: string;
  "p2p.port": number;
  json?: boolean;
}

interface RotateOpts extends DatadirOpts {
  json?: boolean;
}

/**
 * The data dir `vs1984 node` would use with the same options: `--datadir`, else `./.vs1984/dev` with
 * `--dev`, else `./.vs1984/<network name of --genesis>`.
 */
export async function nodeDatadir(opts: DatadirOpts): Promise<string> {
  const datadir = opts.datadir
    ? resolve(opts.datadir)
    : opts.dev
      ? resolve(join(".vs1984", "dev"))
      : opts.genesis
        ? resolve(join(".vs1984", (await loadGenesis(resolve(opts.genesis))).name))
        : null;
  if (!datadir) throw new Error("give --datadir DIR, or --dev, or --genesis FILE (the data dir is found as vs1984 node finds it)");
  await checkDatadir(datadir);
  return datadir;
}

const listenPort = integerArg(1, 65535, "must be a port number 1-65535");

function ipAddress(value: string): string {
  if (!isIPv4(value) && !isIPv6(value)) throw new InvalidArgumentError("must be an IPv4 or IPv6 address, such as 0.0.0.0 or 127.0.0.1");
  return value;
}

/** True for 0.0.0.0 and :: (every interface). */
function isWildcard(addr: string): boolean {
  return addr === "0.0.0.0" || (isIPv6(addr) && /^[0:]+$/.test(addr));
}

/**
 * The multiaddrs peers dial for a host listening on `addr:port`: one for the address, or, for the
 * wildcard (0.0.0.0 or ::), one per interface address of that family on this machine, as libp2p
 * announces them.
 */
export function listenMultiaddrs(addr: string, port: number, guardId: string): string[] {
  const v6 = isIPv6(addr);
  const hosts = isWildcard(addr)
    ? Object.values(networkInterfaces())
        .flatMap((list) => list ?? [])
        .filter((i) => i.family === (v6 ? "IPv6" : "IPv4") && !(v6 && i.scopeid))
        .map((i) => i.address)
    : [addr];
  return hosts.map((host) => `/${v6 ? "ip6" : "ip4"}/${host}/tcp/${port}/p2p/${guardId}`);
}

function datadirOptions(cmd: Command): Command {
  return cmd
    .option("--datadir <dir>", "data folder (default: as vs1984 node: ./.vs1984/dev with --dev, ./.vs1984/<network name> with --genesis)")
    .option("--dev", "the development chain's data folder (./.vs1984/dev)")
    .option("--genesis <file>", "genesis file whose network name names the data folder");
}

function showCommand(): Command {
  return datadirOptions(new Command("show"))
    .description("print the Guard ID, the onion public key and the listen addresses (creates the identity if missing)")
    .addOption(new Option("--p2p.addr <addr>", `P2P listen address (default: ${DEFAULT_P2P_ADDR}, with --dev ${DEV_P2P_ADDR})`).argParser(ipAddress))
    .addOption(new Option("--p2p.port <port>", "P2P listen port").default(DEFAULT_P2P_PORT).argParser(listenPort))
    .option("--json", "print one JSON object instead of text")
    .action(async (opts: ShowOpts) => {
      const datadir = await nodeDatadir(opts);
      const { identity, created } = await loadOrCreateGuard(datadir);
      const addr = opts["p2p.addr"] ?? (opts.dev ? DEV_P2P_ADDR : DEFAULT_P2P_ADDR);
      const listen = listenMultiaddrs(addr, opts["p2p.port"], identity.guardId);
      if (opts.json) {
        const out = { guardId: identity.guardId, onionPublicKey: identity.onionPublicKeyHex, listen, listenAddr: addr, datadir, created };
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      if (created) console.log(`Created a new Guard identity in ${datadir}`);
      console.log(`Guard ID:   ${identity.guardId}`);
      console.log(`Onion key:  ${identity.onionPublicKeyHex}`);
      const first = listen[0] ?? `(no ${isIPv6(addr) ? "IPv6" : "IPv4"} interface found)`;
      console.log(`Listen:     ${first}`);
      for (const a of listen.slice(1)) console.log(`            ${a}`);
      if (isWildcard(addr)) console.log(`            (listening on ${addr}: every interface of this machine)`);
    });
}

/**
 * Runs `fn` while holding the lock of `<datadir>/chain`, so that no node runs on the data dir
 * meanwhile; refuses when a node holds it. Without a chain folder no node has run there.
 */
async function withNodeStopped<T>(datadir: string, fn: () => Promise<T>): Promise<T> {
  const chainDir = join(datadir, "chain");
  try {
    await stat(chainDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return fn();
    throw e;
  }
  const store = new RocksStore({ path: chainDir });
  try {
    await store.start();
  } catch (e) {
    if (isDatabaseLocked(e)) {
      throw new Error(`a node is running on ${datadir} (its chain database is locked): stop it, then run guard rotate again`, { cause: e });
    }
    throw e;
  }
  try {
    return await fn();
  } finally {
    await store.stop();
  }
}

function rotateCommand(): Command {
  return datadirOptions(new Command("rotate"))
    .description("make a new Guard identity (new Guard key and onion key); the node must be stopped")
    .option("--json", "print one JSON object instead of text")
    .action(async (opts: RotateOpts) => {
      const datadir = await nodeDatadir(opts);
      const { identity, previousGuardId, backups } = await withNodeStopped(datadir, () => rotateGuard(datadir));
      if (opts.json) {
        console.log(JSON.stringify({ guardId: identity.guardId, onionPublicKey: identity.onionPublicKeyHex, previousGuardId, backups, datadir }, null, 2));
        return;
      }
      console.log(`Old Guard ID: ${previousGuardId ?? "(none)"}`);
      console.log(`New Guard ID: ${identity.guardId}`);
      console.log(`Onion key:    ${identity.onionPublicKeyHex}`);
      for (const b of backups) console.log(`Kept:         ${b}`);
      console.log("Peers will see a new node at the next start.");
    });
}

/** The `vs1984 guard` command: show or rotate the node's Guard identity (its network identity, never a Real ID). */
export function guardCommand(): Command {
  return new Command("guard")
    .description("the node's Guard identity (libp2p peer key and onion key): show, rotate")
    .addCommand(showCommand())
    .addCommand(rotateCommand())
    .addHelpText(
      "after",
      "\nThe Guard key lives in <datadir>/guard.key and the onion key in <datadir>/onion.key (mode 0600), apart from every wallet keystore.\nNo Guard key is derived from a Real ID or the reverse.",
    );
}
