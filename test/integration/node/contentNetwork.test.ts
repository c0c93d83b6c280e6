import { describe, expect, it } from "@jest/globals";
import { hexToBytes } from "@ethereumjs/util";
import type { Result } from "ethers";
import { keccak256, randomBytes } from "ethers";
import { MerkleTree } from "merkletreejs";
import { CONTENT_REGISTRY_ADDRESS, payloadHash, type Hex } from "../../../chain/index.js";
import { checkKeyCommitment, decryptContent, encryptContent, generateContentKey, keyCommitment } from "../../../node/content/contentCipher.js";
import { eciesDecrypt } from "../../../node/content/ecies.js";
import { storeContentKey } from "../../../node/content/keyStore.js";
import { devAccount } from "../../../node/devAccounts.js";
import type { VsNode } from "../../../node/node.js";
import { tempDir } from "../../helpers/ledger.js";
import { feeOf, registry, viewAtHead, signModuleCall } from "../../helpers/modules.js";
import { httpCall } from "../../helpers/rpcClient.js";
import { addrOf, netGenesis, waitFor } from "../../helpers/net.js";
import { useNetNodes } from "../../helpers/netNodes.js";

// The life of a paid post across three real nodes (libp2p on 127.0.0.1, RocksDB, in-process miner):
// author's node A follows posts and runs the key-delivery service; buyer's node B follows posts;
// node C follows only bt and mines. The buyer purchases while A is stopped; A catches up and delivers.

const { start, onStop } = useNetNodes();
const POSTS = 1;
const PRICE = 15n * 10n ** 17n;
const PASSWORD = "content keys of the author";
const author = devAccount(0);
const buyer = devAccount(1);
const unserved = devAccount(2);

const view = (node: VsNode, fn: string, args: unknown[]): Promise<Result> => viewAtHead(node.ledger.chain, fn, args);

async function balance(node: VsNode, address: Hex): Promise<bigint> {
  return (await node.ledger.chain.headState().getAccount(address)).balance;
}


/** Hashes of the canonical transactions sent by `from`, in chain order. */
async function sentBy(node: VsNode, from: Hex): Promise<Hex[]> {
  const chain = node.ledger.chain;
  const out: Hex[] = [];
  for (let n = 1n; n <= chain.head.header.number; n++) {
    for (const tx of (await chain.getBlockByNumber(n))!.transactions) if (tx.from === from) out.push(tx.hash);
  }
  return out;
}

/**
 * ethers' keccak256 for merkletreejs. Under jest, values cross module realms (merkletreejs's Buffers,
 * fetch's JSON objects), which instanceof checks refuse: bytes are copied here, proof items spread.
 */
const merkleKeccak = (d: unknown): string => keccak256(typeof d === "string" ? d : new Uint8Array(d as Uint8Array));

const minedOn = (node: VsNode, hash: Hex) => async (): Promise<boolean> => (await node.ledger.chain.getTxLocation(hash)) !== undefined;

describe("a paid post across three nodes", () => {
  it("publish on A, payload fetched with a proof by a bt-only node, purchase on B while A is off, delivery after A catches up, refund of an unserved buyer; every wei adds up", async () => {
    const genesis = await netGenesis();
    const { chainId } = genesis;
    const c = await start({ genesis, mineAs: 9, subchains: ["bt"] });
    const boot = [addrOf(c)];
    const [aDir, removeADir] = tempDir();
    onStop(async () => removeADir());
    const startA = (): Promise<VsNode> =>
      start({ genesis, datadir: aDir, bootnodes: boot, subchains: ["posts"], contentDelivery: { authorKey: author.privateKey, contentKeyPassword: PASSWORD, confirmations: 2 } });
    let a = await startA();
    const b = await start({ genesis, bootnodes: boot, subchains: ["posts"] });
    await waitFor("A and B connected", () => a.network!.peerCount >= 1 && b.network!.peerCount >= 1, 15_000);
    // no transaction of these accounts yet: their balances now are the genesis ones
    const before = { author: await balance(c, author.address), buyer: await balance(c, buyer.address), unserved: await balance(c, unserved.address) };

    // the author encrypts a 300 KiB file, keeps the key in A's content key store, and publishes on posts through A
    const plain = new Uint8Array(randomBytes(300 * 1024));
    const key = generateContentKey();
    const cipher = encryptContent(plain, key);
    const contentHash = keccak256(cipher) as Hex;
    await storeContentKey(aDir, contentHash, key, PASSWORD, { scryptN: 2 ** 10 });
    const publishData = registry.encodeFunctionData("publish", [contentHash, POSTS, PRICE, keyCommitment(key), 10_000n]);
    const publish = await a.submitRawTransactionWithPayload(
      await signModuleCall(chainId, 0, { data: publishData, nonce: 0, gasLimit: 600_000n + 8n * BigInt(cipher.length) }),
      cipher,
    );
    // a second post whose key A does not hold: its buyer is never served
    const other = new Uint8Array(randomBytes(2_000));
    const otherData = registry.encodeFunctionData("publish", [keccak256(other), POSTS, PRICE, keyCommitment(generateContentKey()), 3n]);
    const publish2 = await a.submitRawTransactionWithPayload(await signModuleCall(chainId, 0, { data: otherData, nonce: 1, gasLimit: 600_000n + 8n * 2_000n }), other);
    await waitFor("both publishes mined and seen by B", async () => (await minedOn(b, publish)()) && (await minedOn(b, publish2)()), 30_000);
    expect((await view(b, "contentCount", []))[0]).toBe(2n);

    // C follows only bt: it stores no posts payload, yet vs_getPayload fetches it from a peer with a proof
    expect(await c.ledger.chain.subchains.getPayload(contentHash)).toBeUndefined();
    const got = (await httpCall(c.rpc!.url)("vs_getPayload", contentHash)) as { payload: Hex; source: string; payloadRoot: Hex; proof: { position: "left" | "right"; data: Hex }[] };
    expect(got.source).toBe("peer");
    expect(payloadHash(hexToBytes(got.payload))).toBe(contentHash);
    expect(MerkleTree.verify(got.proof.map((p) => ({ ...p })), keccak256(contentHash), got.payloadRoot, merkleKeccak)).toBe(true);
    // B follows posts: it holds the ciphertext itself
    await waitFor("B stores the post", async () => (await b.ledger.chain.subchains.getPayload(contentHash)) !== undefined, 15_000);

    // the author's node goes offline; the buyers purchase through B
    await a.stop();
    const purchase = await b.submitRawTransaction(await signModuleCall(chainId, 1, { data: registry.encodeFunctionData("purchase", [1n]), value: PRICE, nonce: 0 }));
    const purchase2 = await b.submitRawTransaction(await signModuleCall(chainId, 2, { data: registry.encodeFunctionData("purchase", [2n]), value: PRICE, nonce: 0 }));
    await waitFor("both purchases mined", async () => (await minedOn(b, purchase)()) && (await minedOn(b, purchase2)()), 30_000);
    expect(await balance(b, CONTENT_REGISTRY_ADDRESS)).toBe(2n * PRICE);
    expect((await view(b, "getPurchase", [1n, buyer.address]))[2]).toBe(false);

    // A comes back, syncs the purchase and delivers the key sealed to the buyer
    a = await startA();
    await waitFor("the key delivered, seen by B", async () => (await view(b, "getPurchase", [1n, buyer.address]))[2] === true, 60_000);
    const sealed = (await view(b, "getEncryptedKey", [1n, buyer.address]))[0] as string;
    const opened = eciesDecrypt(buyer.privateKey, hexToBytes(sealed as Hex));
    checkKeyCommitment(opened, (await view(b, "getContent", [1n]))[4] as Hex);
    const stored = (await b.ledger.chain.subchains.getPayload(contentHash))!;
    expect(Buffer.from(decryptContent(stored, opened)).equals(Buffer.from(plain))).toBe(true);

    // the unserved buyer takes the escrow back after the deadline (purchase block + 3)
    const purchasedAt = (await view(b, "getPurchase", [2n, unserved.address]))[1] as bigint;
    await waitFor("the refund deadline passed", () => b.ledger.chain.head.header.number > purchasedAt + 3n, 30_000);
    const refund = await b.submitRawTransaction(await signModuleCall(chainId, 2, { data: registry.encodeFunctionData("refund", [2n]), nonce: 1 }));
    await waitFor("the refund mined", minedOn(b, refund), 30_000);
    expect((await view(b, "getPurchase", [2n, unserved.address]))[3]).toBe(true);

    // every wei, on B's chain: the author paid two publishes and one delivery and received the price;
    // the buyer paid the price and a fee; the unserved buyer paid only fees; the escrow is empty
    const authorTxs = await sentBy(b, author.address);
    expect(authorTxs.slice(0, 2)).toEqual([publish, publish2]);
    expect(authorTxs).toHaveLength(3);
    const delivery = authorTxs[2]!;
    const fee = (h: Hex): Promise<bigint> => feeOf(b.ledger.chain, h);
    expect(await balance(b, CONTENT_REGISTRY_ADDRESS)).toBe(0n);
    expect(await balance(b, author.address)).toBe(before.author - (await fee(publish)) - (await fee(publish2)) - (await fee(delivery)) + PRICE);
    expect(await balance(b, buyer.address)).toBe(before.buyer - PRICE - (await fee(purchase)));
    expect(await balance(b, unserved.address)).toBe(before.unserved - (await fee(purchase2)) - (await fee(refund)));
    // and A, caught up, agrees
    await waitFor("A at B's head or later", async () => (await a.ledger.chain.getTxLocation(refund)) !== undefined, 30_000);
    expect(await balance(a, buyer.address)).toBe(await balance(b, buyer.address));
  }, 180_000);
});
