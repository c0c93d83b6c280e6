import type { Blockchain } from "../chain/index.js";
import { quantity, resultSchema as rs } from "./format.js";
import { defineMethod, type RpcMethod } from "./rpcMethod.js";

/** A connected peer as the P2P layer describes it (p2p's PeerInfo). */
export interface VsPeer {
  id: string;
  addresses: string[];
  direction: "inbound" | "outbound";
  score: number;
  gossipScore: number;
  head?: { number: bigint; hash: string; totalDifficulty: bigint };
}

/** What the `vs_` methods read: the chain's genesis parameters and the P2P layer's peers. */
export interface VsDeps {
  chain: Pick<Blockchain, "genesis">;
  /** Connected peers; absent when the node runs without P2P. */
  peers?: () => VsPeer[];
}

/** The seal parameters an external miner needs (the `vs_workParams` answer). */
export interface WorkParamsJson {
  /** scrypt cost of the seal: mixHash = scrypt(sealHash || nonce, salt = miner, N, r, p, 32 bytes). */
  scrypt: { N: number; r: number; p: number };
  /** W: how many previous blocks count towards a miner's streak penalty. */
  streakWindow: number;
  /** Target seconds between blocks. */
  blockTime: number;
  /** Miners eligible from genesis (lowercase addresses). */
  miners: string[];
}

/** The VS1984-specific `vs_` methods (this file: the ones that need only the ledger). */
export function vsMethods(deps: VsDeps): RpcMethod[] {
  return [
    defineMethod({
      name: "vs_workParams",
      summary: "Returns the seal parameters an external miner needs: scrypt N, r, p, the streak window, the block time and the eligible miners.",
      params: [],
      result: { name: "Work parameters", schema: rs.object },
      handler: (): WorkParamsJson => {
        const c = deps.chain.genesis.consensus;
        return { scrypt: { N: c.scrypt.N, r: c.scrypt.r, p: c.scrypt.p }, streakWindow: c.streakWindow, blockTime: c.blockTime, miners: [...c.miners] };
      },
    }),
    defineMethod({
      name: "vs_peers",
      summary:
        "Returns the connected peers: Guard ID, addresses, direction (inbound/outbound), application score, gossip score, and the head their last status named.",
      params: [],
      result: { name: "Peers", schema: rs.array(rs.object) },
      handler: () =>
        (deps.peers?.() ?? []).map((p) => ({
          guardId: p.id,
          addresses: p.addresses,
          direction: p.direction,
          score: p.score,
          gossipScore: p.gossipScore,
          head: p.head
            ? { number: quantity(p.head.number), hash: p.head.hash, totalDifficulty: quantity(p.head.totalDifficulty) }
            : null,
        })),
    }),
  ];
}
