#!/usr/bin/env node
// Entry point of `vs1984` (npm start runs `vs1984 node --dev`). For now it runs the dev ledger:
// the full CLI (wallet, external miner, RPC) comes with the next issue.
import "./polyfills.js";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { pino } from "pino";
import { ChainEvent, type ChainEventData, loadGenesis } from "../chain/index.js";
import { DEV_MINER_INDEX, devAccount } from "./devAccounts.js";
import { Ledger } from "./ledger.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const program = new Command("vs1984").description("VS1984 full node");
program
  .command("node")
  .description("run a full node")
  .option("--dev", "development chain: dev genesis, data in ./.vs1984/dev, mining as dev account 9")
  .option("--genesis <file>", "genesis file (default: genesis/dev.json with --dev)")
  .option("--datadir <dir>", "data folder (default: ./.vs1984/<network name>)")
  .option("--log.level <level>", "log level: fatal, error, warn, info, debug, trace", "info")
  .action(async (opts: { dev?: boolean; genesis?: string; datadir?: string; "log.level": string }) => {
    const log = pino({ level: opts["log.level"] });
    if (!opts.dev && !opts.genesis) program.error("error: give --genesis <file>, or --dev for the development chain");
    const genesis = await loadGenesis(opts.genesis ?? join(ROOT, "genesis", "dev.json"));
    const datadir = resolve(opts.datadir ?? join(".vs1984", opts.dev ? "dev" : genesis.name));
    const minerKey = opts.dev ? devAccount(DEV_MINER_INDEX).privateKey : undefined;
    const ledger = new Ledger({
      datadir,
      genesis,
      minerKey,
      onError: (e) => log.warn({ err: e }, "Background task failed"),
    });
    await ledger.start();
    const head = ledger.chain.head;
    log.info({ chainId: genesis.chainId.toString(), datadir, head: head.header.number.toString(), mining: !!minerKey }, "Node started");
    ledger.chain.on(ChainEvent.newHead, (e: ChainEventData[typeof ChainEvent.newHead]) => {
      const h = e.head.header;
      log.info({ number: h.number.toString(), hash: e.head.hash, txs: e.head.transactions.length, miner: h.miner, reorg: e.removed.length }, "New head");
    });
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "Stopping");
      ledger.stop().then(
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
  });

await program.parseAsync(process.argv).catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
