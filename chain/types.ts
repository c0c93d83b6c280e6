/** The `0x`-prefixed lowercase hex form used for addresses and hashes throughout the node. */
export type Hex = `0x${string}`;

/** An account as the state trie holds it (Ethereum's shape, so eth_getProof verifies with standard tools). */
export interface Account {
  nonce: bigint;
  balance: bigint;
}

/** Reads accounts of one state (a head, or any stored block). */
export interface AccountReader {
  /** The account at `address` (lowercase 0x hex); a never-seen account is nonce 0, balance 0. */
  getAccount(address: Hex): Promise<Account>;
}

/** Reads accounts and account storage of one state. */
export interface StateReader extends AccountReader {
  /** The 256-bit word at `slot` of `address`'s storage; 0 where nothing is stored. */
  getStorage(address: Hex, slot: bigint): Promise<bigint>;
}
