import { resolve } from "node:path";
import { bytesToHex } from "@ethereumjs/util";
import { Command } from "commander";
import { getAddress } from "ethers";
import { StateDb, buildGenesis, loadGenesis, type BatchOp, type GenesisConfig, type Hex, type KeyValueStore } from "../../chain/index.js";
import { formatVs } from "./wallet.js";

// buildGenesis reads its state through a KeyValueStore; a throwaway in-memory one is enough to
// compute the genesis hash without creating a database.
class MemoryStore implements KeyValueStore {
  private readonly data = new Map<string, [Uint8Array, Uint8Array]>();

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.data.get(bytesToHex(key))?.[1];
  }

  async batch(ops: BatchOp[]): Promise<void> {
    for (const op of ops) {
      if (op.type === "put") this.data.set(bytesToHex(op.key), [op.key, op.value]);
      else this.data.delete(bytesToHex(op.key));
    }
  }

  async *entries(prefix: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]> {
    const p = bytesToHex(prefix);
    for (const k of [...this.data.keys()].filter((key) => key.startsWith(p)).sort()) {
      const entry = this.data.get(k);
      if (entry) yield entry;
    }
  }
}

/** The hash of the genesis block a genesis config gives (what a node's database records as its genesis). */
export async function genesisHash(genesis: GenesisConfig): Promise<Hex> {
  const { block } = await buildGenesis(genesis, new StateDb({}, { store: new MemoryStore() }));
  return block.hash;
}

function kib(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

/** A readable summary of a validated genesis config, one `label: value` per line. */
export async function genesisSummary(genesis: GenesisConfig): Promise<string> {
  const c = genesis.consensus;
  let total = 0n;
  for (const balance of genesis.alloc.values()) total += balance;
  const lines: [string, string][] = [
    ["Name", genesis.name],
    ["Chain id", genesis.chainId.toString()],
    ["Genesis hash", await genesisHash(genesis)],
    ["Timestamp", `${genesis.timestamp}`],
    ["Gas limit", genesis.gasLimit.toString()],
    ["Base fee", `${genesis.baseFeePerGas} wei`],
    ["Block reward", formatVs(genesis.blockReward)],
    ["Block time", `${c.blockTime} s`],
    ["Difficulty", `${c.initialDifficulty} (min ${c.minDifficulty}, bound divisor ${c.difficultyBoundDivisor})`],
    ["Seal scrypt", `N=${c.scrypt.N} r=${c.scrypt.r} p=${c.scrypt.p}`],
    ["Streak window", `${c.streakWindow} blocks`],
    ["Ban", `${c.banBlocks} blocks`],
    [`Miners (${c.miners.length})`, c.miners.map((m) => getAddress(m)).join(", ")],
    ["Alloc", `${genesis.alloc.size} account(s), ${formatVs(total)} in total`],
    [
      `Sub-chains (${genesis.subchains.length})`,
      genesis.subchains
        .map((sc) => `${sc.id} ${sc.name} (${sc.payloadGasPerByte} gas/byte, payload <= ${kib(sc.maxPayloadBytes)}, sub-block <= ${kib(sc.maxSubBlockBytes)})`)
        .join("; "),
    ],
  ];
  const width = Math.max(...lines.map(([label]) => label.length)) + 2;
  return lines.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`).join("\n");
}

/** The `vs1984 genesis` command: `genesis check FILE` validates a genesis file and prints its summary. */
export function genesisCommand(): Command {
  const check = new Command("check")
    .description("validate a genesis file and print its summary and genesis block hash (exit code 1 when invalid)")
    .argument("<file>", "the genesis JSON file")
    .action(async (file: string) => {
      // loadGenesis throws a NodeError naming the bad field; the program prints it and exits 1
      const genesis = await loadGenesis(resolve(file));
      console.log(`${resolve(file)} is a valid genesis file`);
      console.log(await genesisSummary(genesis));
    });
  return new Command("genesis").description("genesis file tools").addCommand(check);
}
