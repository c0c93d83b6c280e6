import { describe, expect, it } from "@jest/globals";
import { hexToBytes } from "@ethereumjs/util";
import { keccak256, randomBytes } from "ethers";
import { MerkleTree } from "merkletreejs";
import { payloadHash, type GenesisConfig, type Hex } from "../../../chain/index.js";
import type { VsNode } from "../../../node/node.js";
import { registry, signModuleCall } from "../../helpers/modules.js";
import { httpCall } from "../../helpers/rpcClient.js";
import { addrOf, netGenesis, waitFor } from "../../helpers/net.js";
import { useNetNodes } from "../../helpers/netNodes.js";

// Sub-chain payloads between real nodes on 127.0.0.1 (RocksDB, libp2p): the payload travels with
// its publish in the stem and on its sub-chain's gossip topic, a follower that missed it fetches it
// after the block, and a node that does not follow the sub-chain fetches it on demand with a proof.

const { start } = useNetNodes();
const POSTS = 1;

/** A signed publish of `payload` on `subchainId` from dev account `from`, with gas for the payload bytes. */
function signedPublish(genesis: GenesisConfig, from: number, nonce: number, payload: Uint8Array, subchainId = POSTS): Promise<Uint8Array> {
  const data = registry.encodeFunctionData("publish", [keccak256(payload), subchainId, 10n ** 18n, keccak256(randomBytes(32)), 10n]);
  return signModuleCall(genesis.chainId, from, { data, nonce, gasLimit: 500_000n + 8n * BigInt(payload.length) });
}

/**
 * ethers' keccak256 for merkletreejs. Under jest, values cross module realms (merkletreejs's Buffers,
 * fetch's JSON objects), which instanceof checks refuse: bytes are copied here, proof items spread.
 */
const merkleKeccak = (d: unknown): string => keccak256(typeof d === "string" ? d : new Uint8Array(d as Uint8Array));

const mined = (node: VsNode, hash: Hex) => async (): Promise<boolean> => (await node.ledger.chain.getTxLocation(hash)) !== undefined;

describe("payloads between nodes", () => {
  it("a publish's payload reaches the miner with its transaction; followers store it, others fetch it with a proof", async () => {
    const genesis = await netGenesis();
    // the miner follows only bt, but joins every payload topic because it makes blocks
    const miner = await start({ genesis, mineAs: 9, subchains: ["bt"] });
    const boot = [addrOf(miner)];
    const author = await start({ genesis, bootnodes: boot, subchains: ["posts"] });
    const follower = await start({ genesis, bootnodes: boot, subchains: ["posts"] });
    const other = await start({ genesis, bootnodes: boot, subchains: ["bt"] });
    const nodes = [miner, author, follower, other];
    await waitFor("everyone connected", () => nodes.every((n) => n.network!.peerCount >= 1), 15_000);

    const payload = new Uint8Array(randomBytes(300 * 1024));
    const hash = payloadHash(payload);
    const tx = await author.submitRawTransactionWithPayload(await signedPublish(genesis, 0, 0, payload), payload);
    await waitFor("the publish mined everywhere", async () => (await Promise.all(nodes.map((n) => mined(n, tx)()))).every(Boolean), 30_000);

    // followers of posts store it (from gossip before the block, or fetched after it); the others do not
    await waitFor("the follower stores the payload", async () => (await follower.ledger.chain.subchains.getPayload(hash)) !== undefined, 15_000);
    expect(await author.ledger.chain.subchains.getPayload(hash)).toEqual(payload);
    expect(await follower.ledger.chain.subchains.getPayload(hash)).toEqual(payload);
    expect(await other.ledger.chain.subchains.getPayload(hash)).toBeUndefined();
    expect(await miner.ledger.chain.subchains.getPayload(hash)).toBeUndefined();

    // a node on bt only fetches it from a peer: bytes that hash right, a proof to payloadRoot merkletreejs accepts
    const call = httpCall(other.rpc!.url);
    const got = (await call("vs_getPayload", hash)) as { payload: Hex; source: string; payloadRoot: Hex; proof: { position: "left" | "right"; data: Hex }[] };
    expect(got.source).toBe("peer");
    expect(hexToBytes(got.payload)).toEqual(payload);
    expect(MerkleTree.verify(got.proof.map((p) => ({ ...p })), keccak256(hash), got.payloadRoot, merkleKeccak)).toBe(true);
    // and still does not keep it
    expect(await other.ledger.chain.subchains.getPayload(hash)).toBeUndefined();
    // asked at the follower: its own copy
    const local = (await httpCall(follower.rpc!.url)("vs_getPayload", hash)) as { source: string; payload: Hex };
    expect(local.source).toBe("local");
  }, 90_000);

  it("a follower that joins after the block fills in the payload from its peers, and an unknown payload stays null", async () => {
    const genesis = await netGenesis();
    const miner = await start({ genesis, mineAs: 9, subchains: ["posts"] });
    const boot = [addrOf(miner)];
    const payload = new Uint8Array(randomBytes(50_000));
    const tx = await miner.submitRawTransactionWithPayload(await signedPublish(genesis, 1, 0, payload), payload);
    await waitFor("the publish mined", mined(miner, tx), 20_000);

    const late = await start({ genesis, bootnodes: boot, subchains: ["posts"] });
    await waitFor("the late follower synced the publish", mined(late, tx), 30_000);
    await waitFor("the late follower filled in the payload", async () => (await late.ledger.chain.subchains.getPayload(payloadHash(payload))) !== undefined, 15_000);
    expect(await late.ledger.chain.subchains.getPayload(payloadHash(payload))).toEqual(payload);
    expect(await late.ledger.chain.subchains.getWantedPayloads()).toEqual([]);

    // a hash no sub-block carries: null; a peer asked for bytes nobody has answers with none
    const call = httpCall(late.rpc!.url);
    expect(await call("vs_getPayload", `0x${"ab".repeat(32)}`)).toBeNull();
    expect(await late.network!.fetchPayload(`0x${"ab".repeat(32)}`)).toBeUndefined();
  }, 90_000);
});
