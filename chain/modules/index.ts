// System modules: native code at reserved addresses, called with ABI-encoded calldata (no EVM).
export * from "./contentRegistry.js";
export * from "./contentRegistryAbi.js";
export * from "./gasMeter.js";
export * from "./moduleRevert.js";
export * from "./moduleStorage.js";
export * from "./subRef.js";
export * from "./systemModule.js";
export * from "./systemModules.js";
