import { beforeAll, describe, expect, it } from "@jest/globals";
import { Wallet } from "ethers";
import fc from "fast-check";
import { RLP } from "@ethereumjs/rlp";
import { bytesToHex, concatBytes, hexToBytes } from "@ethereumjs/util";
import { MerkleTree } from "merkletreejs";
import { BlockErrorCode, EMPTY_TRIE_ROOT, ZERO_HASH } from "../../../chain/block.js";
import { decodeBlockBody, encodeBody } from "../../../chain/blockchain.js";
import { decodeTransaction, type SignedTx } from "../../../chain/transaction.js";
import { isNodeError } from "../../../chain/errors.js";
import type { SubchainDeclaration } from "../../../chain/genesis.js";
import { keccak256 } from "../../../chain/keccak.js";
import {
  type MerkleProof,
  type SubBlockHeader,
  SubchainErrorCode,
  buildSubBlock,
  checkSealedSubBlocks,
  checkSubBlockHeader,
  checkSubBlockLink,
  checkSubBlockPayloadHashes,
  checkSubBlockPayloads,
  decodeMerkleProof,
  decodeSubBlockHeader,
  encodeMerkleProof,
  encodeSubBlockHeader,
  genesisSubBlock,
  merkleRoot,
  payloadHash,
  payloadProof,
  payloadRoot,
  subBlockHash,
  subBlockHeaderFields,
  subchainsRoot,
  verifyPayloadProof,
} from "../../../chain/subchain.js";
import type { Hex } from "../../../chain/types.js";

const bytesHex = (n: number): fc.Arbitrary<Hex> => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => bytesToHex(b) as Hex);
const hashArb = bytesHex(32);

const headerArb: fc.Arbitrary<SubBlockHeader> = fc.record({
  subchainId: fc.integer({ min: 0, max: 255 }),
  number: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  parentHash: hashArb,
  payloadRoot: hashArb,
  payloadCount: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  payloadBytes: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  payloadLengths: fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: 6 }),
});

/** Distinct hashes (a proof for "another payload" must be for a different hash). */
const hashesArb = (min: number, max: number): fc.Arbitrary<Hex[]> => fc.uniqueArray(hashArb, { minLength: min, maxLength: max });
/** A list of hashes with an index into it. */
const indexedArb = hashesArb(1, 40).chain((hashes) => fc.tuple(fc.constant(hashes), fc.nat({ max: hashes.length - 1 })));

const k = (...parts: Hex[]): Hex => bytesToHex(keccak256(concatBytes(...parts.map((p) => hexToBytes(p))))) as Hex;

/** Checks that `decode` throws nothing but a NodeError on random bytes. */
function onlyNodeErrors(decode: (bytes: Uint8Array) => unknown): void {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decode(bytes);
      } catch (e) {
        expect(isNodeError(e)).toBe(true);
      }
    }),
  );
}

/** Matches a NodeError with this code. */
const withCode = (code: string): unknown => expect.objectContaining({ code });
const POSTS: SubchainDeclaration = { id: 1, name: "posts", payloadGasPerByte: 8n, maxPayloadBytes: 100, maxSubBlockBytes: 250 };


describe("sub-block header encoding", () => {
  it("round trips every header exactly (decode . encode = id, encode . decode = id)", () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        const bytes = encodeSubBlockHeader(h);
        const back = decodeSubBlockHeader(bytes);
        expect(back).toEqual(h);
        expect(encodeSubBlockHeader(back)).toEqual(bytes);
      }),
    );
  });

  it("hashes the header as keccak256 of its RLP, and every field changes the hash", () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        expect(subBlockHash(h)).toBe(bytesToHex(keccak256(encodeSubBlockHeader(h))));
        expect(subBlockHash({ ...h, subchainId: (h.subchainId + 1) % 256 })).not.toBe(subBlockHash(h));
        expect(subBlockHash({ ...h, number: h.number ^ 1n })).not.toBe(subBlockHash(h));
        expect(subBlockHash({ ...h, payloadCount: h.payloadCount === 0 ? 1 : h.payloadCount - 1 })).not.toBe(subBlockHash(h));
        expect(subBlockHash({ ...h, payloadLengths: [...h.payloadLengths, 1] })).not.toBe(subBlockHash(h));
        if (h.payloadLengths.length > 0) {
          const lengths = [...h.payloadLengths];
          lengths[0] = lengths[0] === 0 ? 1 : lengths[0]! - 1;
          expect(subBlockHash({ ...h, payloadLengths: lengths })).not.toBe(subBlockHash(h));
        }
      }),
      { numRuns: 50 },
    );
  });

  it("rejects malformed encodings with a SubchainError", () => {
    const h = fc.sample(headerArb, 1)[0]!;
    const fields = subBlockHeaderFields(h);
    const withField = (i: number, v: unknown): Uint8Array => {
      const f = [...fields] as unknown[];
      f[i] = v;
      return RLP.encode(f as Uint8Array[]);
    };
    expect(() => decodeSubBlockHeader(Uint8Array.of(0xff, 0x01))).toThrow(withCode(SubchainErrorCode.BAD_RLP));
    expect(() => decodeSubBlockHeader(RLP.encode(fields.slice(1)))).toThrow(withCode(SubchainErrorCode.BAD_RLP));
    expect(() => decodeSubBlockHeader(RLP.encode([...fields, new Uint8Array(0)]))).toThrow(withCode(SubchainErrorCode.BAD_RLP));
    expect(() => decodeSubBlockHeader(withField(3, [Uint8Array.of(1)]))).toThrow(withCode(SubchainErrorCode.BAD_RLP));
    expect(() => decodeSubBlockHeader(withField(2, new Uint8Array(31)))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeSubBlockHeader(withField(3, new Uint8Array(33)))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeSubBlockHeader(withField(1, Uint8Array.of(0, 1)))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeSubBlockHeader(withField(0, Uint8Array.of(1, 0)))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeSubBlockHeader(withField(1, new Uint8Array(9).fill(1)))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeSubBlockHeader(withField(4, Uint8Array.of(1, 0, 0, 0, 0)))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeSubBlockHeader(withField(5, Uint8Array.of(1, 0, 0, 0, 0)))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeSubBlockHeader(RLP.encode(new Uint8Array(5)))).toThrow(withCode(SubchainErrorCode.BAD_RLP));
    // payloadLengths: a list of canonical 32-bit integers
    expect(() => decodeSubBlockHeader(withField(6, Uint8Array.of(1)))).toThrow(withCode(SubchainErrorCode.BAD_RLP));
    expect(() => decodeSubBlockHeader(withField(6, [Uint8Array.of(1), [Uint8Array.of(2)]]))).toThrow(withCode(SubchainErrorCode.BAD_RLP));
    expect(() => decodeSubBlockHeader(withField(6, [Uint8Array.of(0, 1)]))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeSubBlockHeader(withField(6, [Uint8Array.of(0)]))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeSubBlockHeader(withField(6, [Uint8Array.of(1, 0, 0, 0, 0)]))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(decodeSubBlockHeader(withField(6, [new Uint8Array(0), Uint8Array.of(0xff, 0xff, 0xff, 0xff)])).payloadLengths).toEqual([0, 2 ** 32 - 1]);
  });

  it("never throws anything but a SubchainError on random bytes", () => {
    onlyNodeErrors(decodeSubBlockHeader);
  });
});

describe("payloadRoot and payload proofs", () => {
  it("defines the empty root as EMPTY_TRIE_ROOT and one payload's root as keccak256 of its hash", () => {
    expect(payloadRoot([])).toBe(EMPTY_TRIE_ROOT);
    const h = payloadHash(Uint8Array.of(1, 2, 3));
    expect(payloadRoot([h])).toBe(k(h));
    expect(payloadProof([h], 0)).toEqual([]);
    expect(verifyPayloadProof(payloadRoot([h]), h, [], 0)).toBe(true);
  });

  it("builds the documented tree: keccak leaves, unsorted pairs, zero-hash padding to a power of two", () => {
    const [a, b, c] = [1, 2, 3].map((i) => payloadHash(Uint8Array.of(i))) as [Hex, Hex, Hex];
    expect(payloadRoot([a, b, c])).toBe(k(k(k(a), k(b)), k(k(c), ZERO_HASH)));
    expect(payloadRoot([a, b])).toBe(k(k(a), k(b)));
    expect(payloadRoot([b, a])).not.toBe(payloadRoot([a, b]));
  });

  it("verifies every proof, with and without its index", () => {
    fc.assert(
      fc.property(indexedArb, ([hashes, i]) => {
        const root = payloadRoot(hashes);
        const proof = payloadProof(hashes, i);
        expect(proof).toHaveLength(Math.ceil(Math.log2(hashes.length)));
        expect(verifyPayloadProof(root, hashes[i]!, proof, i)).toBe(true);
        expect(verifyPayloadProof(root, hashes[i]!, proof)).toBe(true);
      }),
    );
  });

  it("lets anyone with merkletreejs rebuild the root and check a proof", () => {
    fc.assert(
      fc.property(indexedArb, ([hashes, i]) => {
        // leaves as bytes: merkletreejs hands a string leaf to the hash function as it is
        const tree = new MerkleTree(hashes.map((h) => hexToBytes(h)), keccak256, { hashLeaves: true, fillDefaultHash: ZERO_HASH });
        expect(tree.getHexRoot()).toBe(payloadRoot(hashes));
        const proof = payloadProof(hashes, i);
        expect(MerkleTree.verify(proof, k(hashes[i]!), payloadRoot(hashes), keccak256)).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it("fails a proof for another payload or at another index", () => {
    fc.assert(
      fc.property(
        indexedArb.filter(([hashes]) => hashes.length > 1),
        fc.nat(),
        ([hashes, i], pick) => {
          const j = (i + 1 + (pick % (hashes.length - 1))) % hashes.length;
          const root = payloadRoot(hashes);
          const proof = payloadProof(hashes, i);
          expect(verifyPayloadProof(root, hashes[j]!, proof)).toBe(false);
          expect(verifyPayloadProof(root, hashes[j]!, proof, i)).toBe(false);
          expect(verifyPayloadProof(root, hashes[i]!, proof, j)).toBe(false);
          expect(verifyPayloadProof(root, hashes[i]!, proof, i + 2 ** proof.length)).toBe(false);
        },
      ),
    );
  });

  it("fails a tampered proof: a changed sibling, a flipped side, a sibling dropped or added, another root", () => {
    fc.assert(
      fc.property(
        indexedArb.filter(([hashes]) => hashes.length > 1),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        hashArb,
        ([hashes, i], at, xor, extra) => {
          const root = payloadRoot(hashes);
          const proof = payloadProof(hashes, i);
          const s = at % proof.length;
          const bytes = hexToBytes(proof[s]!.data);
          bytes[at % 32]! ^= xor;
          const changed: MerkleProof = proof.map((p, n) => (n === s ? { ...p, data: bytesToHex(bytes) as Hex } : p));
          expect(verifyPayloadProof(root, hashes[i]!, changed)).toBe(false);
          const flipped: MerkleProof = proof.map((p, n) => (n === s ? { ...p, position: p.position === "left" ? "right" : "left" } : p));
          expect(verifyPayloadProof(root, hashes[i]!, flipped)).toBe(false);
          expect(verifyPayloadProof(root, hashes[i]!, proof.slice(1))).toBe(false);
          expect(verifyPayloadProof(root, hashes[i]!, [...proof, { position: "right", data: extra }])).toBe(false);
          expect(verifyPayloadProof(payloadRoot([...hashes, extra]), hashes[i]!, proof)).toBe(false);
        },
      ),
    );
  });

  it("does not let two child hashes pass as a 64-byte payload", () => {
    const hashes = [1, 2, 3, 4].map((i) => payloadHash(Uint8Array.of(i)));
    const root = payloadRoot(hashes);
    const forged = concatBytes(hexToBytes(k(hashes[0]!)), hexToBytes(k(hashes[1]!)));
    const forgedHash = payloadHash(forged);
    // the forged payload hashes to the parent of leaves 0 and 1; its path up is leaf 0's minus one step
    const upper = payloadProof(hashes, 0).slice(1);
    expect(verifyPayloadProof(root, forgedHash, upper)).toBe(false);
    expect(verifyPayloadProof(root, forgedHash, upper, 0)).toBe(false);
  });

  it("returns false, never throws, for malformed proofs and roots", () => {
    const hashes = [1, 2, 3].map((i) => payloadHash(Uint8Array.of(i)));
    const root = payloadRoot(hashes);
    const proof = payloadProof(hashes, 1);
    const bad: unknown[] = [
      null,
      "0x00",
      [{ position: "up", data: proof[0]!.data }],
      [{ position: "left", data: "0x1234" }],
      [{ position: "left" }],
      [null],
      Array.from({ length: 33 }, () => proof[0]),
    ];
    for (const p of bad) expect(verifyPayloadProof(root, hashes[1]!, p as MerkleProof)).toBe(false);
    expect(verifyPayloadProof("0x1234" as Hex, hashes[1]!, proof)).toBe(false);
    expect(verifyPayloadProof(root, "0xzz" as Hex, proof)).toBe(false);
    expect(verifyPayloadProof(EMPTY_TRIE_ROOT, hashes[1]!, [])).toBe(false);
    expect(verifyPayloadProof(root, hashes[1]!, proof, -1)).toBe(false);
    expect(verifyPayloadProof(root, hashes[1]!, proof, 1.5)).toBe(false);
    expect(() => payloadProof(hashes, 3)).toThrow(RangeError);
  });
});

describe("proof encoding", () => {
  it("round trips every proof, the sides following from the index", () => {
    fc.assert(
      fc.property(indexedArb, ([hashes, i]) => {
        const proof = payloadProof(hashes, i);
        expect(decodeMerkleProof(encodeMerkleProof(i, proof))).toEqual({ index: i, proof });
      }),
    );
  });

  it("rejects malformed proof bytes", () => {
    const sib = new Uint8Array(32);
    expect(() => decodeMerkleProof(Uint8Array.of(0xff))).toThrow(withCode(SubchainErrorCode.BAD_RLP));
    expect(() => decodeMerkleProof(RLP.encode([Uint8Array.of(1)]))).toThrow(withCode(SubchainErrorCode.BAD_RLP));
    expect(() => decodeMerkleProof(RLP.encode([[], [sib]] as never))).toThrow(withCode(SubchainErrorCode.BAD_RLP));
    expect(() => decodeMerkleProof(RLP.encode([Uint8Array.of(0, 1), [sib]]))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeMerkleProof(RLP.encode([Uint8Array.of(2), [sib]]))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeMerkleProof(RLP.encode([Uint8Array.of(1), [new Uint8Array(31)]]))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    expect(() => decodeMerkleProof(RLP.encode([new Uint8Array(0), Array.from({ length: 33 }, () => sib)]))).toThrow(withCode(SubchainErrorCode.BAD_FIELD));
    onlyNodeErrors(decodeMerkleProof);
  });
});

describe("subchainsRoot", () => {
  it("is EMPTY_TRIE_ROOT when a block seals no sub-block, so existing headers stay valid", () => {
    expect(subchainsRoot([])).toBe(EMPTY_TRIE_ROOT);
  });

  it("is the same tree over the sealed sub-block hashes in order", () => {
    fc.assert(
      fc.property(fc.array(headerArb, { minLength: 1, maxLength: 5 }), (headers) => {
        expect(subchainsRoot(headers)).toBe(merkleRoot(headers.map(subBlockHash)));
      }),
      { numRuns: 30 },
    );
  });
});

describe("sub-block building and validation", () => {
  const genesis = genesisSubBlock(POSTS);
  const payloads = [Uint8Array.of(1, 2, 3), new Uint8Array(100).fill(7), Uint8Array.of(9)];

  it("starts every sub-chain at a genesis sub-block 0 with a zero parent that carries its declaration", () => {
    const { subBlock, payloads: gp } = genesis;
    expect(subBlock.header).toMatchObject({ subchainId: 1, number: 0n, parentHash: ZERO_HASH, payloadCount: 1 });
    expect(subBlock.header.payloadBytes).toBe(gp[0]!.length);
    expect(subBlock.header.payloadLengths).toEqual([gp[0]!.length]);
    expect(subBlock.hash).toBe(subBlockHash(subBlock.header));
    expect(subBlock.payloadHashes).toEqual([payloadHash(gp[0]!)]);
    expect(RLP.decode(gp[0]!)).toEqual([Uint8Array.of(1), new TextEncoder().encode("posts"), Uint8Array.of(8), Uint8Array.of(100), Uint8Array.of(250)]);
    expect(genesisSubBlock({ ...POSTS, maxPayloadBytes: 99 }).subBlock.hash).not.toBe(subBlock.hash);
  });

  it("builds a sub-block that passes every check", () => {
    const sb = buildSubBlock(genesis.subBlock.header, payloads);
    expect(sb.header).toEqual({
      subchainId: 1,
      number: 1n,
      parentHash: genesis.subBlock.hash,
      payloadRoot: payloadRoot(payloads.map(payloadHash)),
      payloadCount: 3,
      payloadBytes: 104,
      payloadLengths: [3, 100, 1],
    });
    expect(sb.hash).toBe(subBlockHash(sb.header));
    checkSubBlockLink(sb.header, genesis.subBlock.header);
    checkSubBlockPayloads(sb.header, payloads, POSTS);
    checkSubBlockPayloadHashes(sb.header, sb.payloadHashes);
    const next = buildSubBlock(sb.header, [Uint8Array.of(5)]);
    checkSubBlockLink(next.header, sb.header);
  });

  it("refuses a broken link", () => {
    const parent = genesis.subBlock.header;
    const h = buildSubBlock(parent, payloads).header;
    expect(() => checkSubBlockLink({ ...h, number: 2n }, parent)).toThrow(withCode(SubchainErrorCode.BAD_NUMBER));
    expect(() => checkSubBlockLink({ ...h, parentHash: ZERO_HASH }, parent)).toThrow(withCode(SubchainErrorCode.BAD_PARENT_HASH));
    expect(() => checkSubBlockLink({ ...h, subchainId: 2 }, parent)).toThrow(withCode(SubchainErrorCode.WRONG_SUBCHAIN));
  });

  it("refuses payloads that break the declaration or the header", () => {
    const parent = genesis.subBlock.header;
    const h = buildSubBlock(parent, payloads).header;
    expect(() => checkSubBlockPayloads(h, payloads, { ...POSTS, id: 2 })).toThrow(withCode(SubchainErrorCode.WRONG_SUBCHAIN));
    const big = [new Uint8Array(101)];
    expect(() => checkSubBlockPayloads(buildSubBlock(parent, big).header, big, POSTS)).toThrow(withCode(SubchainErrorCode.PAYLOAD_TOO_LARGE));
    const many = [new Uint8Array(100), new Uint8Array(100), new Uint8Array(51)];
    expect(() => checkSubBlockPayloads(buildSubBlock(parent, many).header, many, POSTS)).toThrow(withCode(SubchainErrorCode.SUB_BLOCK_TOO_LARGE));
    const empty = [Uint8Array.of(1), new Uint8Array(0)];
    expect(() => checkSubBlockPayloads(buildSubBlock(parent, empty).header, empty, POSTS)).toThrow(withCode(SubchainErrorCode.EMPTY_PAYLOAD));
    expect(() => checkSubBlockPayloads(buildSubBlock(parent, []).header, [], POSTS)).toThrow(withCode(SubchainErrorCode.EMPTY_SUB_BLOCK));
    expect(() => checkSubBlockPayloads({ ...h, payloadBytes: 105 }, payloads, POSTS)).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_BYTES));
    expect(() => checkSubBlockPayloads(h, payloads.slice(0, 2).concat(Uint8Array.of(8)), POSTS)).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_ROOT));
    expect(() => checkSubBlockPayloads(h, [payloads[1]!, payloads[0]!, payloads[2]!], POSTS)).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_LENGTHS));
    const pair = [Uint8Array.of(1), Uint8Array.of(2)];
    expect(() => checkSubBlockPayloads(buildSubBlock(parent, pair).header, [pair[1]!, pair[0]!], POSTS)).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_ROOT));
    expect(() => checkSubBlockPayloadHashes(h, payloads.slice(0, 2).map(payloadHash))).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_COUNT));
    // header-only checks, for sub-chains whose payloads a node does not hold
    expect(() => checkSubBlockHeader({ ...h, payloadBytes: 2 }, POSTS)).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_BYTES));
    expect(() => checkSubBlockHeader({ ...h, payloadCount: 1, payloadBytes: 101, payloadLengths: [101] }, POSTS)).toThrow(withCode(SubchainErrorCode.PAYLOAD_TOO_LARGE));
  });

  it("refuses payload lengths that disagree with the count, the byte sum, the declaration or the payloads", () => {
    const h = buildSubBlock(genesis.subBlock.header, payloads).header;
    checkSubBlockHeader(h, POSTS);
    const lengths = (payloadLengths: number[], more: Partial<SubBlockHeader> = {}): SubBlockHeader => ({ ...h, payloadLengths, ...more });
    // count
    expect(() => checkSubBlockHeader(lengths([3, 100]), POSTS)).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_LENGTHS));
    expect(() => checkSubBlockHeader(lengths([3, 100, 1, 0]), POSTS)).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_LENGTHS));
    // sum
    expect(() => checkSubBlockHeader(lengths([3, 99, 1]), POSTS)).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_BYTES));
    expect(() => checkSubBlockHeader({ ...h, payloadBytes: 105 }, POSTS)).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_BYTES));
    // each 1..maxPayloadBytes
    expect(() => checkSubBlockHeader(lengths([0, 103, 1]), POSTS)).toThrow(withCode(SubchainErrorCode.EMPTY_PAYLOAD));
    expect(() => checkSubBlockHeader(lengths([2, 101, 1]), POSTS)).toThrow(withCode(SubchainErrorCode.PAYLOAD_TOO_LARGE));
    // the same sum and count, but lengths that are not the payloads'
    const swapped = lengths([100, 3, 1]);
    checkSubBlockHeader(swapped, POSTS);
    expect(() => checkSubBlockPayloads(swapped, payloads, POSTS)).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_LENGTHS));
    // any header with lengths that sum to payloadBytes, count payloadCount and fit the declaration passes
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: POSTS.maxPayloadBytes }), { minLength: 1, maxLength: 2 }), (ls) => {
        const ok = lengths(ls, { payloadCount: ls.length, payloadBytes: ls.reduce((a, b) => a + b, 0) });
        checkSubBlockHeader(ok, POSTS);
        expect(() => checkSubBlockHeader({ ...ok, payloadBytes: ok.payloadBytes + 1 }, POSTS)).toThrow(withCode(SubchainErrorCode.BAD_PAYLOAD_BYTES));
      }),
    );
  });

  it("accepts sealed sub-blocks of declared sub-chains in ascending id only", () => {
    const subchains: SubchainDeclaration[] = [{ ...POSTS, id: 0, name: "pins" }, POSTS, { ...POSTS, id: 3, name: "comments" }];
    const of = (id: number): SubBlockHeader => ({ ...genesis.subBlock.header, subchainId: id });
    checkSealedSubBlocks([], subchains);
    checkSealedSubBlocks([of(0), of(1), of(3)], subchains);
    checkSealedSubBlocks([of(3)], subchains);
    expect(() => checkSealedSubBlocks([of(1), of(1)], subchains)).toThrow(withCode(SubchainErrorCode.BAD_ORDER));
    expect(() => checkSealedSubBlocks([of(3), of(0)], subchains)).toThrow(withCode(SubchainErrorCode.BAD_ORDER));
    expect(() => checkSealedSubBlocks([of(2)], subchains)).toThrow(withCode(SubchainErrorCode.UNKNOWN_SUBCHAIN));
  });
});

describe("block bodies with sealed sub-block headers", () => {
  const CHAIN_ID = 1984n;
  let txs: SignedTx[] = [];
  beforeAll(async () => {
    const wallet = new Wallet(`0x${"02".padStart(64, "0")}`);
    const raws = await Promise.all(
      [0, 1, 2].map((nonce) =>
        wallet.signTransaction({ type: 2, chainId: CHAIN_ID, nonce, to: ZERO_HASH.slice(0, 42), value: 1n, gasLimit: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }),
      ),
    );
    txs = raws.map((r) => decodeTransaction(hexToBytes(r as Hex), CHAIN_ID));
  });

  it("round-trips transactions and sub-block headers; without sub-blocks the body is the plain transaction list", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.array(headerArb, { maxLength: 4 }), (n, subs) => {
        const body = encodeBody(txs.slice(0, n), subs);
        const decoded = decodeBlockBody(body, CHAIN_ID);
        expect(decoded.transactions.map((t) => t.hash)).toEqual(txs.slice(0, n).map((t) => t.hash));
        expect(decoded.subBlocks).toEqual(subs);
        if (subs.length === 0) expect(body).toEqual(RLP.encode(txs.slice(0, n).map((t) => t.raw)));
      }),
    );
  });

  it("refuses the two-list form without a sub-block, and malformed sub-block headers, as BlockError", () => {
    const code = (bytes: Uint8Array): string | undefined => {
      try {
        decodeBlockBody(bytes, CHAIN_ID);
      } catch (e) {
        return isNodeError(e) ? e.code : "other";
      }
      return undefined;
    };
    expect(code(RLP.encode([[], []]))).toBe(BlockErrorCode.BAD_RLP);
    expect(code(RLP.encode([[txs[0]!.raw], [[new Uint8Array([1])]]]))).toBe(BlockErrorCode.BAD_FIELD);
    expect(code(RLP.encode([[txs[0]!.raw], [new Uint8Array(3)], []]))).toBe(BlockErrorCode.BAD_RLP);
    expect(code(RLP.encode([[[new Uint8Array(1)]], [new Uint8Array(3)]]))).toBe(BlockErrorCode.BAD_FIELD);
  });
});
