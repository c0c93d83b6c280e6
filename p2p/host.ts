import { noise } from "@chainsafe/libp2p-noise";
import { gossipsub, type GossipSub, type GossipsubOpts } from "@libp2p/gossipsub";
import { createTopicScoreParams } from "@libp2p/gossipsub/score";
import { identify, type Identify } from "@libp2p/identify";
import type { ConnectionGater, PrivateKey } from "@libp2p/interface";
import { ping, type Ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { uPnPNAT } from "@libp2p/upnp-nat";
import { yamux } from "@libp2p/yamux";
import { createLibp2p, type Libp2p } from "libp2p";
import { createHash } from "node:crypto";
import { MAX_GOSSIP_BYTES } from "./messages.js";

/** Connections allowed above maxPeers, for newcomers that only come to ask for peers. */
export const SURPLUS_CONNECTIONS = 8;

/** Services of the VS1984 libp2p host. */
export type HostServices = {
  identify: Identify;
  ping: Ping;
  pubsub: GossipSub;
  nat?: unknown;
};

/** The libp2p node with its services. */
export type Host = Libp2p<HostServices>;

/** How the host listens and how far it connects. */
export interface HostOptions {
  /** Interface to listen on (IPv4). */
  addr: string;
  /** TCP port; 0 for any free port. */
  port: number;
  /** Most open connections (one per peer, as yamux multiplexes every protocol over it). */
  maxPeers: number;
  /** Map the port on the router with UPnP. */
  nat: "none" | "upnp";
}

/** Gossip topics the host scores peers on. */
export interface HostTopics {
  topics: readonly string[];
  /** Largest gossip message taken (a payload may be larger than a block); default MAX_GOSSIP_BYTES. */
  maxMessageBytes?: number;
}

/** What the host needs from the node: its Guard key and the gater of banned peers. */
export interface HostModules {
  privateKey: PrivateKey;
  gater: ConnectionGater;
}

/**
 * Gossip message id: a hash of the message's bytes, so the same block or transaction published by
 * two nodes is one message and is delivered once.
 */
function contentMsgId(msg: { data: Uint8Array }): Uint8Array {
  return createHash("sha256").update(msg.data).digest().subarray(0, 20);
}

/**
 * Gossipsub with peer scoring on `topics`: a peer whose messages the validators reject loses
 * score, and under the graylist threshold its messages are dropped unread. Application-level bans
 * (see PeerScores) come on top of this and disconnect the peer.
 */
function gossipOptions(topics: readonly string[], maxMessageBytes: number): Partial<GossipsubOpts> {
  // Each message a validator rejects costs its sender -100 per invalid delivery squared, the count
  // decaying by a tenth every decay interval (1 s); mesh-delivery quotas stay off (a small or quiet
  // network would punish honest peers for having nothing to send).
  const topicParams = createTopicScoreParams({
    topicWeight: 1,
    // good behaviour earns at most +3 (time in mesh) and +5 (first deliveries) per topic, so that
    // one invalid message outweighs it
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1_000,
    timeInMeshCap: 300,
    firstMessageDeliveriesWeight: 0.5,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 10,
    invalidMessageDeliveriesWeight: -100,
    invalidMessageDeliveriesDecay: 0.9,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
  });
  return {
    globalSignaturePolicy: "StrictSign",
    msgIdFn: contentMsgId,
    // a block is forwarded only after its validator accepted it (import through consensus)
    emitSelf: false,
    allowPublishToZeroTopicPeers: true,
    maxInboundDataLength: maxMessageBytes + 64 * 1024,
    scoreParams: {
      topics: Object.fromEntries(topics.map((t) => [t, topicParams])),
      IPColocationFactorWeight: 0, // every devnet and test node shares 127.0.0.1
      behaviourPenaltyWeight: -1,
      behaviourPenaltyDecay: 0.986,
    },
    scoreThresholds: {
      gossipThreshold: -100,
      publishThreshold: -500,
      graylistThreshold: -1000,
      acceptPXThreshold: 10,
      opportunisticGraftThreshold: 5,
    },
  };
}

/**
 * Builds (not starts) the libp2p host: TCP, Noise (XX over X25519, forward secret), yamux,
 * identify, ping, gossipsub with scoring, and UPnP when asked.
 */
export async function createHost(opts: HostOptions & Partial<HostTopics>, modules: HostModules): Promise<Host> {
  const services = {
    identify: identify(),
    ping: ping(),
    pubsub: gossipsub(gossipOptions(opts.topics ?? [], Math.max(MAX_GOSSIP_BYTES, opts.maxMessageBytes ?? 0))),
    ...(opts.nat === "upnp" ? { nat: uPnPNAT() } : {}),
  };
  return createLibp2p({
    start: false,
    privateKey: modules.privateKey,
    addresses: { listen: [`/ip4/${opts.addr}/tcp/${opts.port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: modules.gater,
    // room above maxPeers for newcomers: the network lets them ask for peers, then hangs up
    connectionManager: { maxConnections: opts.maxPeers + SURPLUS_CONNECTIONS },
    services,
  }) as Promise<Host>;
}
