import { describe, expect, it } from "@jest/globals";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { RLP } from "@ethereumjs/rlp";
import { encodeHeader } from "../../../chain/index.js";
import type { VsNode } from "../../../node/node.js";
import { ReqResp, createHost, encodeBlock, encodeHeadersRequest, encodePeers, encodeStatus, encodeStem, protocolId, type Host } from "../../../p2p/index.js";
import { signedTransfer } from "../../helpers/ledger.js";
import { mineAs } from "../../helpers/mine.js";
import { addrOf, netGenesis, waitFor } from "../../helpers/net.js";
import { useNetNodes } from "../../helpers/netNodes.js";

// Bad input from a peer, case by case beside adversarial.test.ts: the node scores the peer (or drops
// what it holds open), keeps serving, and its chain stays as it was.

const { start, onStop } = useNetNodes();

/** A bare libp2p host that speaks the node's protocols however the test wants. */
async function rawPeer(): Promise<{ host: Host; rr: ReqResp }> {
  const host = await createHost({ addr: "127.0.0.1", port: 0, maxPeers: 10, nat: "none" }, { privateKey: await generateKeyPair("Ed25519"), gater: {} });
  await host.start();
  onStop(async () => {
    await host.stop();
  });
  const rr = new ReqResp({ timeoutMs: 3_000 }, { host, allowRequest: () => true, onMisbehaviour: () => undefined });
  return { host, rr };
}

/** Connects the raw peer to `node` and has its status accepted (it claims the node's chain). */
async function join(peer: { host: Host; rr: ReqResp }, node: VsNode): Promise<void> {
  await peer.host.dial(multiaddr(addrOf(node)));
  await peer.rr.request(node.network!.peerId, "status", encodeStatus(node.network!.status()));
}


describe("a peer's bad answers and requests", () => {
  it("a peers answer that does not decode, or names no Guard ID, costs malformed each time", async () => {
    const genesis = await netGenesis();
    const node = await start({ genesis, p2p: { maintenanceMs: 300 } });
    const peer = await rawPeer();
    const answers = [new Uint8Array([0xde, 0xad, 0xbe, 0xef]), encodePeers([{ id: "not-a-guard-id", addrs: ["/ip4/127.0.0.1/tcp/1"] }])];
    let asked = 0;
    await peer.rr.register("peers", async () => answers[Math.min(asked++, answers.length - 1)]!);
    await join(peer, node);
    const id = peer.host.peerId.toString();
    await waitFor("two bad peers answers scored", () => node.network!.scores.standing(id).score <= -50, 10_000);
    expect(node.network!.scores.standing(id).lastPenalty).toMatch(/^malformed: peers answer: malformed peers answer/);
    expect(asked).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it("a stem with a payload no sub-chain takes is answered with the reason and scored once, not taken for our fault", async () => {
    const genesis = await netGenesis();
    const node = await start({ genesis });
    const peer = await rawPeer();
    await join(peer, node);
    const id = peer.host.peerId.toString();
    const stem = encodeStem({ hopsLeft: 1, raw: await signedTransfer(genesis.chainId, 0, 0), payload: { subchainId: 200, bytes: new Uint8Array([1, 2, 3]) } });
    // (a refusal without a code was answered "internal error" and logged as a bug of ours)
    await expect(peer.rr.request(node.network!.peerId, "stem", stem)).rejects.toThrow(/peer answered with an error: stem payload refused/);
    expect(node.network!.scores.standing(id)).toMatchObject({ score: -25, lastPenalty: "malformed: payload: unknown sub-chain 200: the genesis does not declare it" });

    // a stem whose transaction is garbage: the reason, and the invalid-transaction penalty
    await expect(peer.rr.request(node.network!.peerId, "stem", encodeStem({ hopsLeft: 1, raw: new Uint8Array([0x02, 0xc0]) }))).rejects.toThrow(/peer answered with an error: .*transaction/i);
    expect(node.network!.scores.standing(id).score).toBe(-35);
  }, 30_000);

  it("a gossiped block whose body does not match its header costs invalidBlock and is not stored; the real block still imports", async () => {
    const genesis = await netGenesis();
    const node = await start({ genesis });
    const other = await start({ genesis }); // not connected: it only makes a real block 1
    const real = await mineAs(other.ledger, 9);
    const peer = await rawPeer();
    const topic = `/vs1984/${genesis.chainId}/blocks`;
    peer.host.services.pubsub.subscribe(topic);
    await join(peer, node);
    await waitFor("gossip link to the node", () => peer.host.services.pubsub.getSubscribers(topic).length > 0, 10_000);
    const id = peer.host.peerId.toString();

    const forged = RLP.encode([encodeHeader(real.header), RLP.encode([await signedTransfer(genesis.chainId, 0, 0)])]);
    await peer.host.services.pubsub.publish(topic, forged);
    await waitFor("penalty for the forged body", () => node.network!.scores.standing(id).score <= -60, 10_000);
    expect(node.ledger.chain.head.header.number).toBe(0n);
    expect(await node.ledger.chain.getTotalDifficulty(real.hash)).toBeUndefined();

    // the header was not marked bad: the block with its own body is taken
    await peer.host.services.pubsub.publish(topic, encodeBlock(real));
    await waitFor("the real block imported", () => node.ledger.chain.head.hash === real.hash, 10_000);
    expect(node.ledger.chain.head.header.number).toBe(1n);
  }, 30_000);

  it("a headers answer that does not decode, from a peer that announced a heavier chain, is fatal for it in sync", async () => {
    const genesis = await netGenesis();
    const node = await start({ genesis });
    const peer = await rawPeer();
    const heavier = (): Uint8Array =>
      encodeStatus({ ...node.network!.status(), headNumber: 50n, headHash: `0x${"ab".repeat(32)}`, totalDifficulty: 10n ** 9n });
    await peer.rr.register("status", async () => heavier());
    let asked = 0;
    await peer.rr.register("headers", async () => {
      asked++;
      return new Uint8Array([0xc3, 0x82, 0x01]); // a list that says 3 bytes and holds 2
    });
    await peer.host.dial(multiaddr(addrOf(node)));
    await peer.rr.request(node.network!.peerId, "status", heavier());
    const id = peer.host.peerId.toString();
    // (a timeout or a broken link costs -5: a garbage answer is no slow link)
    await waitFor("the garbage answer penalized", () => node.network!.scores.standing(id).score <= -60, 10_000);
    expect(node.network!.scores.standing(id).lastPenalty).toMatch(/malformed answer: malformed headers response/);
    expect(asked).toBe(1);
    await waitFor("the sync over", () => node.network!.syncProgress() === false, 10_000);
    expect(node.ledger.chain.head.header.number).toBe(0n);
  }, 30_000);

  it("streams opened and left silent or half-written are dropped after the deadline; the node serves meanwhile and after", async () => {
    const genesis = await netGenesis();
    const node = await start({ genesis, p2p: { reqResp: { timeoutMs: 1_500 } } });
    const peer = await rawPeer();
    await join(peer, node);
    const nodeId = peerIdFromString(node.network!.peerId);
    const headers = protocolId("headers");

    // the most streams of one protocol a peer may hold open (8): half of them silent, half with half a frame
    const opened = Date.now();
    const stalled: Stream[] = [];
    for (let i = 0; i < 8; i++) {
      const s = await peer.host.dialProtocol(nodeId, headers);
      if (i % 2 === 1) s.send(new Uint8Array([100, 0xc2, 0x80])); // a length of 100, then 2 bytes of it
      stalled.push(s);
    }
    const closed = stalled.map((s) => new Promise<number>((resolve) => s.addEventListener("close", () => resolve(Date.now() - opened), { once: true })));
    // meanwhile another peer is served
    const honest = await rawPeer();
    await join(honest, node);
    expect((await honest.rr.request(node.network!.peerId, "headers", encodeHeadersRequest({ start: 0n, count: 1 }))).length).toBeGreaterThan(0);

    const times = await Promise.all(closed);
    for (const t of times) {
      expect(t).toBeGreaterThanOrEqual(1_000);
      expect(t).toBeLessThan(6_000);
    }
    // the stall freed its slots: the same peer is served again, and was not blamed for a slow link
    expect((await peer.rr.request(node.network!.peerId, "headers", encodeHeadersRequest({ start: 0n, count: 1 }))).length).toBeGreaterThan(0);
    expect(node.network!.scores.standing(peer.host.peerId.toString()).score).toBe(0);
    expect(node.ledger.chain.head.header.number).toBe(0n);
  }, 30_000);
});
