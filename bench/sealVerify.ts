// Seal verification: what every node pays per block received (signature recovery, then one scrypt
// with the genesis parameters). Its limit is one raw scrypt of the same parameters measured beside
// it; the ratio should stay close to 1 (verification is one hash, not a search).
import { performance } from "node:perf_hooks";
import { bytesToBigInt } from "@ethereumjs/util";
import type { Hex, ScryptParams } from "../chain/index.js";
import { EMPTY_BLOOM, EMPTY_TRIE_ROOT, UNSEALED, sealHash, type BlockHeader } from "../chain/index.js";
import { computeMixHash, sealHeader, verifySeal } from "../consensus/index.js";
import { devWallet, keyOf } from "../test/helpers/ledger.js";

const ROUNDS = 20;

async function one(params: ScryptParams): Promise<{ verifyMs: number; scryptMs: number }> {
  const miner = devWallet(9).address.toLowerCase() as Hex;
  const header: BlockHeader = {
    parentHash: `0x${"11".repeat(32)}`,
    number: 1n,
    timestamp: 2n,
    miner,
    difficulty: 1n,
    stateRoot: EMPTY_TRIE_ROOT,
    transactionsRoot: EMPTY_TRIE_ROOT,
    receiptsRoot: EMPTY_TRIE_ROOT,
    logsBloom: EMPTY_BLOOM,
    gasLimit: 30_000_000n,
    gasUsed: 0n,
    extraData: "0x",
    baseFeePerGas: 10n ** 9n,
    subchainsRoot: EMPTY_TRIE_ROOT,
    ...UNSEALED,
  };
  const sealed = (await sealHeader(header, keyOf(devWallet(9)), params, 0, { startNonce: 0n, maxTries: 10 }))!;
  const ctx = { scrypt: params, miners: new Set([miner]), penaltyExponent: 0 };
  await verifySeal(sealed, ctx); // warm up
  let t = performance.now();
  for (let i = 0; i < ROUNDS; i++) await verifySeal(sealed, ctx);
  const verifyMs = (performance.now() - t) / ROUNDS;
  const sh = sealHash(sealed);
  const nonce = Buffer.from(sealed.nonce.slice(2), "hex");
  t = performance.now();
  for (let i = 0; i < ROUNDS; i++) bytesToBigInt(await computeMixHash(sh, nonce, miner, params));
  const scryptMs = (performance.now() - t) / ROUNDS;
  return { verifyMs, scryptMs };
}

/** Runs the seal verification benchmark for the dev and testnet scrypt parameters. */
export async function benchSealVerify(): Promise<Record<string, number>> {
  const dev = await one({ N: 1024, r: 8, p: 1 });
  const testnet = await one({ N: 16384, r: 8, p: 1 });
  return {
    devVerifyMs: dev.verifyMs,
    devScryptMs: dev.scryptMs,
    devRatio: dev.verifyMs / dev.scryptMs,
    testnetVerifyMs: testnet.verifyMs,
    testnetScryptMs: testnet.scryptMs,
    testnetRatio: testnet.verifyMs / testnet.scryptMs,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchSealVerify()));
}
