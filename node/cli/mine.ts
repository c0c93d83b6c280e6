import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { bigIntToBytes, bytesToBigInt, bytesToHex, hexToBytes, setLengthLeft } from "@ethereumjs/util";
import { Command, InvalidArgumentError } from "commander";
import type { Hex, ScryptParams } from "../../chain/index.js";
import { computeMixHash, sealMessage, signSeal } from "../../consensus/index.js";
import { loadKeystore } from "../keystore.js";
import { integerArg } from "./args.js";
import { readPassword } from "./password.js";

/** A JSON-RPC error answer, or a failure to reach the node; the message says which method failed and why. */
export class RpcCallError extends Error {
  constructor(
    message: string,
    /** The JSON-RPC error code when the node answered with an error, else undefined. */
    readonly code?: number,
  ) {
    super(message);
    this.name = "RpcCallError";
  }
}

/** A minimal JSON-RPC 2.0 client over HTTP (plain fetch), for the CLI's calls to a node. */
export class JsonRpcClient {
  private nextId = 1;

  constructor(
    /** The node's HTTP JSON-RPC endpoint. */
    readonly url: string,
    /** Milliseconds before a call gives up. */
    readonly timeoutMs = 10_000,
  ) {}

  /**
   * Calls `method`; resolves with its result, rejects with RpcCallError on an error answer or
   * transport failure, or when `signal` aborts (the caller is stopping).
   */
  async call(method: string, params: readonly unknown[] = [], signal?: AbortSignal): Promise<unknown> {
    let res: Response;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: this.nextId++, method, params }),
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
    } catch (e) {
      if (signal?.aborted) throw new RpcCallError(`${method}: cancelled`);
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      // system codes (ECONNREFUSED) say it best; undici's own (UND_ERR_SOCKET) do not: their message does
      const why = (cause?.code?.startsWith("UND_ERR") ? cause.message : undefined) ?? cause?.code ?? cause?.message ?? (e as Error).message;
      throw new RpcCallError(`cannot reach ${this.url}: ${why}`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw new RpcCallError(signal?.aborted ? `${method}: cancelled` : `${method}: ${this.url} broke off its answer: ${(e as Error).message}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new RpcCallError(`${method}: ${this.url} answered HTTP ${res.status} without JSON`);
    }
    const answer = body as { result?: unknown; error?: { code?: unknown; message?: unknown } };
    if (answer.error) {
      const code = typeof answer.error.code === "number" ? answer.error.code : undefined;
      throw new RpcCallError(`${method}: ${String(answer.error.message ?? "error")}`, code);
    }
    if (!Object.hasOwn(answer, "result")) throw new RpcCallError(`${method}: answer without result`);
    return answer.result;
  }
}

/** Options of the external miner. */
export interface ExternalMinerOptions {
  /** The node's HTTP JSON-RPC endpoint. */
  rpcUrl: string;
  /** Nonce-search lanes run at once (each one scrypt on the libuv thread pool). */
  threads: number;
  /** Milliseconds a work package is searched before asking for a fresh one (a new head changes it). */
  refreshMs: number;
  /** Milliseconds between `eth_submitHashrate` reports. */
  hashrateMs: number;
}

/** Default external miner options. */
export const defaultExternalMinerOptions: ExternalMinerOptions = {
  rpcUrl: "http://127.0.0.1:8545",
  threads: 1,
  refreshMs: 1000,
  hashrateMs: 5000,
};

/** What the external miner needs: the sealing key and its address, and an optional status listener. */
export interface ExternalMinerModules {
  /** Private key of `address` (signs seals; never sent anywhere). */
  key: Uint8Array;
  /** The miner address (lowercase 0x): the scrypt salt and the block's miner. */
  address: Hex;
  /** Told of every status change and once a second while mining. */
  onStatus?: (status: ExternalMinerStatus) => void;
}

/** A snapshot of the external miner for the status line. */
export interface ExternalMinerStatus {
  /** What just happened: a tick, fresh work, an accepted or rejected block, an error, or work again after errors. */
  event: "tick" | "work" | "accepted" | "rejected" | "error" | "resumed";
  /** Hashes per second over the last few seconds. */
  hashrate: number;
  /** Hashes computed since start. */
  hashes: number;
  /** Number of the block being mined, null before the first work package. */
  height: bigint | null;
  /** Blocks the node accepted (as its head, or on a side chain). */
  found: number;
  /** Solutions the node refused with an error. */
  rejected: number;
  /** The last submission result or error, as a sentence. */
  lastResult: string | null;
}

/** One `eth_getWork` package, decoded. */
interface Work {
  sealHash: Uint8Array;
  sealHashHex: Hex;
  target: bigint;
  number: bigint;
}

interface Solution {
  nonce: Uint8Array;
  mixHash: Uint8Array;
}

const NONCE_MASK = (1n << 64n) - 1n;
const HASHRATE_WINDOW_MS = 10_000;

function hex32(value: unknown, what: string): Hex {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(value)) throw new RpcCallError(`eth_getWork: ${what} must be 32 bytes of 0x hex`);
  return value.toLowerCase() as Hex;
}

/**
 * Checks that `address` may mine by the `miners` list of `vs_workParams` (eligibility is fixed by the
 * genesis, so a key not on it can never seal a block the node accepts).
 */
export function checkEligible(result: unknown, address: Hex): void {
  const miners = (result as { miners?: unknown } | null)?.miners;
  if (!Array.isArray(miners)) return; // an older node without the list: eth_getWork will tell
  if (!miners.some((m) => typeof m === "string" && m.toLowerCase() === address.toLowerCase())) {
    throw new RpcCallError(`${address} is not an eligible miner on this chain (eligible: ${miners.join(", ")})`);
  }
}

/** Parses `vs_workParams`: `{scrypt: {N, r, p}, ...}`. */
export function parseWorkParams(result: unknown): ScryptParams {
  const scrypt = (result as { scrypt?: Record<string, unknown> } | null)?.scrypt;
  const ok = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;
  if (!scrypt || !ok(scrypt.N) || !ok(scrypt.r) || !ok(scrypt.p) || scrypt.N < 2 || (scrypt.N & (scrypt.N - 1)) !== 0) {
    throw new RpcCallError("vs_workParams: answer must hold scrypt: {N, r, p} as positive integers, N a power of two");
  }
  return { N: scrypt.N, r: scrypt.r, p: scrypt.p };
}

function parseWork(result: unknown, address: Hex): Work {
  if (!Array.isArray(result) || result.length < 4) throw new RpcCallError("eth_getWork: answer must be [sealHash, seed, target, blockNumber]");
  const sealHashHex = hex32(result[0], "sealHash");
  const seed = hex32(result[1], "seed");
  // The seed is the miner address left-padded: work for another address would give seals the node refuses.
  if (seed.slice(26) !== address.slice(2)) throw new RpcCallError(`eth_getWork: the node handed out work for 0x${seed.slice(26)}, not for ${address}`);
  const target = bytesToBigInt(hexToBytes(hex32(result[2], "target")));
  const n = result[3];
  if (typeof n !== "string" || !/^0x[0-9a-fA-F]+$/.test(n)) throw new RpcCallError("eth_getWork: blockNumber must be a 0x quantity");
  return { sealHash: hexToBytes(sealHashHex), sealHashHex, target, number: BigInt(n) };
}

/**
 * An external CLI miner: asks a node for work over JSON-RPC (`eth_getWork`), searches nonces with
 * the scrypt seal in `threads` lanes, signs and submits solutions (`eth_submitWork`) and reports
 * its hashrate (`eth_submitHashrate`). Work is refreshed every `refreshMs` and after each find.
 */
export class ExternalMiner {
  private readonly opts: ExternalMinerOptions;
  private readonly rpc: JsonRpcClient;
  private readonly address: Hex;
  private readonly id: Hex = bytesToHex(randomBytes(32)) as Hex;
  private scrypt: ScryptParams | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private stopSignal = new AbortController();
  private ticker: NodeJS.Timeout | null = null;
  private lastHashrateReport = 0;
  /** Whether a hashrate was reported, so withdrawHashrate() has one to withdraw. */
  private reported = false;
  private samples: [number, number][] = [];
  private state: ExternalMinerStatus = { event: "tick", hashrate: 0, hashes: 0, height: null, found: 0, rejected: 0, lastResult: null };

  constructor(
    opts: Partial<ExternalMinerOptions>,
    private readonly modules: ExternalMinerModules,
  ) {
    this.opts = { ...defaultExternalMinerOptions, ...opts };
    if (!Number.isSafeInteger(this.opts.threads) || this.opts.threads < 1) throw new RangeError(`threads must be a positive integer, got ${this.opts.threads}`);
    this.rpc = new JsonRpcClient(this.opts.rpcUrl);
    this.address = modules.address.toLowerCase() as Hex;
  }

  /** The current status (a copy). */
  get status(): ExternalMinerStatus {
    return { ...this.state };
  }

  /** The seal's scrypt parameters from `vs_workParams`, null before start. */
  get workParams(): ScryptParams | null {
    return this.scrypt;
  }

  /** Reads the seal parameters (`vs_workParams`; rejects when the node cannot be used) and starts mining. */
  async start(): Promise<void> {
    if (this.running) return;
    this.scrypt = parseWorkParams(await this.rpc.call("vs_workParams"));
    this.running = true;
    this.stopSignal = new AbortController();
    this.samples = [[Date.now(), this.state.hashes]];
    this.lastHashrateReport = Date.now();
    this.ticker = setInterval(this.tick, 1000);
    this.loop = this.run();
  }

  /** Stops the search and waits for the loop to end (a submission in flight is finished first). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopSignal.abort();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    await this.loop;
    this.loop = null;
  }

  /**
   * Reports a hashrate of 0 under this miner's id (best effort, at most 1 s), so the node stops
   * counting it in eth_hashrate now rather than a minute after its last report; for after stop().
   */
  async withdrawHashrate(): Promise<void> {
    if (!this.reported) return;
    this.reported = false;
    const zero = bytesToHex(new Uint8Array(32));
    await this.rpc.call("eth_submitHashrate", [zero, this.id], AbortSignal.timeout(1000)).catch(() => undefined);
  }

  private emit(event: ExternalMinerStatus["event"], lastResult?: string): void {
    this.state.event = event;
    if (lastResult !== undefined) this.state.lastResult = lastResult;
    this.modules.onStatus?.(this.status);
  }

  private readonly tick = (): void => {
    const now = Date.now();
    this.samples.push([now, this.state.hashes]);
    while (this.samples.length > 2 && now - this.samples[0]![0] > HASHRATE_WINDOW_MS) this.samples.shift();
    const [t0, h0] = this.samples[0]!;
    this.state.hashrate = now > t0 ? ((this.state.hashes - h0) * 1000) / (now - t0) : 0;
    this.emit("tick");
    if (now - this.lastHashrateReport >= this.opts.hashrateMs) {
      this.lastHashrateReport = now;
      const rate = bytesToHex(setLengthLeft(bigIntToBytes(BigInt(Math.round(this.state.hashrate))), 32));
      // The report is informational (eth_hashrate on the node); a failure is not worth stopping for.
      this.reported = true;
      this.rpc.call("eth_submitHashrate", [rate, this.id]).catch(() => undefined);
    }
  };

  private async run(): Promise<void> {
    let lastError: string | null = null;
    while (this.running) {
      let work: Work;
      try {
        // a call the node does not answer (paused, overloaded) must not hold up a stop
        work = parseWork(await this.rpc.call("eth_getWork", [this.address], this.stopSignal.signal), this.address);
      } catch (e) {
        if (!this.running) break; // stopped while asking: not an error
        const message = (e as Error).message;
        // Repeated failures are told once, not every second; a node going away is one failure
        // however its connection ends (reset mid-answer, then refused while it restarts).
        const kind = message.startsWith(`cannot reach ${this.opts.rpcUrl}:`) ? "unreachable" : message;
        if (kind !== lastError) this.emit("error", message);
        lastError = kind;
        await this.sleep(this.opts.refreshMs);
        continue;
      }
      if (lastError !== null) this.emit("resumed", `work again from ${this.opts.rpcUrl} (block ${work.number})`);
      lastError = null;
      if (this.state.height !== work.number) {
        this.state.height = work.number;
        this.emit("work");
      }
      let solution: Solution | null;
      try {
        solution = await this.search(work);
      } catch (e) {
        // scrypt itself failed (parameters this machine cannot run): say so and try again later
        this.emit("error", `scrypt failed: ${(e as Error).message}`);
        await this.sleep(this.opts.refreshMs);
        continue;
      }
      if (solution) await this.submit(work, solution);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.stopSignal.signal;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
    });
  }

  /** Searches nonces for `work` until one meets the target, `refreshMs` passes, or the miner stops. */
  private async search(work: Work): Promise<Solution | null> {
    const scrypt = this.scrypt!;
    const round = new AbortController();
    const stop = (): void => round.abort();
    this.stopSignal.signal.addEventListener("abort", stop);
    const timer = setTimeout(stop, this.opts.refreshMs);
    // Lanes share one counter from a random start, so they never try the same nonce twice.
    let next = bytesToBigInt(randomBytes(8));
    let found: Solution | null = null;
    const lane = async (): Promise<void> => {
      while (!round.signal.aborted) {
        const nonce = setLengthLeft(bigIntToBytes(next), 8);
        next = (next + 1n) & NONCE_MASK;
        const mixHash = await computeMixHash(work.sealHash, nonce, this.address, scrypt);
        this.state.hashes++;
        // A hash finished after the round ended still counts: it is valid for this package.
        if (!found && bytesToBigInt(mixHash) <= work.target) {
          found = { nonce, mixHash };
          round.abort();
        }
      }
    };
    const guarded = (): Promise<void> =>
      lane().catch((e: unknown) => {
        round.abort(); // one failing lane ends the round for all of them
        throw e;
      });
    try {
      await Promise.all(Array.from({ length: this.opts.threads }, guarded));
    } finally {
      clearTimeout(timer);
      this.stopSignal.signal.removeEventListener("abort", stop);
    }
    return found;
  }

  private async submit(work: Work, solution: Solution): Promise<void> {
    const signature = signSeal(sealMessage(work.sealHash, solution.nonce, solution.mixHash), this.modules.key);
    const params = [bytesToHex(solution.nonce), work.sealHashHex, bytesToHex(solution.mixHash), signature];
    try {
      const ok = await this.rpc.call("eth_submitWork", params);
      // true: the block became the head; false: the node stored it on a side chain (another block won the height)
      this.state.found++;
      this.emit("accepted", ok === true ? `block ${work.number} accepted` : `block ${work.number} accepted on a side chain`);
    } catch (e) {
      // only an error answer is the node's refusal; a lost connection says nothing about the block
      if (!(e instanceof RpcCallError) || e.code === undefined) {
        this.emit("error", `block ${work.number} not submitted: ${(e as Error).message}`);
        return;
      }
      this.state.rejected++;
      this.emit("rejected", `block ${work.number} rejected: ${(e as Error).message}`);
    }
  }
}

/** Formats a hashrate for people: `812 H/s`, `12.4 kH/s`. */
export function formatHashrate(rate: number): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(1)} MH/s`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)} kH/s`;
  return `${rate.toFixed(rate < 10 ? 1 : 0)} H/s`;
}

function statusLine(s: ExternalMinerStatus): string {
  const height = s.height === null ? "waiting for work" : `mining block ${s.height}`;
  return `${height} | ${formatHashrate(s.hashrate)} | found ${s.found}${s.rejected ? `, rejected ${s.rejected}` : ""} | last: ${s.lastResult ?? "-"}`;
}

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("must be an http:// or https:// URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidArgumentError("must be an http:// or https:// URL (the miner speaks JSON-RPC over HTTP)");
  return value;
}

const threadsArg = integerArg(1, 1024, "must be an integer from 1 to 1024");

/** The `vs1984 mine` command: an external miner against a node's JSON-RPC. */
export function mineCommand(): Command {
  return new Command("mine")
    .description("mine against a node over JSON-RPC (eth_getWork / eth_submitWork) with a keystore's key")
    .requiredOption("--keystore <file>", "keystore file of an eligible miner's key")
    .option("--rpc <url>", "the node's HTTP JSON-RPC endpoint", httpUrl, defaultExternalMinerOptions.rpcUrl)
    .option("--password-file <file>", "read the keystore password from the first line of this file (else a prompt)")
    .option("--threads <n>", "nonce-search lanes in parallel (above 4 also set UV_THREADPOOL_SIZE)", threadsArg, 1)
    .addHelpText("after", "\nThe status line shows the block being mined, the hashrate, blocks found and the last result.\nCtrl-C stops mining.")
    .action(async (opts: { keystore: string; rpc: string; passwordFile?: string; threads: number }) => {
      const file = resolve(opts.keystore);
      const password = await readPassword(opts.passwordFile, { prompt: `Password for ${file}: ` });
      const { address, privateKey } = await loadKeystore(file, password);
      const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
      if (opts.threads > pool) {
        console.error(`warning: ${opts.threads} threads but the libuv pool has ${pool}; start with UV_THREADPOOL_SIZE=${opts.threads}`);
      }
      const tty = process.stdout.isTTY === true;
      const onStatus = (s: ExternalMinerStatus): void => {
        if (tty) {
          process.stdout.write(`\r${statusLine(s)}\u001b[K`);
        } else if (s.event === "accepted" || s.event === "rejected" || s.event === "error" || s.event === "resumed") {
          console.log(`${new Date().toISOString()} ${s.lastResult} (found ${s.found}, ${formatHashrate(s.hashrate)})`);
        }
      };
      // A key the chain does not list can never seal an accepted block: refuse it now rather than retry for ever.
      checkEligible(await new JsonRpcClient(opts.rpc).call("vs_workParams"), address);
      const miner = new ExternalMiner({ rpcUrl: opts.rpc, threads: opts.threads }, { key: privateKey, address, onStatus });
      await miner.start();
      const p = miner.workParams!;
      console.log(`Mining as ${address} against ${opts.rpc} with ${opts.threads} thread(s), scrypt N=${p.N} r=${p.r} p=${p.p}`);
      let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
      const signal = await new Promise<NodeJS.Signals>((done) => {
        onSignal = done;
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
      });
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      // A second Ctrl-C while a submission finishes quits at once.
      const quit = (): never => process.exit(130);
      process.once("SIGINT", quit);
      await miner.stop();
      await miner.withdrawHashrate();
      process.off("SIGINT", quit);
      const s = miner.status;
      if (tty) process.stdout.write("\n");
      console.log(`Stopped (${signal}): ${s.found} block(s) found, ${s.rejected} rejected, ${s.hashes} hashes`);
    });
}

