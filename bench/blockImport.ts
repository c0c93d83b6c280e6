// Import of a full 1,000-transaction block as a node does when a peer sends it: decode the body
// (sender recovery), check the seal, execute the transfers, compute the three roots, and write
// everything in one RocksDB batch. It stands for the rate a node can follow a busy chain at. The
// limit beside it is raw native sender recovery of the same 1,000 signatures; the ratio
// import time / recovery time says how much the rest of the import costs on top of recovery.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { bytesToBigInt } from "@ethereumjs/util";
import { Transaction } from "ethers";
import type * as Secp256k1 from "secp256k1";
import { type Block, decodeBody, encodeBody, headerHash, buildBlockTemplate, decodeTransaction } from "../chain/index.js";
import type { SignedTx, Hex } from "../chain/index.js";
import { sealHeader } from "../consensus/index.js";
import { devWallet, keyOf, openLedger, testGenesis } from "../test/helpers/ledger.js";

const secp = createRequire(import.meta.url)("secp256k1/bindings.js") as typeof Secp256k1;
const TXS = 1000;
const SENDERS = 7; // dev accounts 0..6 (7..9 are miners)

/** Signs TXS transfers from the dev accounts with the native binding (ethers' own signer is slow). */
function signTransfers(chainId: bigint): Uint8Array[] {
  const raws: Uint8Array[] = [];
  for (let i = 0; i < TXS; i++) {
    const sender = i % SENDERS;
    const tx = Transaction.from({
      type: 2,
      chainId,
      nonce: Math.floor(i / SENDERS),
      to: `0x${(1000 + i).toString(16).padStart(40, "0")}`,
      value: 10n ** 15n,
      gasLimit: 21000n,
      maxFeePerGas: 2n * 10n ** 9n,
      maxPriorityFeePerGas: 10n ** 9n,
    });
    const { signature, recid } = secp.ecdsaSign(Buffer.from(tx.unsignedHash.slice(2), "hex"), keyOf(devWallet(sender)));
    tx.signature = { r: `0x${Buffer.from(signature.subarray(0, 32)).toString("hex")}`, s: `0x${Buffer.from(signature.subarray(32)).toString("hex")}`, v: 27 + recid };
    raws.push(Buffer.from(tx.serialized.slice(2), "hex"));
  }
  return raws;
}

/** Runs the block import benchmark and returns its figures. */
export async function benchBlockImport(): Promise<Record<string, number>> {
  const genesis = await testGenesis();
  const raws = signTransfers(genesis.chainId);
  const txs: SignedTx[] = raws.map((r) => decodeTransaction(r, genesis.chainId));

  // raw recovery of the same signatures: the limit
  const sigs = txs.map((tx) => {
    const sig = new Uint8Array(64);
    sig.set(Buffer.from(tx.r.toString(16).padStart(64, "0"), "hex"), 0);
    sig.set(Buffer.from(tx.s.toString(16).padStart(64, "0"), "hex"), 32);
    return sig;
  });
  const hashes = raws.map((r) => Buffer.from(Transaction.from(`0x${Buffer.from(r).toString("hex")}`).unsignedHash.slice(2), "hex"));
  let t = performance.now();
  for (let i = 0; i < txs.length; i++) secp.ecdsaRecover(sigs[i]!, Number(txs[i]!.yParity ?? (txs[i]!.v - 27n) % 2n), hashes[i]!, false);
  const recoverMs = performance.now() - t;

  // build and seal the block on one node
  const [producer, closeProducer] = await openLedger(genesis);
  const miner = devWallet(9).address.toLowerCase() as Hex;
  const tpl = await buildBlockTemplate(
    producer.chain,
    producer.chain.head.header,
    { miner, timestamp: genesis.timestamp + 2n, difficulty: genesis.consensus.initialDifficulty, extraData: "0x" },
    txs,
  );
  const sealed = (await sealHeader(tpl.header, keyOf(devWallet(9)), genesis.consensus.scrypt, 0, {
    startNonce: bytesToBigInt(crypto.getRandomValues(new Uint8Array(8))),
    maxTries: 1_000_000,
  }))!;
  await closeProducer();
  const body = encodeBody(tpl.transactions);

  // import it on a fresh node, as if received from a peer
  const [node, closeNode] = await openLedger(genesis);
  t = performance.now();
  const decoded = decodeBody(body, genesis.chainId);
  const decodeMs = performance.now() - t;
  const block: Block = { header: sealed, transactions: decoded, hash: headerHash(sealed) };
  t = performance.now();
  const result = await node.importBlock(block);
  const importMs = performance.now() - t;
  if (result.status !== "head" || node.chain.head.transactions.length !== TXS) throw new Error("benchmark block was not imported");
  await closeNode();

  return {
    txs: tpl.transactions.length,
    rawRecoverMs: recoverMs,
    bodyDecodeMs: decodeMs,
    executeAndWriteMs: importMs,
    totalImportMs: decodeMs + importMs,
    ratioToRawRecovery: (decodeMs + importMs) / recoverMs,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchBlockImport()));
}
