// `vs1984 content`: publish encrypted content, buy it, get it once the author's node delivered the
// key, refund it after the deadline. Talks to a node over JSON-RPC as `vs1984 wallet send` does;
// keys are signed locally from a keystore file. Formats and the life of a purchase: docs/content.md.
import { readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import { Command, InvalidArgumentError } from "commander";
import { Interface, type Result, SigningKey, Wallet, getAddress } from "ethers";
import { CONTENT_REGISTRY_ABI, CONTENT_REGISTRY_ADDRESS, decodeSubRef, keccak256, type Hex } from "../../chain/index.js";
import { checkKeyCommitment, decryptContent, encryptContent, generateContentKey, keyCommitment } from "../content/contentCipher.js";
import { ContentError } from "../content/contentError.js";
import { eciesDecrypt } from "../content/ecies.js";
import { storeContentKey } from "../content/keyStore.js";
import { loadKeystore } from "../keystore.js";
import { JsonRpcClient, RpcCallError } from "./mine.js";
import { integerArg } from "./args.js";
import { readPassword } from "./password.js";
import { DEFAULT_RPC_URL, DEFAULT_WALLET_DATADIR, formatVs, valueArg } from "./wallet.js";

const registry = new Interface(CONTENT_REGISTRY_ABI);

/** A sub-chain as vs_getSubchains answers it (the fields the CLI reads). */
interface SubchainInfo {
  id: number;
  name: string;
  payloadGasPerByte: bigint;
  maxPayloadBytes: number;
}

function subchainArg(value: string): string {
  if (!/^[a-z0-9_-]{1,32}$/.test(value)) throw new InvalidArgumentError("must be a sub-chain name (pins, posts, bt, comments, ...) or id");
  return value;
}

/** The sub-chain `nameOrId` names, as the node's genesis declares it (vs_getSubchains); an error lists the declared ones. */
async function resolveSubchain(s: Session, nameOrId: string): Promise<SubchainInfo> {
  const list = ((await s.client.call("vs_getSubchains")) as { id: string; name: string; payloadGasPerByte: string; maxPayloadBytes: string }[]).map((d) => ({
    id: Number(BigInt(d.id)),
    name: d.name,
    payloadGasPerByte: BigInt(d.payloadGasPerByte),
    maxPayloadBytes: Number(BigInt(d.maxPayloadBytes)),
  }));
  const found = list.find((d) => d.name === nameOrId || String(d.id) === nameOrId);
  if (!found) throw new Error(`unknown sub-chain "${nameOrId}": the node's genesis declares ${list.map((d) => `${d.name} (${d.id})`).join(", ")}`);
  return found;
}

/** Largest content id the registry can hold (a uint256). */
const MAX_CONTENT_ID = 2n ** 256n - 1n;

function contentIdArg(value: string): bigint {
  if (!/^[1-9][0-9]*$/.test(value) || BigInt(value) > MAX_CONTENT_ID) throw new InvalidArgumentError("must be a content id (1, 2, ...)");
  return BigInt(value);
}

/** Largest payload file `content get --payload` reads: the genesis caps every sub-chain's payloads at 16 MiB. */
const MAX_PAYLOAD_FILE_BYTES = 16 * 1024 * 1024;

/** The size of `file` if it is a regular file; a missing file, a folder, a device or a pipe is refused (before any prompt). */
async function regularFileSize(file: string, what: string): Promise<number> {
  let s;
  try {
    s = await stat(file);
  } catch (e) {
    throw new Error(`cannot read ${what} ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (!s.isFile()) throw new Error(`cannot read ${what} ${file}: not a regular file`);
  return s.size;
}

const countArg = integerArg(1, 1_000_000, "must be a whole number from 1 to 1000000");

interface AccountOpts {
  keystore: string;
  passwordFile?: string;
  rpc: string;
  timeout: number;
}

/** The signing account of a content command and the node it talks to. */
interface Session {
  client: JsonRpcClient;
  wallet: Wallet;
  address: Hex;
  /** The keystore password (publish stores the content key under it). */
  password: string;
  chainId: bigint;
  timeoutMs: number;
}

async function open(opts: AccountOpts): Promise<Session> {
  const file = resolve(opts.keystore);
  const password = await readPassword(opts.passwordFile, { prompt: `Password for ${file}: ` });
  const { privateKey, address } = await loadKeystore(file, password);
  const wallet = new Wallet(new SigningKey(privateKey));
  privateKey.fill(0);
  const client = new JsonRpcClient(opts.rpc);
  const chainId = BigInt((await client.call("eth_chainId")) as string);
  return { client, wallet, address, password, chainId, timeoutMs: opts.timeout * 1000 };
}

/** A registry view through eth_call; a revert becomes an error carrying its reason. */
async function view(s: Session, fn: string, args: unknown[]): Promise<Result> {
  const data = registry.encodeFunctionData(fn, args);
  const out = (await s.client.call("eth_call", [{ from: s.address, to: CONTENT_REGISTRY_ADDRESS, data }, "latest"])) as string;
  return registry.decodeFunctionResult(fn, out);
}

interface Receipt {
  status: string;
  blockNumber: string;
  gasUsed: string;
  logs: { address: string; topics: string[]; data: string }[];
}

/**
 * Signs a type 2 registry call (pending nonce, estimated gas plus the payload's, fee cap 2 × base
 * fee + tip), sends it (with `payload`: through vs_sendRawTransactionWithPayload) and waits for
 * its receipt. A call that would revert is refused before it is sent, with the module's reason.
 */
async function send(s: Session, data: string, value: bigint, payload?: { bytes: Uint8Array; gasPerByte: bigint }): Promise<{ hash: Hex; receipt: Receipt }> {
  const { client } = s;
  const call = { from: s.address, to: CONTENT_REGISTRY_ADDRESS, data, value: `0x${value.toString(16)}` };
  const estimate = BigInt((await client.call("eth_estimateGas", [call, "latest"])) as string);
  // eth_estimateGas cannot see the payload: its gas is the sub-chain's rate per byte
  const gasLimit = estimate + (payload ? payload.gasPerByte * BigInt(payload.bytes.length) : 0n);
  const nonce = Number(BigInt((await client.call("eth_getTransactionCount", [s.address, "pending"])) as string));
  const head = (await client.call("eth_getBlockByNumber", ["latest", false])) as { baseFeePerGas: string };
  const tip = BigInt((await client.call("eth_maxPriorityFeePerGas")) as string);
  const raw = await s.wallet.signTransaction({
    type: 2,
    chainId: s.chainId,
    nonce,
    to: CONTENT_REGISTRY_ADDRESS,
    value,
    data,
    gasLimit,
    maxFeePerGas: 2n * BigInt(head.baseFeePerGas) + tip,
    maxPriorityFeePerGas: tip,
  });
  // the one place a payload travels: the node checks it against the publish call's contentHash
  const hash = (payload
    ? await client.call("vs_sendRawTransactionWithPayload", [raw, bytesToHex(payload.bytes)])
    : await client.call("eth_sendRawTransaction", [raw])) as Hex;
  console.log(`Transaction: ${hash}`);
  const deadline = Date.now() + s.timeoutMs;
  for (;;) {
    const receipt = (await client.call("eth_getTransactionReceipt", [hash])) as Receipt | null;
    if (receipt) {
      if (receipt.status !== "0x1") throw new Error(`transaction ${hash} failed in block ${BigInt(receipt.blockNumber)}`);
      return { hash, receipt };
    }
    if (Date.now() > deadline) throw new Error(`no receipt after ${s.timeoutMs / 1000} s; the transaction may still be included: ${hash}`);
    await sleep(250);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function withAccount(cmd: Command, timeout: number): Command {
  return cmd
    .requiredOption("--keystore <file>", "keystore file of the account that signs")
    .option("--password-file <file>", "read the keystore password from the first line of this file (else a prompt)")
    .option("--rpc <url>", "the node's HTTP JSON-RPC endpoint", DEFAULT_RPC_URL)
    .option("--timeout <seconds>", "how long to wait", countArg, timeout);
}

function publishCommand(): Command {
  return withAccount(new Command("publish"), 60)
    .description("encrypt a file with a fresh content key, store the key, and publish the ciphertext with its price and key commitment")
    .argument("<file>", "the file to publish")
    .requiredOption("--price <VS>", "price in VS, e.g. 1.5", valueArg)
    .requiredOption("--subchain <name>", "sub-chain of the payload, by name or id as the node's genesis declares it (pins, posts, bt, comments on the shipped chains)", subchainArg)
    .option("--delivery-blocks <n>", "blocks the author has to deliver the key after a purchase", countArg, 100)
    .option("--datadir <dir>", "data folder whose content-keys/ receives the content key (the author's node's)", DEFAULT_WALLET_DATADIR)
    .option("--save-payload <file>", "also write the encrypted payload to this file")
    .action(async (file: string, opts: AccountOpts & { price: bigint; subchain: string; deliveryBlocks: number; datadir: string; savePayload?: string }) => {
      const size = await regularFileSize(file, "the file to publish");
      const s = await open(opts);
      const subchain = await resolveSubchain(s, opts.subchain);
      // encryption only adds to it: a larger file cannot fit, and is not read into memory
      if (size > subchain.maxPayloadBytes) {
        throw new Error(`${file} is ${size} bytes: sub-chain ${subchain.name} takes payloads of at most ${subchain.maxPayloadBytes} bytes (encrypted)`);
      }
      const plain = await readFile(file);
      const key = generateContentKey();
      const payload = encryptContent(plain, key);
      if (payload.length > subchain.maxPayloadBytes) {
        throw new Error(`the encrypted file is ${payload.length} bytes: sub-chain ${subchain.name} takes at most ${subchain.maxPayloadBytes}`);
      }
      const contentHash = bytesToHex(keccak256(payload)) as Hex;
      const commitment = keyCommitment(key);
      // stored before the commitment goes on chain: a published key must never be lost
      const keyFile = await storeContentKey(resolve(opts.datadir), contentHash, key, s.password);
      key.fill(0);
      if (opts.savePayload) await writeFile(opts.savePayload, payload);
      const data = registry.encodeFunctionData("publish", [contentHash, subchain.id, opts.price, commitment, BigInt(opts.deliveryBlocks)]);
      const { receipt } = await send(s, data, 0n, { bytes: payload, gasPerByte: subchain.payloadGasPerByte });
      const log = receipt.logs.map((l) => registry.parseLog(l)).find((l) => l?.name === "ContentPublished");
      if (!log) throw new Error("the receipt has no ContentPublished log");
      const subRef = log.args[3] as bigint;
      const ref = decodeSubRef(subRef);
      console.log(`Content id:   ${log.args[0] as bigint}`);
      console.log(`subRef:       0x${subRef.toString(16)} (sub-chain ${ref.subchainId}, sub-block ${ref.subNumber}, index ${ref.index})`);
      console.log(`Content hash: ${contentHash}`);
      console.log(`Price:        ${formatVs(opts.price)}`);
      console.log(`Content key:  ${keyFile} (encrypted with the keystore's password)`);
    });
}

function buyCommand(): Command {
  return withAccount(new Command("buy"), 60)
    .description("purchase content: pay its exact price into the registry's escrow")
    .argument("<contentId>", "the content id", contentIdArg)
    .action(async (id: bigint, opts: AccountOpts) => {
      const s = await open(opts);
      const c = await view(s, "getContent", [id]);
      const price = c[3] as bigint;
      // the registry would take either purchase: refused here, before any fee is spent
      if (getAddress(c[0] as string) === getAddress(s.address)) {
        throw new Error(`${getAddress(s.address)} is the author of content ${id}: its content key is in the author's content key store, there is nothing to buy`);
      }
      const p = await view(s, "getPurchase", [id, s.address]);
      if ((p[1] as bigint) !== 0n && !(p[3] as boolean)) {
        throw new Error(`${getAddress(s.address)} already bought content ${id} in block ${p[1] as bigint}: get it with vs1984 content get ${id}`);
      }
      console.log(`Buying content ${id} by ${getAddress(c[0] as string)} for ${formatVs(price)}`);
      const { receipt } = await send(s, registry.encodeFunctionData("purchase", [id]), price);
      const deadline = BigInt(receipt.blockNumber) + (c[5] as bigint);
      console.log(`Purchased in block ${BigInt(receipt.blockNumber)}; the key is due by block ${deadline}, a refund is possible after it`);
    });
}

function getCommand(): Command {
  return withAccount(new Command("get"), 300)
    .description("wait for the content key delivered to this account, check it, decrypt the content and write it")
    .argument("<contentId>", "the content id", contentIdArg)
    .requiredOption("--out <file>", "where to write the decrypted content")
    .option("--payload <file>", "the encrypted payload from a file instead of vs_getPayload (checked against the content hash all the same)")
    .action(async (id: bigint, opts: AccountOpts & { out: string; payload?: string }) => {
      if (opts.payload && (await regularFileSize(opts.payload, "the payload file")) > MAX_PAYLOAD_FILE_BYTES) {
        throw new Error(`the payload file ${opts.payload} is larger than any payload (${MAX_PAYLOAD_FILE_BYTES} bytes at most)`);
      }
      // a folder that is not there fails now, not after the wait for the key
      const outDir = dirname(resolve(opts.out));
      if (!(await stat(outDir).catch(() => undefined))?.isDirectory()) throw new Error(`cannot write ${opts.out}: no folder ${outDir}`);
      const s = await open(opts);
      const c = await view(s, "getContent", [id]);
      const [contentHash, commitment, deliveryBlocks] = [c[2] as Hex, c[4] as Hex, c[5] as bigint];
      const p = await view(s, "getPurchase", [id, s.address]);
      const purchaseBlock = p[1] as bigint;
      if (purchaseBlock === 0n) throw new Error(`${getAddress(s.address)} has no purchase of content ${id}: run vs1984 content buy ${id} first`);
      if (p[3] as boolean) throw new Error(`the purchase of content ${id} by ${getAddress(s.address)} was refunded`);
      const due = purchaseBlock + deliveryBlocks;
      const refundHint = `vs1984 content refund ${id} --keystore ${opts.keystore}`;
      const stopAt = Date.now() + s.timeoutMs;
      let sealed: string;
      let waiting = false;
      for (;;) {
        sealed = (await view(s, "getEncryptedKey", [id, s.address]))[0] as string;
        if (sealed !== "0x") break;
        const head = BigInt((await s.client.call("eth_blockNumber")) as string);
        if (head > due) {
          console.log(`No key delivered by block ${due}, the deadline: the price can be taken back with\n  ${refundHint}`);
          process.exitCode = 2;
          return;
        }
        if (Date.now() > stopAt) throw new Error(`no key delivered after ${opts.timeout} s (block ${head}; the deadline is block ${due}, a refund is possible after it)`);
        // said once, so a wait of up to --timeout is not taken for a hang
        if (!waiting) console.log(`Waiting up to ${opts.timeout} s for the author's node to deliver the key (block ${head}; due by block ${due})`);
        waiting = true;
        await sleep(1000);
      }
      const accountKey = hexToBytes(s.wallet.privateKey as Hex);
      let key: Uint8Array;
      try {
        key = eciesDecrypt(accountKey, hexToBytes(sealed as Hex));
      } catch (e) {
        const code = e instanceof ContentError ? ` (${e.code})` : "";
        throw new Error(`wrong key: the delivered box does not open with this account's key${code}; the escrow is already released (docs/content.md)`, { cause: e });
      } finally {
        accountKey.fill(0);
      }
      try {
        checkKeyCommitment(key, commitment);
      } catch (e) {
        key.fill(0);
        throw new Error(`wrong key: the delivered key does not match the on-chain commitment ${commitment}; the escrow is already released (docs/content.md)`, { cause: e });
      }
      let plain: Uint8Array;
      try {
        const payload = opts.payload ? new Uint8Array(await readFile(opts.payload)) : await fetchPayload(s, contentHash);
        if (bytesToHex(keccak256(payload)) !== contentHash) throw new Error(`the payload does not hash to the content hash ${contentHash}`);
        try {
          plain = decryptContent(payload, key);
        } catch (e) {
          if (!(e instanceof ContentError)) throw e;
          // the payload is the published one and the key the committed one: the author published a bad ciphertext
          throw new Error(`bad content: the published payload does not decrypt with the committed key (${e.message}); the escrow is already released (docs/content.md)`, { cause: e });
        }
      } finally {
        key.fill(0);
      }
      const tmp = `${opts.out}.partial`;
      try {
        await writeFile(tmp, plain);
        await rename(tmp, opts.out);
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        throw e;
      }
      console.log(`Key checked against the commitment; wrote ${plain.length} bytes to ${opts.out}`);
    });
}

/** The payload from the node (vs_getPayload); its hash is checked against the on-chain contentHash by the caller. */
async function fetchPayload(s: Session, contentHash: Hex): Promise<Uint8Array> {
  let found: { payload: Hex | null } | null;
  try {
    found = (await s.client.call("vs_getPayload", [contentHash])) as { payload: Hex | null } | null;
  } catch (e) {
    if (e instanceof RpcCallError && e.code === -32601) throw new Error("this node does not serve vs_getPayload: give the encrypted payload with --payload FILE", { cause: e });
    throw e;
  }
  if (!found) throw new Error(`no canonical sub-block carries payload ${contentHash} (yet)`);
  if (!found.payload) throw new Error(`the node does not store payload ${contentHash} (a sub-chain it does not follow): ask a node that follows it, or give --payload FILE`);
  return hexToBytes(found.payload);
}

function refundCommand(): Command {
  return withAccount(new Command("refund"), 60)
    .description("take the price back after the delivery deadline passed without a key")
    .argument("<contentId>", "the content id", contentIdArg)
    .action(async (id: bigint, opts: AccountOpts) => {
      const s = await open(opts);
      const { receipt } = await send(s, registry.encodeFunctionData("refund", [id]), 0n);
      const log = receipt.logs.map((l) => registry.parseLog(l)).find((l) => l?.name === "Refunded");
      console.log(`Refunded ${formatVs((log?.args[2] as bigint | undefined) ?? 0n)} in block ${BigInt(receipt.blockNumber)}`);
    });
}

/** The `vs1984 content` command: publish, buy, get, refund. */
export function contentCommand(): Command {
  return new Command("content")
    .description("paid content: publish encrypted files, buy them, get them once the key is delivered, refund")
    .addCommand(publishCommand())
    .addCommand(buyCommand())
    .addCommand(getCommand())
    .addCommand(refundCommand())
    .addHelpText("after", "\nThe author's node delivers keys when it runs with --content.keystore (docs/content.md, \"Key-delivery service\").");
}
