import { MerklePatriciaTrie } from "@ethereumjs/mpt";
import { RLP } from "@ethereumjs/rlp";
import { bytesToHex } from "@ethereumjs/util";
import { keccak256 } from "./keccak.js";
import type { Hex } from "./types.js";

/** Ethereum's root of an ordered list (transactions, receipts): a trie keyed by RLP(index). */
export async function orderedTrieRoot(items: readonly Uint8Array[]): Promise<Hex> {
  const trie = new MerklePatriciaTrie({ common: { customCrypto: { keccak256 } } });
  await trie.batch(items.map((value, i) => ({ type: "put" as const, key: RLP.encode(i), value })));
  return bytesToHex(trie.root()) as Hex;
}
