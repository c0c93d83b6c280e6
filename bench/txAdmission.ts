// Transaction admission rate: how many signed transactions per second one core can take into the
// pool from RPC or gossip (decode, sender recovery, fee and account checks). Its limit is raw
// secp256k1 public-key recovery with the native binding, measured beside it in the same run; the
// ratio admission / raw recovery is the figure to watch (goal: at least 0.8).
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Signature, Transaction, computeAddress, getBytes, hexlify, type TransactionLike } from "ethers";
import type * as Secp256k1 from "secp256k1";
import { checkAgainstAccount, checkFee, decodeTransaction, secp256k1Backend } from "../chain/transaction.js";
import type { Account, Hex } from "../chain/types.js";
import { median } from "./util.js";

const CHAIN_ID = 1984n;
const BASE_FEE = 1_000_000_000n;
const SENDERS = 500;
const NONCES_PER_SENDER = 10;
const ROUNDS = 11;

interface Signed {
  raw: Uint8Array;
  msgHash: Uint8Array;
  signature: Uint8Array;
  recid: number;
}

/** Deterministic private key number `i` (never zero, far below the curve order). */
function privateKey(i: number): Uint8Array {
  const key = new Uint8Array(32);
  key.fill(0x11);
  new DataView(key.buffer).setUint32(28, i + 1);
  return key;
}

// Signed with the native binding: ethers' own (pure JavaScript) signer is far slower.
function presign(secp: typeof Secp256k1): { txs: Signed[]; accounts: Map<Hex, Account> } {
  const txs: Signed[] = [];
  const accounts = new Map<Hex, Account>();
  for (let sender = 0; sender < SENDERS; sender++) {
    const key = privateKey(sender);
    for (let nonce = 0; nonce < NONCES_PER_SENDER; nonce++) {
      const type = (sender + nonce) % 2 === 0 ? 2 : 0;
      const data = nonce % 3 === 0 ? "0x" : `0x${"a9059cbb".padEnd(8 + 64 * (nonce % 3), "00")}`;
      const fields: TransactionLike = {
        type,
        chainId: CHAIN_ID,
        nonce,
        to: `0x${(sender * 7919 + nonce).toString(16).padStart(40, "0")}`,
        value: BigInt(sender + 1) * 10n ** 15n,
        gasLimit: 100_000n,
        data,
        ...(type === 2
          ? { maxFeePerGas: 3n * BASE_FEE, maxPriorityFeePerGas: BASE_FEE / 10n }
          : { gasPrice: 2n * BASE_FEE }),
      };
      const tx = Transaction.from(fields);
      const msgHash = getBytes(tx.unsignedHash);
      const { signature, recid } = secp.ecdsaSign(msgHash, key);
      tx.signature = Signature.from({
        r: hexlify(signature.subarray(0, 32)),
        s: hexlify(signature.subarray(32)),
        yParity: recid as 0 | 1,
      });
      txs.push({ raw: getBytes(tx.serialized), msgHash, signature, recid });
    }
    const address = computeAddress(hexlify(secp.publicKeyCreate(key, false))).toLowerCase() as Hex;
    accounts.set(address, { nonce: 0n, balance: 10n ** 24n });
  }
  return { txs, accounts };
}


/** Measures raw native sender recovery and full transaction admission per second; returns the figures and their ratio. */
export async function benchTxAdmission(): Promise<Record<string, number>> {
  const secp = createRequire(import.meta.url)("secp256k1/bindings.js") as typeof Secp256k1;
  const { txs, accounts } = presign(secp);
  const opts = { allowFutureNonce: true };

  const rawRound = (): number => {
    const start = process.hrtime.bigint();
    for (const t of txs) secp.ecdsaRecover(t.signature, t.recid, t.msgHash, false);
    return txs.length / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  const admissionRound = (): number => {
    const start = process.hrtime.bigint();
    for (const t of txs) {
      const tx = decodeTransaction(t.raw, CHAIN_ID);
      checkFee(tx, BASE_FEE);
      const account = accounts.get(tx.from);
      if (account === undefined) throw new Error(`bench: unknown sender ${tx.from}`);
      checkAgainstAccount(tx, account, opts);
    }
    return txs.length / (Number(process.hrtime.bigint() - start) / 1e9);
  };

  // Warm-up (JIT, caches), then rounds that pair the two measurements back to back, in alternating
  // order, so that load from other processes on a shared machine hits both sides of each ratio.
  rawRound();
  admissionRound();
  const raw: number[] = [];
  const admission: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let rawRate: number;
    let admissionRate: number;
    if (i % 2 === 0) {
      rawRate = rawRound();
      admissionRate = admissionRound();
    } else {
      admissionRate = admissionRound();
      rawRate = rawRound();
    }
    raw.push(rawRate);
    admission.push(admissionRate);
    ratios.push(admissionRate / rawRate);
  }
  const result = {
    transactions: txs.length,
    rawRecoverPerSec: Math.round(median(raw)),
    admissionPerSec: Math.round(median(admission)),
    ratio: Math.round(median(ratios) * 1000) / 1000,
  };
  if (secp256k1Backend !== "native") console.warn("bench: chain/transaction.ts recovers with noble, not native");
  console.log(JSON.stringify({ bench: "txAdmission", ...result }));
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchTxAdmission();
}
