import { keccak256 } from "../chain/index.js";
import { bytes, resultSchema as rs } from "./format.js";
import * as param from "./params.js";
import { defineMethod, type RpcMethod } from "./rpcMethod.js";

/** What the `web3_` methods read: the client version string. */
export interface Web3Deps {
  /** As {@link clientVersion} builds it. */
  clientVersion: string;
}

/** The client version string: `vs1984/v<version>/<platform>-<arch>/node<node version>`, as geth shapes its own. */
export function clientVersion(version: string): string {
  return `vs1984/v${version}/${process.platform}-${process.arch}/node${process.versions.node}`;
}

/** The `web3_` methods: client version and keccak-256. */
export function web3Methods(deps: Web3Deps): RpcMethod[] {
  return [
    defineMethod({
      name: "web3_clientVersion",
      summary: "Returns the client version: vs1984/v<version>/<platform>-<arch>/node<version>.",
      params: [],
      result: { name: "Client version", schema: rs.string },
      handler: () => deps.clientVersion,
    }),
    defineMethod({
      name: "web3_sha3",
      summary: "Returns keccak-256 (not the standard SHA3-256) of the given data.",
      params: [param.data("Data")],
      result: { name: "Hash", schema: rs.hash },
      handler: ([data]) => bytes(keccak256(data)),
    }),
  ];
}
