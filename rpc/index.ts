// The public face of rpc/: the JSON-RPC/WebSocket server and the method namespaces.
export * from "./content.js";
export * from "./discover.js";
export * from "./errorMap.js";
export * from "./eth.js";
export * from "./filters.js";
export * from "./format.js";
export * from "./logs.js";
export * from "./net.js";
export * from "./payload.js";
export type { BlockSelector, BlockTag } from "./params.js";
export * from "./rpcError.js";
export * from "./rpcMethod.js";
export * from "./server.js";
export * from "./subscriptions.js";
export * from "./vs.js";
export * from "./web3.js";
