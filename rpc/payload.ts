import { type Blockchain, type Hex, type PayloadPool, type PayloadProofRecord, type SubRef, decodeSubRef, encodeSubRef, payloadHash, verifyPayloadProof } from "../chain/index.js";
import { bytes, quantity, resultSchema as rs } from "./format.js";
import * as param from "./params.js";
import { defineMethod, type RpcMethod } from "./rpcMethod.js";

/** What the payload methods need from the node. */
export interface PayloadDeps {
  /**
   * Pools a ContentRegistry publish transaction with the payload it commits to and returns the
   * transaction's hash; throws PublishPayloadError, PayloadPoolError, TxError or TxPoolError.
   */
  submitRawTransactionWithPayload: (raw: Uint8Array, payload: Uint8Array) => Promise<Hex>;
  /** The sub-chain records (canonical sub-blocks, stored payloads), the declarations and the head. */
  chain: Pick<Blockchain, "subchains" | "genesis" | "head" | "tipsAfter">;
  /** Payloads not mined yet. */
  payloads: Pick<PayloadPool, "get">;
  /** Asks peers for a payload by hash (a sub-chain this node does not follow); absent: no P2P. */
  fetchPayload?: (hash: Hex) => Promise<Uint8Array | undefined>;
}

/** A payload located by vs_getPayload: where it sits in the canonical sub-chain, its proof, and the bytes if held. */
export interface PayloadJson {
  payloadHash: Hex;
  /** The payload bytes; null when neither this node nor a peer it asked has them. */
  payload: Hex | null;
  /** Where the bytes came from: this node's store or pool, or a peer (checked against the hash and proof); null without bytes. */
  source: "local" | "peer" | null;
  subRef: { word: Hex; subchainId: Hex; subNumber: Hex; index: Hex };
  subBlockHash: Hex;
  payloadRoot: Hex;
  /** merkletreejs's proof of payloadHash against payloadRoot (docs/subchains.md). */
  proof: { position: "left" | "right"; data: Hex }[];
}

const HASH_DIGITS = /^0x[0-9a-fA-F]{64}$/;

/** A contentHash (exactly 32 bytes of hex) or a packed subRef word (a quantity). */
const payloadRef = param.custom<{ hash: Hex } | { subRef: SubRef; word: bigint }>(
  "Payload reference",
  { title: "contentHash (32 bytes) or packed subRef (quantity)", type: "string" },
  (v) => {
    if (typeof v === "string" && HASH_DIGITS.test(v)) return { hash: param.parseHash(v) };
    const word = param.parseQuantity(v);
    return { subRef: decodeSubRef(word), word };
  },
);

/** The `vs_` methods of sub-chain payloads (docs/subchains.md). */
export function payloadMethods(deps: PayloadDeps): RpcMethod[] {
  const { subchains } = deps.chain;

  const locate = async (ref: { hash: Hex } | { subRef: SubRef; word: bigint }): Promise<PayloadJson | null> => {
    let record: PayloadProofRecord | undefined;
    if ("hash" in ref) {
      record = await subchains.getPayloadProof(ref.hash);
    } else {
      const { subchainId, subNumber } = ref.subRef;
      const canonical = subNumber > 0n ? await subchains.getCanonicalHash(subchainId, subNumber) : undefined;
      record = canonical && (await subchains.proofAt(canonical, ref.subRef.index));
    }
    if (!record) return null;
    const { payloadHash: hash, subBlockHash, header, index, proof } = record;
    let payload = (await subchains.getPayload(hash)) ?? deps.payloads.get(hash);
    let source: PayloadJson["source"] = payload ? "local" : null;
    if (!payload && deps.fetchPayload) {
      // a peer's bytes count only if they hash to the payload hash the proof ties to payloadRoot
      const fetched = await deps.fetchPayload(hash);
      if (fetched && payloadHash(fetched) === hash && verifyPayloadProof(header.payloadRoot, hash, proof, index)) {
        [payload, source] = [fetched, "peer"];
      }
    }
    const { subchainId, number } = header;
    const word = encodeSubRef({ subchainId, subNumber: number, index });
    return {
      payloadHash: hash,
      payload: payload ? bytes(payload) : null,
      source,
      subRef: { word: quantity(word), subchainId: quantity(subchainId), subNumber: quantity(number), index: quantity(index) },
      subBlockHash,
      payloadRoot: header.payloadRoot,
      proof,
    };
  };

  return [
    defineMethod({
      name: "vs_getSubchains",
      summary:
        "Lists the sub-chains the genesis declares: id, name, payloadGasPerByte (a publish's gas = its eth_estimateGas + payloadGasPerByte x payload length), " +
        "maxPayloadBytes, maxSubBlockBytes, whether this node stores their payloads (followed), and each one's latest canonical sub-block {number, hash}.",
      params: [],
      result: { name: "Sub-chains", schema: { type: "array", items: rs.object } },
      handler: async () => {
        const tips = await deps.chain.tipsAfter(deps.chain.head.hash);
        return Promise.all(
          deps.chain.genesis.subchains.map(async (d) => {
            const tip = tips.get(d.id)!;
            const header = await subchains.getHeader(tip);
            return {
              id: quantity(d.id),
              name: d.name,
              payloadGasPerByte: quantity(d.payloadGasPerByte),
              maxPayloadBytes: quantity(d.maxPayloadBytes),
              maxSubBlockBytes: quantity(d.maxSubBlockBytes),
              followed: subchains.follows(d.id),
              head: { number: quantity(header?.number ?? 0n), hash: tip },
            };
          }),
        );
      },
    }),
    defineMethod({
      name: "vs_sendRawTransactionWithPayload",
      summary:
        "Submits a signed ContentRegistry publish transaction with its payload: keccak256(payload) must equal the published contentHash, " +
        "the payload fit its sub-chain's maxPayloadBytes, and the gas limit cover the intrinsic gas plus payloadGasPerByte per payload byte; returns the transaction hash.",
      params: [param.data("Transaction"), param.data("Payload")],
      result: { name: "Transaction hash", schema: rs.hash },
      handler: ([raw, payload]) => deps.submitRawTransactionWithPayload(raw, payload),
    }),
    defineMethod({
      name: "vs_getPayload",
      summary:
        "Returns a mined payload by contentHash or packed subRef: its place in the canonical sub-chain, the sub-block's payloadRoot and the Merkle proof, " +
        "and the bytes: from this node's store (followed sub-chains) or pool, else fetched from peers and checked against the hash and the proof " +
        "(payload is null when no peer has them); null when no canonical sub-block carries it.",
      params: [payloadRef],
      result: { name: "Payload", schema: rs.orNull(rs.object) },
      handler: ([ref]) => locate(ref),
    }),
  ];
}
