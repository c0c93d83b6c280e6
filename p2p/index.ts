// The public face of p2p/: the libp2p host, Guard identity, wire messages, gossip, sync and peers.
export * from "./messages.js";
export * from "./defaults.js";
export * from "./guard.js";
export * from "./sync.js";
export * from "./host.js";
export * from "./reqresp.js";
export * from "./peerScore.js";
export * from "./stem.js";
export * from "./validity.js";
export * from "./payloadExchange.js";
export * from "./network.js";
