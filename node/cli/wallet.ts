import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import { Command, InvalidArgumentError } from "commander";
import { JsonRpcProvider, Network, SigningKey, Wallet, computeAddress, getAddress, isAddress, parseEther } from "ethers";
import type { Hex } from "../../chain/index.js";
import { checkDatadir } from "../dataDir.js";
import { keystoreDir, listKeystores, loadKeystore, writeKeystore } from "../keystore.js";
import { JsonRpcClient } from "./mine.js";
import { integerArg } from "./args.js";
import { readPassword, readSecret } from "./password.js";

/** The keystore data folder when `--datadir` is not given (the dev chain's, as `vs1984 node --dev` uses). */
export const DEFAULT_WALLET_DATADIR = "./.vs1984/dev";

/** The node `balance` and `send` talk to when `--rpc` is not given. */
export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";

const WEI_PER_VS = 10n ** 18n;

/** Formats wei as VS with all 18 decimals, e.g. `1.500000000000000000 VS`. */
export function formatVs(wei: bigint): string {
  const sign = wei < 0n ? "-" : "";
  const abs = wei < 0n ? -wei : wei;
  return `${sign}${abs / WEI_PER_VS}.${(abs % WEI_PER_VS).toString().padStart(18, "0")} VS`;
}

function addressArg(value: string): Hex {
  if (!isAddress(value)) throw new InvalidArgumentError("must be a 20-byte 0x address (with a valid checksum when mixed-case)");
  return value.toLowerCase() as Hex;
}

/** Parses an amount of VS (`1.5`, at most 18 decimals, not negative) into wei; a commander argument parser. */
export function valueArg(value: string): bigint {
  let wei: bigint;
  try {
    wei = parseEther(value);
  } catch {
    throw new InvalidArgumentError("must be an amount of VS such as 1.5 (at most 18 decimals)");
  }
  if (wei < 0n) throw new InvalidArgumentError("must not be negative");
  return wei;
}

const secondsArg = integerArg(1, 86_400, "must be whole seconds from 1 to 86400");

/** Parses a private key as hex (with or without 0x); the message never repeats the input. */
function parsePrivateKey(text: string): Uint8Array {
  const hex = text.trim().replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error("the private key must be 32 bytes of hex (64 digits, 0x optional)");
  try {
    void new SigningKey(`0x${hex}`).publicKey;
  } catch {
    throw new Error("the private key is not a valid secp256k1 key");
  }
  return hexToBytes(`0x${hex}`);
}

async function newPassword(passwordFile: string | undefined): Promise<string> {
  const password = await readPassword(passwordFile, { confirm: true, prompt: "Password for the new keystore: " });
  if (password === "") throw new Error("the password is empty: a keystore needs a password");
  return password;
}

/** Opens the node at `url`: one plain call first, so a wrong URL fails at once instead of ethers retrying forever. */
async function connect(url: string): Promise<JsonRpcProvider> {
  const chainId = await new JsonRpcClient(url).call("eth_chainId");
  if (typeof chainId !== "string" || !/^0x[0-9a-fA-F]+$/.test(chainId)) throw new Error(`eth_chainId at ${url} answered ${JSON.stringify(chainId)}`);
  const network = Network.from(BigInt(chainId));
  return new JsonRpcProvider(url, network, { staticNetwork: network });
}

interface DatadirOpts {
  datadir: string;
}

function withDatadir(cmd: Command): Command {
  return cmd.option("--datadir <dir>", "data folder whose keystore/ holds the keys", DEFAULT_WALLET_DATADIR);
}

function newCommand(): Command {
  return withDatadir(new Command("new"))
    .description("create a new key and store it in an encrypted keystore file")
    .option("--password-file <file>", "read the password from the first line of this file (else a prompt, asked twice)")
    .action(async (opts: DatadirOpts & { passwordFile?: string }) => {
      const dir = await walletKeystoreDir(opts.datadir);
      const password = await newPassword(opts.passwordFile);
      let key: Uint8Array;
      do key = new Uint8Array(randomBytes(32));
      while (!isValidKey(key));
      const { file, address } = await writeKeystore(dir, key, password);
      key.fill(0);
      console.log(`Address:  ${getAddress(address)}`);
      console.log(`Keystore: ${file}`);
      console.log("Keep a backup of the keystore file and its password: without both the key is lost.");
    });
}

function isValidKey(key: Uint8Array): boolean {
  try {
    void new SigningKey(key).publicKey;
    return true;
  } catch {
    return false;
  }
}

function importCommand(): Command {
  return withDatadir(new Command("import"))
    .description("store an existing private key in an encrypted keystore file")
    .option("--key-file <file>", "read the hex private key from the first line of this file (else a hidden prompt)")
    .option("--password-file <file>", "read the password from the first line of this file (else a prompt, asked twice)")
    .action(async (opts: DatadirOpts & { keyFile?: string; passwordFile?: string }) => {
      const dir = await walletKeystoreDir(opts.datadir);
      const keyText = await readSecret({ file: opts.keyFile, prompt: "Private key (hex): ", fileOption: "--key-file", what: "private key" });
      const key = parsePrivateKey(keyText);
      const address = computeAddress(bytesToHex(key)).toLowerCase() as Hex;
      const existing = (await listKeystores(dir)).find((e) => e.address === address);
      if (existing) throw new Error(`a keystore for ${getAddress(address)} already exists: ${existing.file}`);
      const password = await newPassword(opts.passwordFile);
      const { file } = await writeKeystore(dir, key, password);
      key.fill(0);
      console.log(`Address:  ${getAddress(address)}`);
      console.log(`Keystore: ${file}`);
    });
}

function listCommand(): Command {
  return withDatadir(new Command("list"))
    .description("list the addresses and files in the keystore folder")
    .action(async (opts: DatadirOpts) => {
      const dir = await walletKeystoreDir(opts.datadir);
      const entries = await listKeystores(dir);
      if (entries.length === 0) {
        console.log(`No keystores in ${dir}`);
        return;
      }
      for (const e of entries) {
        console.log(e.address ? `${getAddress(e.address)}  ${e.file}` : `(unreadable: ${e.problem})  ${e.file}`);
      }
    });
}

function balanceCommand(): Command {
  return new Command("balance")
    .description("print an address's balance at the latest block, in VS")
    .argument("<address>", "the account's 0x address", addressArg)
    .option("--rpc <url>", "the node's HTTP JSON-RPC endpoint", DEFAULT_RPC_URL)
    .action(async (address: Hex, opts: { rpc: string }) => {
      const provider = await connect(opts.rpc);
      try {
        console.log(formatVs(await provider.getBalance(address)));
      } finally {
        provider.destroy();
      }
    });
}

/** The keystore folder of `--datadir`, refused when a file stands on the data dir's path. */
async function walletKeystoreDir(datadir: string): Promise<string> {
  const dir = resolve(datadir);
  await checkDatadir(dir);
  return keystoreDir(dir);
}

/** Which keystore `send` signs with: `--keystore`, else `--from` in the datadir, else the datadir's only key. */
async function pickKeystore(opts: { keystore?: string; from?: Hex; datadir: string }): Promise<string> {
  if (opts.keystore) return resolve(opts.keystore);
  const dir = await walletKeystoreDir(opts.datadir);
  const entries = (await listKeystores(dir)).filter((e) => e.address !== null);
  if (opts.from) {
    const match = entries.find((e) => e.address === opts.from);
    if (!match) throw new Error(`no keystore for ${getAddress(opts.from)} in ${dir}`);
    return match.file;
  }
  if (entries.length === 1) return entries[0]!.file;
  throw new Error(entries.length === 0 ? `no keystores in ${dir}: give --keystore FILE` : `${entries.length} keystores in ${dir}: choose one with --keystore FILE or --from ADDRESS`);
}

function sendCommand(): Command {
  return withDatadir(new Command("send"))
    .description("send VS: sign a type 2 (EIP-1559) transfer, submit it and wait for its receipt")
    .requiredOption("--to <address>", "recipient 0x address", addressArg)
    .requiredOption("--value <VS>", "amount in VS, e.g. 1.5", valueArg)
    .option("--keystore <file>", "keystore file of the sender (else --from, else the datadir's only keystore)")
    .option("--from <address>", "sender address whose keystore is in the datadir", addressArg)
    .option("--password-file <file>", "read the keystore password from the first line of this file (else a prompt)")
    .option("--rpc <url>", "the node's HTTP JSON-RPC endpoint", DEFAULT_RPC_URL)
    .option("--timeout <seconds>", "how long to wait for the receipt", secondsArg, 60)
    .action(async (opts: DatadirOpts & { to: Hex; value: bigint; keystore?: string; from?: Hex; passwordFile?: string; rpc: string; timeout: number }) => {
      const file = await pickKeystore(opts);
      const password = await readPassword(opts.passwordFile, { prompt: `Password for ${file}: ` });
      const { privateKey } = await loadKeystore(file, password);
      const provider = await connect(opts.rpc);
      try {
        const wallet = new Wallet(new SigningKey(privateKey), provider);
        privateKey.fill(0);
        const tx = await wallet.sendTransaction({ type: 2, to: opts.to, value: opts.value });
        console.log(`Sent ${formatVs(opts.value)} from ${wallet.address} to ${getAddress(opts.to)}`);
        console.log(`Transaction: ${tx.hash}`);
        let receipt;
        try {
          receipt = await tx.wait(1, opts.timeout * 1000);
        } catch (e) {
          if ((e as { code?: unknown }).code === "TIMEOUT") {
            throw new Error(`no receipt after ${opts.timeout} s; the transaction may still be included: ${tx.hash}`, { cause: e });
          }
          throw e;
        }
        if (!receipt) throw new Error(`no receipt for ${tx.hash}`);
        console.log(`Included in block ${receipt.blockNumber} (${receipt.status === 1 ? "success" : "failed"}, gas used ${receipt.gasUsed})`);
        if (receipt.status !== 1) process.exitCode = 1;
      } finally {
        provider.destroy();
      }
    });
}

/** The `vs1984 wallet` command: keystores (new, import, list) and a node's accounts over RPC (balance, send). */
export function walletCommand(): Command {
  return new Command("wallet")
    .description("manage keys in encrypted keystores (Web3 Secret Storage v3) and send VS")
    .addCommand(newCommand())
    .addCommand(importCommand())
    .addCommand(listCommand())
    .addCommand(balanceCommand())
    .addCommand(sendCommand())
    .addHelpText(
      "after",
      "\nKeystores live in <datadir>/keystore/ as UTC--<time>--<address> files (mode 0600), readable by geth and ethers.\nPasswords and keys come from a file or a hidden prompt, never from the command line.",
    );
}
