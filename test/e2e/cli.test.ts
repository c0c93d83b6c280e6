import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { JsonRpcProvider, Wallet, parseEther } from "ethers";
import { ChainEvent, loadGenesis, type Hex } from "../../chain/index.js";
import { ExternalMiner, type ExternalMinerStatus } from "../../node/cli/mine.js";
import { genesisHash } from "../../node/cli/genesisCheck.js";
import { keystoreDir, writeKeystore } from "../../node/keystore.js";
import type { Ledger } from "../../node/ledger.js";
import type { VsNode } from "../../node/node.js";
import { devWallet, keyOf, openLedger, tempDir } from "../helpers/ledger.js";
import { startTestNode } from "../helpers/node.js";

const ROOT = join(new URL(".", import.meta.url).pathname, "../..");
const BIN = join(ROOT, "bin", "vs1984.js");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `vs1984 <args>` as a user would (stdin a pipe, so not a terminal). */
function spawnCli(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: "" } });
}

/** Runs `vs1984 <args>` to the end (killed after `timeoutMs`). */
async function vs1984(args: string[], timeoutMs = 30_000): Promise<Run> {
  const child = spawnCli(args);
  child.stdin.end();
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

let dir: string;
let passwordFile: string;
beforeAll(async () => {
  const [d, remove] = tempDir("vs1984-cli-");
  closers.push(remove);
  dir = d;
  passwordFile = join(dir, "password.txt");
  await writeFile(passwordFile, "e2e password\n", { mode: 0o600 });
});

describe("vs1984 wallet", () => {
  it("new creates a keystore that ethers opens, and list shows it", async () => {
    const datadir = join(dir, "new");
    const run = await vs1984(["wallet", "new", "--datadir", datadir, "--password-file", passwordFile]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const address = run.stdout.match(/^Address: +(0x[0-9a-fA-F]{40})$/m)?.[1];
    const file = run.stdout.match(/^Keystore: +(.+)$/m)?.[1];
    expect(address).toBeDefined();
    expect(file!.startsWith(keystoreDir(datadir))).toBe(true);
    expect((await stat(file!)).mode & 0o777).toBe(0o600);
    const wallet = await Wallet.fromEncryptedJson(await readFile(file!, "utf8"), "e2e password");
    expect(wallet.address).toBe(address);

    const list = await vs1984(["wallet", "list", "--datadir", datadir]);
    expect(list.code).toBe(0);
    expect(list.stdout.trim()).toBe(`${address}  ${file}`);
  });

  it("import stores a key read from --key-file, and refuses the same key twice", async () => {
    const datadir = join(dir, "import");
    const keyFile = join(dir, "key.txt");
    const dev = devWallet(3);
    await writeFile(keyFile, `${dev.privateKey}\n`, { mode: 0o600 });
    const run = await vs1984(["wallet", "import", "--datadir", datadir, "--key-file", keyFile, "--password-file", passwordFile]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Address:  ${dev.address}`);
    const file = run.stdout.match(/^Keystore: +(.+)$/m)![1]!;
    expect((await Wallet.fromEncryptedJson(await readFile(file, "utf8"), "e2e password")).privateKey).toBe(dev.privateKey);

    const again = await vs1984(["wallet", "import", "--datadir", datadir, "--key-file", keyFile, "--password-file", passwordFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`a keystore for ${dev.address} already exists: ${file}`);
  });

  it("import refuses a key file that holds no key, without repeating its content", async () => {
    const keyFile = join(dir, "bad-key.txt");
    await writeFile(keyFile, "0x1234secretish\n");
    const run = await vs1984(["wallet", "import", "--datadir", join(dir, "bad"), "--key-file", keyFile, "--password-file", passwordFile]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("the private key must be 32 bytes of hex");
    expect(run.stderr + run.stdout).not.toContain("secretish");
  });

  it("without a terminal and without --password-file, says how to give the password", async () => {
    const run = await vs1984(["wallet", "new", "--datadir", join(dir, "nopw")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("no password: give --password-file FILE");
  });

  it("list says when the keystore folder is empty", async () => {
    const run = await vs1984(["wallet", "list", "--datadir", join(dir, "empty")]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`No keystores in ${join(dir, "empty", "keystore")}`);
  });

  it("balance fails clearly when the node cannot be reached", async () => {
    const run = await vs1984(["wallet", "balance", devWallet(0).address, "--rpc", "http://127.0.0.1:9"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("cannot reach http://127.0.0.1:9");
  });

  it("has --help for every sub-command", async () => {
    const help = await vs1984(["wallet", "--help"]);
    expect(help.code).toBe(0);
    for (const sub of ["new", "import", "list", "balance", "send"]) expect(help.stdout).toMatch(new RegExp(`^  ${sub}\\b`, "m"));
    const send = await vs1984(["wallet", "send", "--help"]);
    for (const opt of ["--to <address>", "--value <VS>", "--keystore <file>", "--rpc <url>", "--password-file <file>"]) expect(send.stdout).toContain(opt);
  });
});

describe("vs1984 genesis check", () => {
  it("prints the summary and the genesis hash of a valid file", async () => {
    const file = join(ROOT, "genesis", "dev.json");
    const run = await vs1984(["genesis", "check", file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Name: +vs1984-dev$/m);
    expect(run.stdout).toMatch(/^Chain id: +1984$/m);
    expect(run.stdout).toMatch(/^Miners \(3\): +0x14dC79964da2C08b23698B3D3cc7Ca32193d9955, /m);
    expect(run.stdout).toMatch(/^Sub-chains \(4\): +0 pins \(16 gas\/byte, payload <= 4 KiB, sub-block <= 256 KiB\); 1 posts /m);
    expect(run.stdout).toMatch(/^Alloc: +10 account\(s\), 100000\.000000000000000000 VS in total$/m);
    const hash = run.stdout.match(/^Genesis hash: +(0x[0-9a-f]{64})$/m)?.[1];
    // the hash a node writes for this genesis
    const genesis = await loadGenesis(file);
    const [ledger, close] = await openLedger(genesis);
    try {
      expect(hash).toBe((await ledger.chain.getBlockByNumber(0n))!.hash);
      expect(await genesisHash(genesis)).toBe(hash);
    } finally {
      await close();
    }
  });

  it("exits 1 naming the bad field", async () => {
    const json = JSON.parse(await readFile(join(ROOT, "genesis", "dev.json"), "utf8")) as { consensus: { scrypt: { N: number } } };
    json.consensus.scrypt.N = 1000;
    const file = join(dir, "bad-genesis.json");
    await writeFile(file, JSON.stringify(json));
    const run = await vs1984(["genesis", "check", file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('genesis field "consensus.scrypt.N": must be a power of two');
    expect(run.stdout).toBe("");
  });

  it("exits 1 for a file that is not JSON", async () => {
    const file = join(dir, "not-json.json");
    await writeFile(file, "{");
    const run = await vs1984(["genesis", "check", file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("is not valid JSON");
  });
});

function headReaches(ledger: Ledger, n: bigint, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`head did not reach ${n}`)), timeoutMs);
    const check = (): void => {
      if (ledger.chain.head.header.number < n) return;
      clearTimeout(timer);
      ledger.chain.off(ChainEvent.newHead, check);
      resolve();
    };
    ledger.chain.on(ChainEvent.newHead, check);
    check();
  });
}

/** A node that does not mine, for the external miner; its RPC URL. */
async function idleNode(): Promise<[VsNode, string]> {
  const [node, close] = await startTestNode({ mine: false });
  closers.push(close);
  return [node, node.rpc!.url];
}

describe("external miner against a node started without mining", () => {
  const miner = devWallet(9);
  const address = miner.address.toLowerCase() as Hex;

  it("ExternalMiner mines blocks, reports its hashrate and stops cleanly", async () => {
    const [node, url] = await idleNode();
    const ledger = node.ledger;
    const seen: ExternalMinerStatus[] = [];
    const m = new ExternalMiner({ rpcUrl: url, threads: 2, refreshMs: 500, hashrateMs: 0 }, { key: keyOf(miner), address, onStatus: (s) => seen.push(s) });
    await m.start();
    await m.start(); // idempotent
    expect(m.workParams).toEqual({ N: 16, r: 1, p: 1 });
    await headReaches(ledger, 3n);
    await new Promise((r) => setTimeout(r, 1100)); // one status tick, which reports the hashrate
    await m.stop();
    await m.stop();
    const head = ledger.chain.head;
    await new Promise((r) => setTimeout(r, 300));
    expect(ledger.chain.head.hash).toBe(head.hash); // nothing mined after stop()
    expect(head.header.miner).toBe(address);
    expect(m.status.found).toBe(Number(head.header.number));
    expect(m.status.rejected).toBe(0);
    expect(m.status.hashes).toBeGreaterThanOrEqual(m.status.found);
    expect(seen.some((s) => s.event === "accepted" && s.lastResult === "block 1 accepted")).toBe(true);
    expect(seen.some((s) => s.event === "tick" && s.hashrate > 0)).toBe(true);
    const provider = new JsonRpcProvider(url, 1984, { staticNetwork: true });
    expect(BigInt((await provider.send("eth_hashrate", [])) as string)).toBeGreaterThan(0n);
    provider.destroy();
  });

  it("ExternalMiner.start rejects when the node cannot be reached", async () => {
    const m = new ExternalMiner({ rpcUrl: "http://127.0.0.1:9" }, { key: keyOf(miner), address });
    await expect(m.start()).rejects.toThrow("cannot reach http://127.0.0.1:9");
  });

  it("ExternalMiner shows the node's refusal for a miner that is not eligible", async () => {
    const [, url] = await idleNode();
    const outsider = devWallet(1);
    const seen: ExternalMinerStatus[] = [];
    const m = new ExternalMiner({ rpcUrl: url, refreshMs: 200 }, { key: keyOf(outsider), address: outsider.address.toLowerCase() as Hex, onStatus: (s) => seen.push(s) });
    await m.start();
    await new Promise((r) => setTimeout(r, 700));
    await m.stop();
    const errors = seen.filter((s) => s.event === "error");
    expect(errors).toHaveLength(1); // told once, not on every retry
    expect(errors[0]!.lastResult).toContain("is not an eligible miner");
    expect(m.status.found).toBe(0);
  });

  it("vs1984 mine finds blocks, logs each one without a terminal, and stops on Ctrl-C", async () => {
    const [node, url] = await idleNode();
    const { file } = await writeKeystore(join(dir, "miner-keystore"), keyOf(miner), "e2e password", { scryptN: 1024 });
    const child = spawnCli(["mine", "--rpc", url, "--keystore", file, "--password-file", passwordFile, "--threads", "2"]);
    closers.push(() => void child.kill("SIGKILL"));
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    await headReaches(node.ledger, 2n);
    const exited = once(child, "exit");
    child.kill("SIGINT");
    const [code] = (await exited) as [number | null];
    expect(out).toContain(`Mining as ${address} against ${url} with 2 thread(s), scrypt N=16 r=1 p=1`);
    expect(out).toMatch(/^\S+Z block 1 accepted \(found 1, /m);
    expect(out).not.toContain("\r");
    expect(out).toMatch(/Stopped \(SIGINT\): \d+ block\(s\) found, 0 rejected/);
    expect(code).toBe(0);
  });

  it("vs1984 mine refuses a wrong keystore password", async () => {
    const { file } = await writeKeystore(join(dir, "miner-keystore-2"), keyOf(miner), "another password", { scryptN: 1024 });
    const run = await vs1984(["mine", "--rpc", "http://127.0.0.1:9", "--keystore", file, "--password-file", passwordFile]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`wrong password for keystore ${file}`);
    expect(run.stderr).not.toContain("e2e password");
  });
});

describe("vs1984 wallet against a mining node", () => {
  it("balance prints VS with 18 decimals, and send transfers from an imported key and prints the receipt's block", async () => {
    const [node, close] = await startTestNode();
    closers.push(close);
    const url = node.rpc!.url;
    const from = devWallet(4);
    const to = devWallet(5);
    const before = await vs1984(["wallet", "balance", to.address, "--rpc", url]);
    expect(before.code).toBe(0);
    expect(before.stdout).toBe("10000.000000000000000000 VS\n");

    const datadir = join(dir, "sender");
    const keyFile = join(dir, "sender-key.txt");
    await writeFile(keyFile, from.privateKey, { mode: 0o600 });
    expect((await vs1984(["wallet", "import", "--datadir", datadir, "--key-file", keyFile, "--password-file", passwordFile])).code).toBe(0);
    const sent = await vs1984(["wallet", "send", "--datadir", datadir, "--to", to.address, "--value", "1.5", "--rpc", url, "--password-file", passwordFile, "--timeout", "30"]);
    expect(sent.stderr).toBe("");
    expect(sent.code).toBe(0);
    const hash = sent.stdout.match(/^Transaction: (0x[0-9a-f]{64})$/m)?.[1];
    const block = sent.stdout.match(/^Included in block (\d+) \(success, gas used 21000\)$/m)?.[1];
    expect(hash).toBeDefined();
    const provider = new JsonRpcProvider(url, 1984, { staticNetwork: true });
    try {
      const receipt = await provider.getTransactionReceipt(hash!);
      expect(receipt!.blockNumber).toBe(Number(block));
      expect(receipt!.from).toBe(from.address);
      const tx = await provider.getTransaction(hash!);
      expect(tx!.type).toBe(2);
      expect(tx!.value).toBe(parseEther("1.5"));
    } finally {
      provider.destroy();
    }
    const after = await vs1984(["wallet", "balance", to.address, "--rpc", url]);
    expect(after.stdout).toBe("10001.500000000000000000 VS\n");
  });
});
