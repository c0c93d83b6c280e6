import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { bytesToBigInt, bytesToHex, hexToBytes } from "@ethereumjs/util";
import { randomBytes } from "node:crypto";
import { blockOf } from "../../../chain/blockchain.js";
import type { Hex } from "../../../chain/types.js";
import { computeMixHash, sealHeader, sealMessage, signSeal } from "../../../consensus/seal.js";
import { WorkProvider } from "../../../consensus/workProvider.js";
import type { VsNode } from "../../../node/node.js";
import { devAddress, devWallet, keyOf, testGenesis } from "../../helpers/ledger.js";
import { mineAs } from "../../helpers/mine.js";
import { startTestNode } from "../../helpers/node.js";
import { httpCall, rpcError, type RpcCall } from "../../helpers/rpcClient.js";
import { codeOf } from "../../helpers/rejection.js";

let node: VsNode;
let close: () => Promise<void>;
let call: RpcCall;

beforeAll(async () => {
  [node, close] = await startTestNode({ mine: false });
  call = httpCall(node.rpc!.url);
}, 30_000);

afterAll(async () => {
  await close();
});

const { scrypt } = { scrypt: { N: 16, r: 1, p: 1 } };

/** eth_getWork for dev account `i`, decoded. */
async function getWork(i: number): Promise<{ sealHash: Hex; target: bigint; number: bigint }> {
  const [sealHash, , target, number] = (await call("eth_getWork", devAddress(i))) as Hex[];
  return { sealHash: sealHash!, target: BigInt(target!), number: BigInt(number!) };
}

/** The eth_submitWork params of a solution of `work` by dev account `miner`, signed by dev account `signer`. */
async function solve(work: { sealHash: Hex; target: bigint }, miner: number, signer = miner): Promise<[Hex, Hex, Hex, Hex]> {
  const sh = hexToBytes(work.sealHash);
  for (;;) {
    const nonce = randomBytes(8);
    const mix = await computeMixHash(sh, nonce, devAddress(miner), scrypt);
    if (bytesToBigInt(mix) > work.target) continue;
    return [bytesToHex(nonce) as Hex, work.sealHash, bytesToHex(mix) as Hex, signSeal(sealMessage(sh, nonce, mix), keyOf(devWallet(signer)))];
  }
}

describe("eth_getWork / eth_submitWork over HTTP on a node that does not mine itself", () => {
  it("answers true for a solution that becomes the head, then refuses the same solution again", async () => {
    const work = await getWork(7);
    const params = await solve(work, 7);
    expect(await call("eth_submitWork", ...params)).toBe(true);
    expect(BigInt((await call("eth_blockNumber")) as string)).toBe(work.number);
    const again = await rpcError(call("eth_submitWork", ...params));
    expect(again.code).toBe(-32000);
    expect(again.message).toBe(`no work package with seal hash ${work.sealHash}`);
  });

  it("answers false for a stale package (the chain moved two blocks past it) and keeps the head", async () => {
    const stale = await getWork(8);
    expect(await call("eth_submitWork", ...(await solve(await getWork(9), 9)))).toBe(true);
    expect(await call("eth_submitWork", ...(await solve(await getWork(7), 7)))).toBe(true);
    const head = (await call("eth_getBlockByNumber", "latest", false)) as { hash: Hex };
    expect(await call("eth_submitWork", ...(await solve(stale, 8)))).toBe(false);
    expect(((await call("eth_getBlockByNumber", "latest", false)) as { hash: Hex }).hash).toBe(head.hash);
  });

  it("refuses seals that are not the miner's with -32000 and the reason; the package stays usable", async () => {
    const work = await getWork(7);
    const height = await call("eth_blockNumber");
    // signed by a key that may not mine
    const outsider = await rpcError(call("eth_submitWork", ...(await solve(work, 7, 0))));
    expect(outsider.code).toBe(-32000);
    expect(outsider.message).toContain(`seal is signed by ${devAddress(0)}, not by the header's miner ${devAddress(7)}`);
    // signed by another eligible miner
    const other = await rpcError(call("eth_submitWork", ...(await solve(work, 7, 8))));
    expect(other.code).toBe(-32000);
    expect(other.message).toContain(`seal is signed by ${devAddress(8)}`);
    // a mixHash that is not scrypt of the nonce
    const [nonce, sealHash, , signature] = await solve(work, 7);
    const bad = await rpcError(call("eth_submitWork", nonce, sealHash, `0x${"00".repeat(32)}`, signature));
    expect(bad.code).toBe(-32000);
    expect(bad.message).toMatch(/seal/);
    expect(await call("eth_blockNumber")).toBe(height);
    // none of that burned the package or banned the miner
    expect(await call("eth_submitWork", ...(await solve(work, 7)))).toBe(true);
  });

  it("refuses garbage and wrong lengths with -32602 naming the argument, unknown packages and outsiders with -32000", async () => {
    const work = await getWork(8);
    const [nonce, sealHash, mixHash, signature] = await solve(work, 8);
    const cases: [unknown[], number, RegExp][] = [
      [["0x01", sealHash, mixHash, signature], -32602, /^invalid argument 0: Nonce must be 8 bytes/],
      [["0xzzzzzzzzzzzzzzzz", sealHash, mixHash, signature], -32602, /^invalid argument 0/],
      [[nonce, "0x1234", mixHash, signature], -32602, /^invalid argument 1/],
      [[nonce, sealHash, mixHash.slice(0, -2), signature], -32602, /^invalid argument 2/],
      [[nonce, sealHash, mixHash, signature.slice(0, -2)], -32602, /^invalid argument 3: Signature must be 65 bytes/],
      [[nonce, sealHash, mixHash], -32602, /^missing value for required argument 3/],
      [[42, sealHash, mixHash, signature], -32602, /^invalid argument 0/],
      [[nonce, `0x${"ab".repeat(32)}`, mixHash, signature], -32000, /^no work package with seal hash 0xabab/],
    ];
    for (const [params, code, message] of cases) {
      const e = await rpcError(call("eth_submitWork", ...params));
      expect([e.code, e.message]).toEqual([code, expect.stringMatching(message)]);
    }
    const outsider = await rpcError(call("eth_getWork", devAddress(0)));
    expect([outsider.code, outsider.message]).toEqual([-32000, `${devAddress(0)} is not an eligible miner`]);
    expect((await rpcError(call("eth_getWork", "0x1234"))).code).toBe(-32602);
    // after all of that the package is still good
    expect(await call("eth_submitWork", nonce, sealHash, mixHash, signature)).toBe(true);
  });

  it("sums submitted hashrates per id in eth_hashrate; eth_mining stays false without the in-process miner", async () => {
    const id = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}` as Hex;
    expect(await call("eth_submitHashrate", `0x${"00".repeat(31)}64`, id(1))).toBe(true); // 100, padded as miners send it
    expect(await call("eth_submitHashrate", "0x32", id(2))).toBe(true); // 50
    expect(await call("eth_hashrate")).toBe("0x96");
    expect(await call("eth_submitHashrate", "0xa", id(1))).toBe(true); // a newer report replaces the older
    expect(await call("eth_hashrate")).toBe("0x3c");
    expect((await rpcError(call("eth_submitHashrate", `0x${"ff".repeat(33)}`, id(3)))).code).toBe(-32602);
    // two reports of the largest rate: the sum stays a uint256 (httpCall checks the answer against the spec)
    expect(await call("eth_submitHashrate", `0x${"ff".repeat(32)}`, id(4))).toBe(true);
    expect(await call("eth_submitHashrate", `0x${"ff".repeat(32)}`, id(5))).toBe(true);
    expect(await call("eth_hashrate")).toBe(`0x${"ff".repeat(32)}`);
    expect((await rpcError(call("eth_submitHashrate", "0x10", "0x01"))).code).toBe(-32602);
    expect(await call("eth_mining")).toBe(false);
  });
});

describe("WorkProvider's memory of packages", () => {
  it("forgets the package handed out longest ago, counting a package handed out again as new", async () => {
    const { chain, importer, producer } = node.ledger;
    const work = new WorkProvider({ maxJobs: 2 }, { chain, importer, producer });
    const first = await work.getWork(devAddress(7));
    await work.getWork(devAddress(8));
    // the miner asks again on the same head: the same package, remembered as the newest
    expect((await work.getWork(devAddress(7))).sealHash).toBe(first.sealHash);
    await work.getWork(devAddress(9)); // a third package: one of the older two must go, not the one just handed out
    const params = await solve({ sealHash: first.sealHash, target: BigInt(first.target) }, 7);
    const [nonce, sealHash, mixHash, signature] = params;
    expect((await work.submitWork({ nonce, sealHash, mixHash, signature })).status).toBe("head");
  });
});

describe("eth_getWork for a miner banned for equivocation", () => {
  it("refuses work with -32000 naming the ban until the ban is over", async () => {
    const [banned, closeBanned] = await startTestNode({ mine: false, genesis: await testGenesis({ banBlocks: 2 }) });
    try {
      const rpc = httpCall(banned.rpc!.url);
      const ledger = banned.ledger;
      const first = await mineAs(ledger, 7);
      // a second block by the same miner on the same parent (as a peer could gossip it): equivocation
      const twin = await sealHeader({ ...first.header, extraData: "0x01" }, keyOf(devWallet(7)), ledger.chain.genesis.consensus.scrypt, 1, {
        startNonce: bytesToBigInt(randomBytes(8)),
        maxTries: 1_000_000,
      });
      expect(await codeOf(ledger.importBlock(blockOf(twin!, { transactions: [], subBlocks: [] })))).toBe("CONSENSUS_EQUIVOCATION");
      expect(await ledger.importer.bannedUntil(devAddress(7))).toBe(3n);

      const e = await rpcError(rpc("eth_getWork", devAddress(7)));
      expect([e.code, e.message]).toEqual([-32000, `${devAddress(7)} is banned until block 3 for equivocation: no work for it before block 4`]);
      await mineAs(ledger, 8);
      expect((await rpcError(rpc("eth_getWork", devAddress(7)))).code).toBe(-32000); // block 3 is still banned
      await mineAs(ledger, 9);
      expect(((await rpc("eth_getWork", devAddress(7))) as string[])[3]).toBe("0x4");
    } finally {
      await closeBanned();
    }
  });
});
