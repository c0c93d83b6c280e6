import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { RLP, type NestedUint8Array } from "@ethereumjs/rlp";
import { UNSEALED, decodeTransaction, encodeHeader, type BlockHeader, type Hex } from "../../../chain/index.js";
import {
  WireErrorCode,
  decodeBlock,
  decodeBodies,
  decodeBodiesRequest,
  decodeHeaders,
  decodeHeadersRequest,
  decodePayloads,
  decodePayloadsRequest,
  decodePeers,
  decodeStatus,
  decodeStem,
  encodeBlock,
} from "../../../p2p/messages.js";
import { devWallet, signedTransfer } from "../../helpers/ledger.js";

// The decoders of what peers send meet RLP that decodes but has the wrong shape (random byte strings
// almost never decode, so messages.test.ts's random bytes stop at the first check), and valid
// messages with bytes changed. Whatever comes, a decoder returns or throws a WireError: anything else
// would be taken for a bug of ours ("internal error", no penalty) instead of the peer's fault.

const CHAIN_ID = 1984n;

/** The code of the error `f` throws ("none" if it throws an error without one), or undefined if it returns. */
function wireCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code ?? `none: ${String(e)}`;
  }
  return undefined;
}

const WIRE_CODES: (string | undefined)[] = [undefined, WireErrorCode.MALFORMED, WireErrorCode.TOO_LARGE];

const DECODERS: [string, (b: Uint8Array) => unknown][] = [
  ["status", decodeStatus],
  ["headers request", decodeHeadersRequest],
  ["headers", decodeHeaders],
  ["bodies request", decodeBodiesRequest],
  ["bodies", decodeBodies],
  ["peers", decodePeers],
  ["stem", (b) => decodeStem(b)],
  ["payloads request", decodePayloadsRequest],
  ["payloads", (b) => decodePayloads(b, 2)],
  ["block", (b) => decodeBlock(b, CHAIN_ID)],
];

/** Byte strings that look like what messages hold: empty, one byte, a leading zero, 20 and 32 bytes, text. */
const item = fc.oneof(
  fc.uint8Array({ maxLength: 3 }),
  fc.uint8Array({ minLength: 20, maxLength: 20 }),
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.constantFrom(new Uint8Array([0]), new Uint8Array([0, 1]), new TextEncoder().encode("/ip4/127.0.0.1/tcp/1"), new Uint8Array(9).fill(0xff)),
);

/** RLP trees up to three lists deep. */
const tree: fc.Arbitrary<Uint8Array | NestedUint8Array> = fc.letrec<{ node: Uint8Array | NestedUint8Array }>((tie) => ({
  node: fc.oneof({ depthSize: "small", withCrossShrink: true }, item, fc.array(tie("node"), { maxLength: 6 }) as fc.Arbitrary<NestedUint8Array>),
})).node;

async function sampleBlock(): Promise<Uint8Array> {
  const raw = await signedTransfer(CHAIN_ID, 0, 0);
  const header: BlockHeader = {
    parentHash: `0x${"11".repeat(32)}`,
    miner: devWallet(9).address.toLowerCase() as Hex,
    stateRoot: `0x${"22".repeat(32)}`,
    transactionsRoot: `0x${"33".repeat(32)}`,
    receiptsRoot: `0x${"44".repeat(32)}`,
    logsBloom: `0x${"00".repeat(256)}`,
    difficulty: 4n,
    number: 1n,
    gasLimit: 30_000_000n,
    gasUsed: 21_000n,
    timestamp: 2n,
    extraData: "0x",
    baseFeePerGas: 10n ** 9n,
    subchainsRoot: `0x${"55".repeat(32)}`,
    ...UNSEALED,
  };
  encodeHeader(header); // the header as built is one the encoder takes
  return encodeBlock({ header, transactions: [decodeTransaction(raw, CHAIN_ID)], hash: `0x${"66".repeat(32)}` });
}

describe("P2P decoders on malformed input", () => {
  it("answer RLP of any shape with a value or a WireError", () => {
    fc.assert(
      fc.property(tree, (t) => {
        const bytes = RLP.encode(t);
        for (const [name, decode] of DECODERS) {
          const code = wireCode(() => decode(bytes));
          if (!WIRE_CODES.includes(code)) throw new Error(`${name} threw ${code}`);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("answer a gossiped block with any byte changed, cut short or extended with a value or a WireError", async () => {
    const block = await sampleBlock();
    expect(wireCode(() => decodeBlock(block, CHAIN_ID))).toBeUndefined();
    fc.assert(
      fc.property(fc.nat({ max: block.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.nat({ max: 3 }), (at, xor, how) => {
        let bytes: Uint8Array;
        if (how === 0) {
          bytes = block.slice();
          bytes[at] = bytes[at]! ^ xor;
        } else if (how === 1) {
          bytes = block.subarray(0, at);
        } else if (how === 2) {
          bytes = new Uint8Array([...block.subarray(0, at), xor, ...block.subarray(at)]);
        } else {
          bytes = new Uint8Array([...block.subarray(0, at), ...block.subarray(at + 1)]);
        }
        const code = wireCode(() => decodeBlock(bytes, CHAIN_ID));
        if (!WIRE_CODES.includes(code)) throw new Error(`decodeBlock threw ${code}`);
      }),
      { numRuns: 3_000 },
    );
  });
});
