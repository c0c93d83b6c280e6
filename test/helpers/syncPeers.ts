import type { BlockHeader } from "../../chain/block.js";
import type { Blockchain } from "../../chain/blockchain.js";
import type { Hex } from "../../chain/types.js";
import {
  decodeBodies,
  decodeBodiesRequest,
  decodeHeaders,
  decodeHeadersRequest,
  encodeBodies,
  encodeBodiesRequest,
  encodeHeaders,
  encodeHeadersRequest,
  type HeadersRequest,
  type Status,
} from "../../p2p/messages.js";
import { serveBodies, serveHeaders, type SyncPeer, type SyncPeers } from "../../p2p/sync.js";
import { chainStatus } from "../../p2p/network.js";

/** A peer served in-process from a chain, optionally lying or silent. */
export interface ChainPeer {
  chain: Blockchain;
  /** Rewrites the status it announces (claim more weight, another genesis). */
  status?: (status: Status) => Status;
  /** Rewrites the headers it serves. */
  headers?: (headers: BlockHeader[], req: HeadersRequest) => BlockHeader[];
  /** Rewrites the bodies it serves. */
  bodies?: (bodies: Uint8Array[], hashes: Hex[]) => Uint8Array[];
  /** Never answers (a request only ends when its signal aborts). */
  silent?: boolean;
}


/**
 * SyncPeers without a network: each peer answers from a chain through serveHeaders/serveBodies,
 * every request and answer going through the wire encoders and decoders; records what was asked,
 * what was served and who was penalized.
 */
export class ChainPeers implements SyncPeers {
  readonly headerRequests: { peerId: string; start: bigint; count: number }[] = [];
  readonly bodyRequests: { peerId: string; hashes: Hex[] }[] = [];
  /** Bodies each peer answered with. */
  readonly bodiesServed = new Map<string, number>();
  readonly penalties: { peerId: string; reason: string; fatal: boolean }[] = [];
  private readonly served = new Map<string, ChainPeer>();
  private readonly waiters: { peerId: string; count: number; resolve: () => void }[] = [];

  add(id: string, peer: ChainPeer): this {
    this.served.set(id, peer);
    return this;
  }

  remove(id: string): void {
    this.served.delete(id);
  }

  peers(): SyncPeer[] {
    return [...this.served].map(([id, p]) => {
      const status = chainStatus(p.chain);
      return { id, status: p.status ? p.status(status) : status };
    });
  }

  async requestHeaders(peerId: string, req: HeadersRequest, signal?: AbortSignal): Promise<BlockHeader[]> {
    const peer = this.peer(peerId);
    this.headerRequests.push({ peerId, start: req.start, count: req.count });
    if (peer.silent) return never(signal);
    const asked = decodeHeadersRequest(encodeHeadersRequest(req));
    let headers = await serveHeaders(peer.chain, asked);
    if (peer.headers) headers = peer.headers(headers, asked);
    return decodeHeaders(encodeHeaders(headers));
  }

  async requestBodies(peerId: string, hashes: Hex[], signal?: AbortSignal): Promise<Uint8Array[]> {
    const peer = this.peer(peerId);
    this.bodyRequests.push({ peerId, hashes });
    if (peer.silent) return never(signal);
    const asked = decodeBodiesRequest(encodeBodiesRequest(hashes));
    let bodies = await serveBodies(peer.chain, asked);
    if (peer.bodies) bodies = peer.bodies(bodies, asked);
    this.bodiesServed.set(peerId, (this.bodiesServed.get(peerId) ?? 0) + bodies.length);
    return decodeBodies(encodeBodies(bodies));
  }

  penalize(peerId: string, reason: string, fatal: boolean): void {
    this.penalties.push({ peerId, reason, fatal });
    const n = this.penalties.filter((p) => p.peerId === peerId).length;
    for (const w of this.waiters.filter((w) => w.peerId === peerId && w.count <= n)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
  }

  /** Resolves once `peerId` has been penalized `count` times. */
  penalized(peerId: string, count: number): Promise<void> {
    if (this.penalties.filter((p) => p.peerId === peerId).length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ peerId, count, resolve }));
  }

  private peer(id: string): ChainPeer {
    const p = this.served.get(id);
    if (!p) throw new Error(`peer ${id} is not connected`);
    return p;
  }
}

function never(signal?: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true }));
}
