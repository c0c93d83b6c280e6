import type { Hex } from "../chain/index.js";
import { resultSchema as rs } from "./format.js";
import * as param from "./params.js";
import { defineMethod, type RpcMethod } from "./rpcMethod.js";

/** What the payload methods need from the node. */
export interface PayloadDeps {
  /**
   * Pools a ContentRegistry publish transaction with the payload it commits to and returns the
   * transaction's hash; throws PublishPayloadError, PayloadPoolError, TxError or TxPoolError.
   */
  submitRawTransactionWithPayload: (raw: Uint8Array, payload: Uint8Array) => Promise<Hex>;
}

/** The `vs_` methods of sub-chain payloads (docs/subchains.md). */
export function payloadMethods(deps: PayloadDeps): RpcMethod[] {
  return [
    defineMethod({
      name: "vs_sendRawTransactionWithPayload",
      summary:
        "Submits a signed ContentRegistry publish transaction with its payload: keccak256(payload) must equal the published contentHash, " +
        "the payload fit its sub-chain's maxPayloadBytes, and the gas limit cover the intrinsic gas plus payloadGasPerByte per payload byte; returns the transaction hash.",
      params: [param.data("Transaction"), param.data("Payload")],
      result: { name: "Transaction hash", schema: rs.hash },
      handler: ([raw, payload]) => deps.submitRawTransactionWithPayload(raw, payload),
    }),
  ];
}
