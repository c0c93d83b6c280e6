import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { verifyMerkleProof } from "@ethereumjs/mpt";
import { RLP } from "@ethereumjs/rlp";
import { bigIntToBytes, bytesToBigInt, bytesToHex, hexToBytes, setLengthLeft } from "@ethereumjs/util";
import { keccak256 as ethersKeccak, randomBytes, toBeHex } from "ethers";
import {
  CONTENT_REGISTRY_ADDRESS,
  ContentRegistryReason,
  EMPTY_TRIE_ROOT,
  KECCAK_EMPTY,
  ModuleGas,
  intrinsicGas,
  keccak256,
  mappingSlot,
  type Hex,
} from "../../../chain/index.js";
import { devAccount } from "../../../node/devAccounts.js";
import type { VsNode } from "../../../node/node.js";
import { mineBlock } from "../../helpers/mine.js";
import { registry, sendModuleCall, testContentHash } from "../../helpers/modules.js";
import { startTestNode } from "../../helpers/node.js";
import { httpCall, rpcError, type RpcCall } from "../../helpers/rpcClient.js";

const REG = CONTENT_REGISTRY_ADDRESS;
const PRICE = 10n ** 17n;
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const hex = (n: bigint): Hex => `0x${n.toString(16)}`;

describe("system modules over JSON-RPC", () => {
  let node: VsNode;
  let call: RpcCall;
  const author = devAccount(0).address;
  const buyer = devAccount(1).address;
  const contentHash = testContentHash();
  const keyCommitment = ethersKeccak(randomBytes(32));
  let publishTx: Hex;
  let purchaseTx: Hex;

  beforeAll(async () => {
    const [n, close] = await startTestNode({ mine: false });
    closers.push(close);
    node = n;
    call = httpCall(node.rpc!.url);
    const miner = devAccount(9);
    const mine = (): Promise<unknown> => mineBlock(node.ledger, miner.privateKey, miner.address);
    await mine();
    publishTx = await sendModuleCall(node.ledger, 0, { data: registry.encodeFunctionData("publish", [contentHash, 2, PRICE, keyCommitment, 10n]), nonce: 0 });
    await mine();
    purchaseTx = await sendModuleCall(node.ledger, 1, { data: registry.encodeFunctionData("purchase", [1n]), value: PRICE, nonce: 0 });
    await mine();
  });

  it("marks module addresses in eth_getCode at every block, and nothing else", async () => {
    const marker = `0xfe${Buffer.from("ContentRegistry", "ascii").toString("hex")}`;
    expect(await call("eth_getCode", REG)).toBe(marker);
    expect(await call("eth_getCode", REG, "earliest")).toBe(marker);
    expect(await call("eth_getCode", author)).toBe("0x");
    expect(await call("eth_getCode", "0x0000000000000000000000000000000000001984")).toBe("0x");
  });

  it("answers views through eth_call with ABI-encoded results", async () => {
    const getContent = registry.encodeFunctionData("getContent", [1n]);
    const result = (await call("eth_call", { to: REG, input: getContent })) as Hex;
    const [a, subchainId, h, price, commitment, deliveryBlocks, subRef] = registry.decodeFunctionResult("getContent", result);
    expect([String(a).toLowerCase(), subchainId, h, price, commitment, deliveryBlocks, subRef]).toEqual([author, 2n, contentHash, PRICE, keyCommitment, 10n, (2n << 96n) | (1n << 32n)]);
    // at the block before the publish, there is no content 1
    const e = await rpcError(call("eth_call", { to: REG, input: getContent }, "0x1"));
    expect([e.code, e.message]).toEqual([3, `execution reverted: ${ContentRegistryReason.UNKNOWN_CONTENT}`]);
    const purchase = registry.decodeFunctionResult("getPurchase", (await call("eth_call", { to: REG, data: registry.encodeFunctionData("getPurchase", [1n, buyer]) })) as Hex);
    expect([...purchase]).toEqual([PRICE, 3n, false, false]);
    expect(await call("eth_call", { to: REG, input: registry.encodeFunctionData("getEncryptedKey", [1n, buyer]) })).toBe(registry.encodeFunctionResult("getEncryptedKey", ["0x"]));
  });

  it("simulates state-changing calls in eth_call without keeping anything of them", async () => {
    const publish = registry.encodeFunctionData("publish", [contentHash, 1, 1n, keyCommitment, 5n]);
    const out = (await call("eth_call", { from: author, to: REG, input: publish })) as Hex;
    expect(registry.decodeFunctionResult("publish", out)[0]).toBe(2n);
    expect(await call("eth_call", { from: author, to: REG, input: publish })).toBe(out);
    const count = (await call("eth_call", { to: REG, input: registry.encodeFunctionData("contentCount", []) })) as Hex;
    expect(BigInt(count)).toBe(1n);
    // with value: a second purchase by another buyer would succeed
    expect(await call("eth_call", { from: author, to: REG, input: registry.encodeFunctionData("purchase", [1n]), value: hex(PRICE) })).toBe("0x");
  });

  it("answers out of gas and too little gas the way geth does", async () => {
    const publish = registry.encodeFunctionData("publish", [contentHash, 1, 1n, keyCommitment, 5n]);
    const intrinsic = intrinsicGas(hexToBytes(publish as Hex));
    const oog = await rpcError(call("eth_call", { from: author, to: REG, input: publish, gas: hex(intrinsic + 1000n) }));
    expect([oog.code, oog.message]).toEqual([-32000, "out of gas"]);
    const low = await rpcError(call("eth_call", { from: author, to: REG, input: publish, gas: hex(intrinsic - 1n) }));
    expect([low.code, low.message]).toEqual([-32000, `intrinsic gas too low: gas ${intrinsic - 1n} is below the ${intrinsic} the call needs`]);
    const capped = await rpcError(call("eth_estimateGas", { from: author, to: REG, input: publish, gas: hex(intrinsic + 1000n) }));
    expect([capped.code, capped.message]).toEqual([-32000, `gas required exceeds allowance (${intrinsic + 1000n})`]);
  });

  it("estimates exactly the gas a module call then uses", async () => {
    const receipt = (await call("eth_getTransactionReceipt", purchaseTx)) as { gasUsed: Hex; status: Hex };
    expect(receipt.status).toBe("0x1");
    // the same purchase by another buyer costs the same
    const estimate = await call("eth_estimateGas", { from: author, to: REG, input: registry.encodeFunctionData("purchase", [1n]), value: hex(PRICE) });
    expect(estimate).toBe(receipt.gasUsed);
    // a view: intrinsic gas, the call and one read of the content count
    const count = registry.encodeFunctionData("contentCount", []);
    expect(BigInt((await call("eth_estimateGas", { to: REG, input: count })) as Hex)).toBe(intrinsicGas(hexToBytes(count as Hex)) + ModuleGas.CALL + ModuleGas.STORAGE_READ);
    const e = await rpcError(call("eth_estimateGas", { from: buyer, to: REG, input: registry.encodeFunctionData("purchase", [1n]), value: hex(PRICE) }));
    expect([e.code, e.message]).toEqual([3, `execution reverted: ${ContentRegistryReason.ALREADY_PURCHASED}`]);
  });

  it("serves module storage through eth_getStorageAt and EIP-1186 storage proofs against the state root", async () => {
    expect(await call("eth_getStorageAt", REG, "0x0")).toBe(toBeHex(1n, 32));
    const authorSlot = mappingSlot(1n, 1n);
    expect(await call("eth_getStorageAt", REG, toBeHex(authorSlot, 32))).toBe(toBeHex(BigInt(author), 32));
    const head = node.ledger.chain.head.header;
    const keys = ["0x0", toBeHex(authorSlot, 32), toBeHex(12345n, 32)];
    const proof = (await call("eth_getProof", REG, keys, "latest")) as {
      accountProof: Hex[];
      balance: Hex;
      codeHash: Hex;
      storageHash: Hex;
      storageProof: { key: string; value: Hex; proof: Hex[] }[];
    };
    expect(BigInt(proof.balance)).toBe(PRICE);
    expect(proof.codeHash).toBe(KECCAK_EMPTY);
    expect(proof.storageHash).not.toBe(EMPTY_TRIE_ROOT);
    const leaf = await verifyMerkleProof(keccak256(hexToBytes(REG)), proof.accountProof.map((n) => hexToBytes(n)), { root: hexToBytes(head.stateRoot) });
    expect(bytesToHex((RLP.decode(leaf!) as Uint8Array[])[2]!)).toBe(proof.storageHash);
    const expected = [1n, BigInt(author), 0n];
    for (const [i, p] of proof.storageProof.entries()) {
      expect(p.key).toBe(keys[i]);
      expect(BigInt(p.value)).toBe(expected[i]);
      const slotKey = keccak256(setLengthLeft(bigIntToBytes(BigInt(keys[i]!)), 32));
      const value = await verifyMerkleProof(slotKey, p.proof.map((n) => hexToBytes(n)), { root: hexToBytes(proof.storageHash) });
      expect(value === null ? 0n : bytesToBigInt(RLP.decode(value) as Uint8Array)).toBe(expected[i]);
    }
  });

  it("puts module events in receipts and eth_getLogs like any log", async () => {
    const receipt = (await call("eth_getTransactionReceipt", publishTx)) as { logs: { address: Hex; topics: Hex[]; data: Hex; logIndex: Hex }[] };
    expect(receipt.logs).toHaveLength(1);
    const published = registry.parseLog(receipt.logs[0]!)!;
    expect([published.name, published.args.contentId, String(published.args.author).toLowerCase(), published.args.subchainId, published.args.subRef, published.args.price]).toEqual([
      "ContentPublished",
      1n,
      author,
      2n,
      (2n << 96n) | (1n << 32n),
      PRICE,
    ]);
    const logs = (await call("eth_getLogs", { fromBlock: "0x0", toBlock: "latest", address: REG })) as { topics: Hex[]; data: Hex; transactionHash: Hex }[];
    expect(logs.map((l) => registry.parseLog(l)!.name)).toEqual(["ContentPublished", "Purchased"]);
    const purchasedTopic = registry.getEvent("Purchased")!.topicHash;
    const byBuyer = (await call("eth_getLogs", { fromBlock: "0x0", address: REG, topics: [purchasedTopic, null, toBeHex(BigInt(buyer), 32)] })) as { transactionHash: Hex }[];
    expect(byBuyer.map((l) => l.transactionHash)).toEqual([purchaseTx]);
    // the purchase's value is a native Transfer into the module's escrow
    const transfers = (await call("eth_getLogs", { fromBlock: "0x0", address: "0x0000000000000000000000000000000000001984", topics: [null, null, toBeHex(BigInt(REG), 32)] })) as { data: Hex }[];
    expect(transfers.map((l) => BigInt(l.data))).toEqual([PRICE]);
    await call("eth_getBlockReceipts", "latest");
  });

  it("answers a failed module call's receipt with status 0x0 in the spec's shape", async () => {
    const nonce = Number((await node.ledger.chain.headState().getAccount(author)).nonce);
    const failed = await sendModuleCall(node.ledger, 0, { data: registry.encodeFunctionData("refund", [1n]), nonce });
    await mineBlock(node.ledger, devAccount(9).privateKey, devAccount(9).address);
    const receipt = (await call("eth_getTransactionReceipt", failed)) as { status: Hex; logs: unknown[]; to: Hex };
    expect([receipt.status, receipt.logs, receipt.to]).toEqual(["0x0", [], REG]);
  });
});
