import { HDNodeWallet } from "ethers";
import { hexToBytes } from "@ethereumjs/util";
import type { Hex } from "../chain/index.js";

/** The well-known development mnemonic (hardhat, anvil); its accounts are funded in genesis/dev.json. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** The dev account that `--dev` mines as (account 9, one of the three dev genesis miners). */
export const DEV_MINER_INDEX = 9;

/** A development account: address and private key (public knowledge: for the dev chain only). */
export interface DevAccount {
  address: Hex;
  privateKey: Uint8Array;
}

/** Dev account `i` of the mnemonic, at m/44'/60'/0'/0/i. */
export function devAccount(i: number): DevAccount {
  const w = HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`);
  return { address: w.address.toLowerCase() as Hex, privateKey: hexToBytes(w.privateKey as Hex) };
}
