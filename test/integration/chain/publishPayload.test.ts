import { afterAll, describe, expect, it } from "@jest/globals";
import { keccak256 as ethersKeccak, hexlify, randomBytes } from "ethers";
import { hexToBytes } from "@ethereumjs/util";
import {
  CONTENT_REGISTRY_ADDRESS,
  PublishPayloadErrorCode,
  intrinsicGasOf,
  payloadHash,
  publishCommitment,
  decodeTransaction,
  verifyPayloadProof,
  type MerkleProof,
  type GenesisConfig,
  type Hex,
} from "../../../chain/index.js";
import type { Ledger } from "../../../node/ledger.js";
import { devWallet, keyOf, openLedger, testGenesis, devAddress } from "../../helpers/ledger.js";
import { mineBlock } from "../../helpers/mine.js";
import { CALL_FEES, registry } from "../../helpers/modules.js";
import { startTestNode } from "../../helpers/node.js";
import { codeOf } from "../../helpers/rejection.js";
import { httpCall, rpcError } from "../../helpers/rpcClient.js";

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const POSTS = 1;
const addr = devAddress;

async function ledger(): Promise<[Ledger, GenesisConfig]> {
  const genesis = await testGenesis();
  const [l, close] = await openLedger(genesis);
  closers.push(close);
  return [l, genesis];
}

/** A signed publish of `contentHash` on `subchainId` from dev account `from`. */
async function signedPublish(l: Ledger, from: number, contentHash: string, subchainId: number, nonce: number, gasLimit = 500_000n): Promise<Uint8Array> {
  const data = registry.encodeFunctionData("publish", [contentHash, subchainId, 10n ** 18n, ethersKeccak(contentHash), 10n]);
  const raw = await devWallet(from).signTransaction({
    type: 2,
    chainId: Number(l.chain.genesis.chainId),
    nonce,
    to: CONTENT_REGISTRY_ADDRESS,
    data,
    gasLimit,
    ...CALL_FEES,
  });
  return hexToBytes(raw as Hex);
}

describe("publish transactions with payloads", () => {
  it("pools a publish with its payload, claimed by the transaction until it is mined", async () => {
    const [l] = await ledger();
    const payload = randomBytes(3000);
    const raw = await signedPublish(l, 0, ethersKeccak(payload), POSTS, 0);
    const txHash = await l.submitRawTransactionWithPayload(raw, payload);
    const hash = payloadHash(payload);
    expect(l.pool.has(txHash)).toBe(true);
    expect(l.payloads.isClaimed(hash)).toBe(true);
    expect(l.payloads.payloadsFor(txHash)).toEqual([payload]);
    await mineBlock(l, keyOf(devWallet(9)), addr(9));
    expect(l.pool.has(txHash)).toBe(false);
    expect(l.payloads.has(hash)).toBe(false);
  });

  it("claims the payload of a publish sent without it, listing the payload as missing", async () => {
    const [l] = await ledger();
    const payload = randomBytes(100);
    const raw = await signedPublish(l, 0, ethersKeccak(payload), POSTS, 0);
    const txHash = await l.submitRawTransaction(raw);
    expect(l.payloads.missing(txHash)).toEqual([payloadHash(payload)]);
    expect(l.payloads.payloadsFor(txHash)).toBeUndefined();
    l.payloads.add(POSTS, payload);
    expect(l.payloads.payloadsFor(txHash)).toEqual([payload]);
  });

  it("drops a publish sent without its payload whose gas cannot pay the payload, when the payload arrives, and refuses one whose payload is held", async () => {
    const [l] = await ledger();
    // 100,000 bytes on posts cost 800,000 payload gas: 500,000 covers the call but not the payload
    const payload = randomBytes(100_000);
    const raw = await signedPublish(l, 0, ethersKeccak(payload), POSTS, 0);
    const later = await signedPublish(l, 0, ethersKeccak(randomBytes(32)), POSTS, 1);
    const txHash = await l.submitRawTransaction(raw);
    await l.submitRawTransaction(later);
    expect(l.pool.has(txHash)).toBe(true);
    l.payloads.add(POSTS, payload);
    expect(l.pool.has(txHash)).toBe(false);
    // the payload stays (unclaimed) for an honest publish; the sender's next nonce no longer counts the dropped one
    expect(l.payloads.has(payloadHash(payload))).toBe(true);
    expect(l.payloads.isClaimed(payloadHash(payload))).toBe(false);
    expect(l.pool.pendingNonce(addr(0), 0n)).toBe(0n);

    // held first (gossip before the transaction): the submitter hears why at once
    expect(await codeOf(l.submitRawTransaction(raw))).toBe(PublishPayloadErrorCode.INTRINSIC_GAS_TOO_LOW);
    expect(l.pool.has(txHash)).toBe(false);
    // with enough gas it is pooled and claims the held payload
    const enough = await signedPublish(l, 0, ethersKeccak(payload), POSTS, 0, 500_000n + 800_000n);
    const pooled = await l.submitRawTransaction(enough);
    expect(l.payloads.payloadsFor(pooled)).toEqual([payload]);
  });

  it("reads the commitment from the publish calldata and nothing from other transactions", async () => {
    const [l] = await ledger();
    const contentHash = ethersKeccak(randomBytes(8));
    const tx = decodeTransaction(await signedPublish(l, 0, contentHash, 2, 0), l.chain.genesis.chainId);
    expect(publishCommitment(tx)).toEqual({ subchainId: 2, payloadHash: contentHash });
    expect(publishCommitment({ ...tx, data: tx.data.subarray(0, 40) })).toBeUndefined();
    expect(publishCommitment({ ...tx, to: addr(3) })).toBeUndefined();
  });

  it("refuses a wrong payload, an unknown sub-chain, an oversized payload, too little gas and a non-publish", async () => {
    const [l, genesis] = await ledger();
    const posts = genesis.subchains.find((d) => d.id === POSTS)!;
    const payload = randomBytes(500);
    const good = ethersKeccak(payload);
    expect(await codeOf(l.submitRawTransactionWithPayload(await signedPublish(l, 0, good, POSTS, 0), randomBytes(500)))).toBe(
      PublishPayloadErrorCode.HASH_MISMATCH,
    );
    expect(await codeOf(l.submitRawTransactionWithPayload(await signedPublish(l, 0, good, 77, 0), payload))).toBe(PublishPayloadErrorCode.UNKNOWN_SUBCHAIN);
    const big = new Uint8Array(posts.maxPayloadBytes + 1);
    expect(await codeOf(l.submitRawTransactionWithPayload(await signedPublish(l, 0, ethersKeccak(big), POSTS, 0, 30_000_000n), big))).toBe(
      PublishPayloadErrorCode.BAD_SIZE,
    );
    const raw = await signedPublish(l, 0, good, POSTS, 0);
    const needed = intrinsicGasOf(decodeTransaction(raw, genesis.chainId)) + posts.payloadGasPerByte * 500n;
    const tight = await signedPublish(l, 0, good, POSTS, 0, needed - 1n);
    expect(await codeOf(l.submitRawTransactionWithPayload(tight, payload))).toBe(PublishPayloadErrorCode.INTRINSIC_GAS_TOO_LOW);
    const transfer = await devWallet(0).signTransaction({ type: 2, chainId: Number(genesis.chainId), nonce: 0, to: addr(3), value: 1n, gasLimit: 21000, ...CALL_FEES });
    expect(await codeOf(l.submitRawTransactionWithPayload(hexToBytes(transfer as Hex), payload))).toBe(PublishPayloadErrorCode.NOT_A_PUBLISH);
    expect(l.pool.size).toBe(0);
    expect(l.payloads.size).toBe(0);
    // the exact gas is enough
    const exact = await signedPublish(l, 0, good, POSTS, 0, needed);
    await l.submitRawTransactionWithPayload(exact, payload);
    expect(l.payloads.has(payloadHash(payload))).toBe(true);
  });
});

describe("vs_sendRawTransactionWithPayload", () => {
  it("answers the transaction hash, and each refusal as -32000 with its reason", async () => {
    const [node, close] = await startTestNode({ mine: false });
    closers.push(close);
    const call = httpCall(node.rpc!.url);
    const l = node.ledger;
    const payload = randomBytes(2000);
    const raw = await signedPublish(l, 0, ethersKeccak(payload), POSTS, 0);
    const wrong = await rpcError(call("vs_sendRawTransactionWithPayload", hexlify(raw), hexlify(randomBytes(2000))));
    expect(wrong.code).toBe(-32000);
    expect(wrong.message).toMatch(/does not match the published contentHash/);
    const unknown = await rpcError(call("vs_sendRawTransactionWithPayload", hexlify(await signedPublish(l, 0, ethersKeccak(payload), 99, 0)), hexlify(payload)));
    expect(unknown.code).toBe(-32000);
    expect(unknown.message).toMatch(/unknown sub-chain 99/);
    const bad = await rpcError(call("vs_sendRawTransactionWithPayload", hexlify(raw), "0x123"));
    expect(bad.code).toBe(-32602);
    const hash = await call("vs_sendRawTransactionWithPayload", hexlify(raw), hexlify(payload));
    expect(hash).toBe(ethersKeccak(raw));
    expect(l.payloads.payloadsFor(hash as Hex)).toEqual([payload]);
  });
});

describe("vs_getPayload", () => {
  it("serves a mined payload by contentHash or subRef with a proof against its sub-block's payloadRoot", async () => {
    const [node, close] = await startTestNode({ mine: false });
    closers.push(close);
    const call = httpCall(node.rpc!.url);
    const l = node.ledger;
    const PINS = 0;
    const pin = randomBytes(300);
    const post = randomBytes(200);
    await call("vs_sendRawTransactionWithPayload", hexlify(await signedPublish(l, 0, ethersKeccak(pin), PINS, 0)), hexlify(pin));
    await call("vs_sendRawTransactionWithPayload", hexlify(await signedPublish(l, 1, ethersKeccak(post), POSTS, 0)), hexlify(post));
    // before it is mined no canonical sub-block carries it
    expect(await call("vs_getPayload", ethersKeccak(pin))).toBeNull();
    await mineBlock(l, keyOf(devWallet(9)), addr(9));

    type PayloadJson = { payloadHash: Hex; payload: string | null; subRef: Record<string, string>; payloadRoot: Hex; proof: MerkleProof; subBlockHash: Hex };
    const byHash = (await call("vs_getPayload", ethersKeccak(pin))) as PayloadJson;
    expect(byHash.payload).toBe(hexlify(pin));
    expect(byHash.subRef).toEqual({ word: `0x${(1n << 32n).toString(16)}`, subchainId: "0x0", subNumber: "0x1", index: "0x0" });
    expect(verifyPayloadProof(byHash.payloadRoot, payloadHash(pin), byHash.proof, 0)).toBe(true);
    expect(await call("vs_getPayload", byHash.subRef.word)).toEqual(byHash);

    // posts is not followed: the place and proof, without the bytes
    const other = (await call("vs_getPayload", ethersKeccak(post))) as PayloadJson;
    expect(other.payload).toBeNull();
    expect(other.subRef.subchainId).toBe("0x1");
    expect(verifyPayloadProof(other.payloadRoot, payloadHash(post), other.proof, 0)).toBe(true);

    expect(await call("vs_getPayload", ethersKeccak(randomBytes(5)))).toBeNull();
    expect(await call("vs_getPayload", `0x${((1n << 96n) | (9n << 32n)).toString(16)}`)).toBeNull();
    expect((await rpcError(call("vs_getPayload", "0x0012"))).code).toBe(-32602);
  });
});
