// The public face of consensus/: restricted proof of work, fork choice, import, mining.
export * from "./blockImporter.js";
export * from "./blockProducer.js";
export * from "./difficulty.js";
export * from "./forkChoice.js";
export * from "./miner.js";
export * from "./seal.js";
export * from "./workProvider.js";
