import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { RLP } from "@ethereumjs/rlp";
import { bytesToHex } from "@ethereumjs/util";
import {
  type BlockHeader,
  BlockErrorCode,
  decodeHeader,
  encodeHeader,
  headerFields,
  headerHash,
  sealHash,
} from "../../../chain/block.js";
import { keccak256 } from "../../../chain/keccak.js";
import { isNodeError } from "../../../chain/errors.js";
import type { Hex } from "../../../chain/types.js";

const bytesHex = (n: number): fc.Arbitrary<Hex> => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => bytesToHex(b) as Hex);
const uint = (bits: number): fc.Arbitrary<bigint> => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });

const headerArb: fc.Arbitrary<BlockHeader> = fc.record({
  parentHash: bytesHex(32),
  number: uint(64),
  timestamp: uint(64),
  miner: bytesHex(20),
  difficulty: uint(256),
  stateRoot: bytesHex(32),
  transactionsRoot: bytesHex(32),
  receiptsRoot: bytesHex(32),
  logsBloom: bytesHex(256),
  gasLimit: uint(64),
  gasUsed: uint(64),
  extraData: fc.integer({ min: 0, max: 32 }).chain((n) => bytesHex(n)),
  baseFeePerGas: uint(256),
  mixHash: bytesHex(32),
  nonce: bytesHex(8),
  subchainsRoot: bytesHex(32),
  sealSignature: bytesHex(65),
});

function expectBlockError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(isNodeError(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return;
  }
  throw new Error("expected a BlockError");
}

describe("block header encoding", () => {
  it("round trips every header exactly (decode . encode = id, encode . decode = id)", () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        const bytes = encodeHeader(h);
        const back = decodeHeader(bytes);
        expect(back).toEqual(h);
        expect(encodeHeader(back)).toEqual(bytes);
      }),
    );
  });

  it("hashes the header as keccak256 of its RLP", () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        expect(headerHash(h)).toBe(bytesToHex(keccak256(encodeHeader(h))));
      }),
      { numRuns: 50 },
    );
  });

  it("seal hash ignores mixHash, nonce and signature but covers every other field", () => {
    fc.assert(
      fc.property(headerArb, bytesHex(32), bytesHex(8), (h, mix, nonce) => {
        const resealed = { ...h, mixHash: mix, nonce, sealSignature: `0x${"11".repeat(65)}` as Hex };
        expect(sealHash(resealed)).toEqual(sealHash(h));
        expect(sealHash({ ...h, number: h.number + 1n })).not.toEqual(sealHash(h));
        const other: Hex = `0x${"ab".repeat(20)}`;
        if (h.miner !== other) expect(sealHash({ ...h, miner: other })).not.toEqual(sealHash(h));
      }),
      { numRuns: 50 },
    );
  });

  it("rejects malformed encodings with a BlockError naming the problem", () => {
    const h = fc.sample(headerArb, 1)[0]!;
    const fields = headerFields(h);
    expectBlockError(() => decodeHeader(Uint8Array.of(0xff, 0x01)), BlockErrorCode.BAD_RLP);
    expectBlockError(() => decodeHeader(RLP.encode(fields.slice(1))), BlockErrorCode.BAD_RLP);
    expectBlockError(() => decodeHeader(RLP.encode([...fields, new Uint8Array(0)])), BlockErrorCode.BAD_RLP);
    const shortHash = [...fields];
    shortHash[0] = new Uint8Array(31);
    expectBlockError(() => decodeHeader(RLP.encode(shortHash)), BlockErrorCode.BAD_FIELD);
    const leadingZero = [...fields];
    leadingZero[1] = Uint8Array.of(0, 1);
    expectBlockError(() => decodeHeader(RLP.encode(leadingZero)), BlockErrorCode.BAD_FIELD);
    const longExtra = [...fields];
    longExtra[11] = new Uint8Array(33);
    expectBlockError(() => decodeHeader(RLP.encode(longExtra)), BlockErrorCode.BAD_FIELD);
    const nested = [...fields] as unknown[];
    nested[2] = [Uint8Array.of(1)];
    expectBlockError(() => decodeHeader(RLP.encode(nested as Uint8Array[])), BlockErrorCode.BAD_RLP);
  });

  it("never throws anything but a BlockError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        try {
          decodeHeader(bytes);
        } catch (e) {
          expect(isNodeError(e)).toBe(true);
        }
      }),
    );
  });
});
