// The public face of chain/: blocks, transactions, state, receipts, pool and storage.
export * from "./block.js";
export * from "./blockBuilder.js";
export * from "./blockchain.js";
export * from "./db/buckets.js";
export * from "./db/keyValueStore.js";
export * from "./db/rocksStore.js";
export * from "./errors.js";
export * from "./execution.js";
export * from "./genesis.js";
export * from "./keccak.js";
export * from "./receipt.js";
export * from "./state.js";
export * from "./transaction.js";
export * from "./trieRoot.js";
export * from "./txPool.js";
export * from "./types.js";
export * from "./serialQueue.js";
