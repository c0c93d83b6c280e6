/**
 * Key prefixes of the chain database, one byte each. Retired numbers are never reused.
 * Numbers are 8-byte big-endian, hashes and addresses raw bytes.
 */
export enum Bucket {
  /** block hash -> RLP header */
  header = 1,
  /** block hash -> RLP list of raw transactions */
  body = 2,
  /** block hash -> RLP list of receipts */
  receipts = 3,
  /** block hash -> total base difficulty of the chain ending in it (unpadded big-endian) */
  totalDifficulty = 4,
  /** block number -> hash of the canonical block at that height */
  canonical = 5,
  /** tx hash -> block hash ++ index (4 bytes), canonical transactions only */
  txLookup = 6,
  /** trie node hash -> RLP node of the account trie or of an account's storage trie */
  stateNode = 7,
  /** meta key (ascii) -> value: "head" -> head hash, "genesis" -> genesis hash */
  meta = 8,
  /** retired: (number, miner) records of the first equivocation rule, replaced by minerOnParent */
  retiredMinerAtHeight = 9,
  /** miner address -> last banned height (8 bytes) after equivocation */
  minerBan = 10,
  /** miner address ++ block number -> RLP [header1, header2]: equivocation evidence */
  equivocation = 11,
  /** block hash -> the 20-byte senders of its transactions, concatenated (no recovery when reading a body) */
  senders = 12,
  /** parent hash ++ miner address -> hash of the first block seen from that miner on that parent */
  minerOnParent = 13,
  /** sub-block hash -> RLP sub-block header (every sub-chain, any branch) */
  subBlockHeader = 14,
  /** sub-block hash -> its payload hashes, 32 bytes each, concatenated in order (every sub-chain) */
  subBlockPayloadHashes = 15,
  /** sub-chain id (1 byte) ++ sub-block number -> hash of the canonical sub-block at that height */
  subCanonical = 16,
  /** main block hash -> hashes of the sub-blocks it seals, concatenated in ascending sub-chain id (absent: none) */
  sealedSubBlocks = 17,
  /** main block hash -> for each declared sub-chain in id order, the hash of its latest sub-block in that block's chain */
  subchainTips = 18,
  /** payload hash -> payload bytes, for followed sub-chains only */
  payload = 19,
  /** payload hash ++ sub-block hash -> index (4 bytes) of the payload's first place in it, canonical sub-blocks only */
  payloadLookup = 20,
  /** payload hash -> sub-chain id (1 byte): a payload of a followed sub-chain sealed in a block this node imported without the bytes (fetched from peers later) */
  payloadWanted = 21,
}

/** The key `bucket ++ parts...`. */
export function bucketKey(bucket: Bucket, ...parts: Uint8Array[]): Uint8Array {
  let len = 1;
  for (const p of parts) len += p.length;
  const key = new Uint8Array(len);
  key[0] = bucket;
  let off = 1;
  for (const p of parts) {
    key.set(p, off);
    off += p.length;
  }
  return key;
}

/** 8-byte big-endian encoding of a block number, so keys sort by height. */
export function numberKey(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n);
  return b;
}
