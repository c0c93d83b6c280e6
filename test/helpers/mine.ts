import { bytesToBigInt } from "@ethereumjs/util";
import { randomBytes } from "node:crypto";
import { type Block, blockOf } from "../../chain/blockchain.js";
import { sealHeader } from "../../consensus/seal.js";
import type { Ledger } from "../../node/ledger.js";
import { devAddress, devWallet, keyOf } from "./ledger.js";

/** Builds, seals and imports one block on the ledger's head with the given miner key; returns it. */
export async function mineBlock(ledger: Ledger, key: Uint8Array, miner: `0x${string}`): Promise<Block> {
  const job = await ledger.producer.job(miner);
  for (;;) {
    const sealed = await sealHeader(job.template.header, key, ledger.chain.genesis.consensus.scrypt, job.penaltyExponent, {
      startNonce: bytesToBigInt(randomBytes(8)),
      maxTries: 10_000,
    });
    if (!sealed) continue;
    const block = blockOf(sealed, job.template);
    await ledger.importBlock(block);
    await ledger.settled();
    return block;
  }
}

/** Mines one block as dev account `i` (7, 8 and 9 are the genesis miners; take turns for long chains, as the streak penalty grows). */
export function mineAs(ledger: Ledger, i = 9): Promise<Block> {
  return mineBlock(ledger, keyOf(devWallet(i)), devAddress(i));
}
