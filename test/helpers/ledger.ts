import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HDNodeWallet, Wallet } from "ethers";
import { hexToBytes } from "@ethereumjs/util";
import { loadGenesis, type GenesisConfig } from "../../chain/genesis.js";
import type { Hex } from "../../chain/types.js";
import { Ledger, type LedgerOptions } from "../../node/ledger.js";

/** The well-known development mnemonic (hardhat, anvil). */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** Dev account i of the mnemonic. */
export function devWallet(i: number): HDNodeWallet {
  return HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`);
}

/** Dev account i's address, lowercase. */
export function devAddress(i: number): Hex {
  return devWallet(i).address.toLowerCase() as Hex;
}

/** A signed type 2 transfer of 1 wei to 0x…dead from dev account `from` (3 gwei cap, 1 gwei tip, 21,000 gas). */
export async function signedTransfer(chainId: number | bigint, from: number, nonce: number): Promise<Uint8Array> {
  const raw = await devWallet(from).signTransaction({
    type: 2,
    chainId,
    nonce,
    to: "0x000000000000000000000000000000000000dead",
    value: 1n,
    gasLimit: 21000,
    maxFeePerGas: 3n * 10n ** 9n,
    maxPriorityFeePerGas: 10n ** 9n,
  });
  return hexToBytes(raw as Hex);
}

/** The private key bytes of a wallet. */
export function keyOf(w: Wallet | HDNodeWallet): Uint8Array {
  return hexToBytes(w.privateKey as Hex);
}

/** The dev genesis with tiny scrypt and difficulty so tests mine fast (overrides applied on top). */
export async function testGenesis(overrides: Partial<GenesisConfig["consensus"]> = {}): Promise<GenesisConfig> {
  const g = await loadGenesis(join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "../../genesis/dev.json"));
  return {
    ...g,
    consensus: { ...g.consensus, scrypt: { N: 16, r: 1, p: 1 }, initialDifficulty: 1n, minDifficulty: 1n, ...overrides },
  };
}

/** A fresh temporary folder and its remover. */
export function tempDir(prefix = "vs1984-test-"): [string, () => void] {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return [dir, () => rmSync(dir, { recursive: true, force: true })];
}

/** Runs `fn` in a fresh temporary folder, removed afterwards whatever happens. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const [dir, remove] = tempDir(prefix);
  try {
    return await fn(dir);
  } finally {
    remove();
  }
}

/**
 * A started ledger on real RocksDB in a temp folder, whose clock runs with the chain (each block
 * one blockTime after its parent) so difficulty stays put however fast the test mines.
 */
export async function openLedger(
  genesis: GenesisConfig,
  opts: Partial<LedgerOptions> & { datadir?: string } = {},
): Promise<[Ledger, () => Promise<void>]> {
  const [dir, removeDir] = opts.datadir ? [opts.datadir, () => undefined] : tempDir();
  let ledger: Ledger | null = null;
  const chainClock = (): bigint => (ledger ? ledger.chain.head.header.timestamp : genesis.timestamp) + BigInt(genesis.consensus.blockTime);
  ledger = new Ledger({ now: chainClock, ...opts, datadir: dir, genesis });
  await ledger.start();
  const l = ledger;
  return [
    l,
    async () => {
      await l.stop();
      removeDir();
    },
  ];
}

/** Fee caps of a test transfer, in wei. */
export interface TransferFees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

const DEFAULT_FEES: TransferFees = { maxFeePerGas: 3n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n };

/** Signs (ethers) a type 2 transfer from dev account `from` and pools it in `ledger`; returns its hash. */
export async function sendTransfer(
  ledger: Ledger,
  from: number,
  to: string,
  value: bigint,
  nonce: number,
  fees: TransferFees = DEFAULT_FEES,
): Promise<Hex> {
  const raw = await devWallet(from).signTransaction({
    type: 2,
    chainId: Number(ledger.chain.genesis.chainId),
    nonce,
    to,
    value,
    gasLimit: 21000,
    ...fees,
  });
  return ledger.submitRawTransaction(hexToBytes(raw as Hex));
}
