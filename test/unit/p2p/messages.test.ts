import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { RLP } from "@ethereumjs/rlp";
import { bytesToHex } from "@ethereumjs/util";
import type { Hex } from "../../../chain/index.js";
import {
  MAX_BODIES_PER_REQUEST,
  MAX_HEADERS_PER_REQUEST,
  MAX_PAYLOADS_PER_REQUEST,
  MAX_STEM_BYTES,
  WireErrorCode,
  decodePayloads,
  decodePayloadsRequest,
  encodePayloads,
  encodePayloadsRequest,
  maxStemBytes,
  decodeBodiesRequest,
  decodeHeadersRequest,
  decodePeers,
  decodeStatus,
  decodeStem,
  encodeBodiesRequest,
  encodeHeadersRequest,
  encodePeers,
  encodeStatus,
  encodeStem,
} from "../../../p2p/messages.js";

const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b) as Hex);
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

/** The code of the error `f` throws ("none" if it throws an error without one), or undefined if it returns. */
function wireCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code ?? "none";
  }
  return undefined;
}

describe("P2P wire messages", () => {
  it("status round-trips", () => {
    fc.assert(
      fc.property(u64, hash, hash, u64, fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), (chainId, genesisHash, headHash, headNumber, totalDifficulty) => {
        const s = { chainId, genesisHash, headHash, headNumber, totalDifficulty };
        expect(decodeStatus(encodeStatus(s))).toEqual(s);
      }),
    );
  });

  it("headers and bodies requests round-trip within their caps", () => {
    fc.assert(
      fc.property(u64, fc.integer({ min: 1, max: MAX_HEADERS_PER_REQUEST }), (start, count) => {
        expect(decodeHeadersRequest(encodeHeadersRequest({ start, count }))).toEqual({ start, count });
      }),
    );
    fc.assert(
      fc.property(fc.array(hash, { minLength: 1, maxLength: MAX_BODIES_PER_REQUEST }), (hashes) => {
        expect(decodeBodiesRequest(encodeBodiesRequest(hashes))).toEqual(hashes);
      }),
    );
  });

  it("refuses requests over the caps", () => {
    expect(wireCode(() => decodeHeadersRequest(encodeHeadersRequest({ start: 0n, count: MAX_HEADERS_PER_REQUEST + 1 })))).toBe(WireErrorCode.MALFORMED);
    expect(wireCode(() => decodeHeadersRequest(encodeHeadersRequest({ start: 0n, count: 0 })))).toBe(WireErrorCode.MALFORMED);
    const many = Array.from({ length: MAX_BODIES_PER_REQUEST + 1 }, () => `0x${"11".repeat(32)}` as Hex);
    expect(wireCode(() => decodeBodiesRequest(encodeBodiesRequest(many)))).toBe(WireErrorCode.MALFORMED);
  });

  it("peers and stem messages round-trip", () => {
    const peers = [{ id: "12D3KooWExample", addrs: ["/ip4/127.0.0.1/tcp/1"] }];
    expect(decodePeers(encodePeers(peers))).toEqual(peers);
    expect(decodeStem(encodeStem({ hopsLeft: 2, raw: new Uint8Array([1, 2]) }))).toEqual({ hopsLeft: 2, raw: new Uint8Array([1, 2]) });
    expect(wireCode(() => decodeStem(encodeStem({ hopsLeft: 4, raw: new Uint8Array([1]) })))).toBe(WireErrorCode.MALFORMED);
  });

  it("a stem message carries a publish's payload, within the frame cap its chain allows", () => {
    const payload = { subchainId: 1, bytes: new Uint8Array(MAX_STEM_BYTES).fill(7) };
    const m = { hopsLeft: 1, raw: new Uint8Array([1, 2]), payload };
    const frame = encodeStem(m);
    expect(decodeStem(frame, maxStemBytes(MAX_STEM_BYTES))).toEqual(m);
    // the plain transaction cap refuses it
    expect(wireCode(() => decodeStem(frame))).toBe(WireErrorCode.TOO_LARGE);
    // three items, an empty payload or a sub-chain id over 255 are malformed
    const [hops, raw] = [new Uint8Array([1]), new Uint8Array([1, 2])];
    for (const items of [[hops, raw, new Uint8Array([1])], [hops, raw, new Uint8Array([1]), new Uint8Array(0)], [hops, raw, new Uint8Array([1, 0]), new Uint8Array([5])]]) {
      expect(wireCode(() => decodeStem(RLP.encode(items), maxStemBytes(1_000)))).toBe(WireErrorCode.MALFORMED);
    }
  });

  it("payload requests and answers round-trip; wrong counts and shapes are malformed", () => {
    fc.assert(
      fc.property(fc.array(hash, { minLength: 1, maxLength: MAX_PAYLOADS_PER_REQUEST }), (hashes) => {
        expect(decodePayloadsRequest(encodePayloadsRequest(hashes))).toEqual(hashes);
      }),
    );
    const many = Array.from({ length: MAX_PAYLOADS_PER_REQUEST + 1 }, () => `0x${"11".repeat(32)}` as Hex);
    expect(wireCode(() => decodePayloadsRequest(encodePayloadsRequest(many)))).toBe(WireErrorCode.MALFORMED);
    expect(wireCode(() => decodePayloadsRequest(RLP.encode([])))).toBe(WireErrorCode.MALFORMED);
    const answers = [new Uint8Array([1, 2, 3]), undefined, new Uint8Array([4])];
    expect(decodePayloads(encodePayloads(answers), 3)).toEqual(answers);
    expect(wireCode(() => decodePayloads(encodePayloads(answers), 2))).toBe(WireErrorCode.MALFORMED);
    expect(wireCode(() => decodePayloads(RLP.encode([[new Uint8Array([1])]]), 1))).toBe(WireErrorCode.MALFORMED);
    expect(wireCode(() => decodePayloads(encodePayloads([new Uint8Array(2_000)]), 1, 1_000))).toBe(WireErrorCode.TOO_LARGE);
  });

  it("names garbage as malformed instead of throwing something else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const decode of [decodeStatus, decodeHeadersRequest, decodeBodiesRequest, decodePeers, decodeStem, decodePayloadsRequest, (b: Uint8Array) => decodePayloads(b, 1)]) {
          const code = wireCode(() => decode(bytes));
          if (code !== undefined) expect([WireErrorCode.MALFORMED, WireErrorCode.TOO_LARGE]).toContain(code);
        }
      }),
    );
    expect(wireCode(() => decodeStatus(RLP.encode([new Uint8Array([0, 1])])))).toBe(WireErrorCode.MALFORMED);
    expect(wireCode(() => decodeStatus(new Uint8Array(20_000)))).toBe(WireErrorCode.TOO_LARGE);
  });
});
