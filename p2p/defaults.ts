// Defaults of the P2P layer shared by the node and its commands.

/** TCP port the P2P host listens on unless told otherwise. */
export const DEFAULT_P2P_PORT = 19840;
/** Interface the P2P host listens on: every interface, since peers must reach it (RPC stays on 127.0.0.1). */
export const DEFAULT_P2P_ADDR = "0.0.0.0";
/** Interface of a `--dev` node: loopback, so a development node is never reachable from outside. */
export const DEV_P2P_ADDR = "127.0.0.1";
/** Most connected peers unless told otherwise. */
export const DEFAULT_MAX_PEERS = 50;
/** File of the Guard key (Ed25519, the libp2p peer key) in the data dir. */
export const GUARD_KEY_FILE = "guard.key";
/** File of the X25519 onion key, beside the Guard key. */
export const ONION_KEY_FILE = "onion.key";
