import { quantity, resultSchema as rs } from "./format.js";
import { defineMethod, type RpcMethod } from "./rpcMethod.js";

/** What the `net_` methods read: the chain id and the number of connected peers. */
export interface NetDeps {
  chainId: bigint;
  /** Peers connected now (0 until the P2P layer runs). */
  peerCount: () => number;
}

/** The `net_` methods: network id, listening, peer count. */
export function netMethods(deps: NetDeps): RpcMethod[] {
  return [
    defineMethod({
      name: "net_version",
      summary: "Returns the network id: the chain id as a decimal string.",
      params: [],
      result: { name: "Network ID", schema: { title: "decimal unsigned integer string", type: "string", pattern: "^(0|[1-9][0-9]*)$" } },
      handler: () => deps.chainId.toString(10),
    }),
    defineMethod({
      name: "net_listening",
      summary: "Returns true: the node accepts connections.",
      params: [],
      result: { name: "Listening", schema: rs.bool },
      handler: () => true,
    }),
    defineMethod({
      name: "net_peerCount",
      summary: "Returns the number of connected peers.",
      params: [],
      result: { name: "Peer count", schema: rs.quantity },
      handler: () => quantity(deps.peerCount()),
    }),
  ];
}
