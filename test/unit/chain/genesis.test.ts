import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { HDNodeWallet } from "ethers";
import fc from "fast-check";
import { isNodeError } from "../../../chain/errors.js";
import {
  GenesisErrorCode,
  genesisToJson,
  loadGenesis,
  parseGenesis,
  type GenesisConfig,
  type SubchainDeclaration,
} from "../../../chain/genesis.js";
import type { Hex } from "../../../chain/types.js";

const DEV_PATH = fileURLToPath(new URL("../../../genesis/dev.json", import.meta.url));
const TESTNET_PATH = fileURLToPath(new URL("../../../genesis/testnet.json", import.meta.url));
const MNEMONIC = "test test test test test test test test test test test junk";
const VS = 10n ** 18n;

function devAccounts(): string[] {
  return Array.from(
    { length: 10 },
    (_, i) => HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`).address,
  );
}

type SubchainJson = Record<string, unknown>;

/** A fresh, valid genesis document to mutate in the bad-input table. */
function validJson(): Record<string, unknown> & {
  consensus: Record<string, unknown> & { scrypt: Record<string, unknown> };
  subchains: SubchainJson[];
} {
  return {
    name: "unit",
    chainId: 7,
    timestamp: 0,
    extraData: "0x",
    gasLimit: 30000000,
    baseFeePerGas: "1000000000",
    blockReward: "0x1bc16d674ec80000",
    consensus: {
      blockTime: 2,
      initialDifficulty: 4,
      minDifficulty: 1,
      difficultyBoundDivisor: 64,
      scrypt: { N: 1024, r: 8, p: 1 },
      streakWindow: 8,
      banBlocks: 100,
      miners: ["0x14dC79964da2C08b23698B3D3cc7Ca32193d9955", "0x23618e81e3f5cdf7f54c3d65f7fbc0abf5b21e8f"],
    },
    alloc: { "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266": { balance: "10000000000000000000000" } },
    subchains: [
      { id: 0, name: "pins", payloadGasPerByte: 16, maxPayloadBytes: 4096, maxSubBlockBytes: 262144 },
      { id: 1, name: "posts", payloadGasPerByte: "8", maxSubBlockBytes: 4194304 },
    ],
  };
}

/** Flips the case of the first hex letter, which breaks an EIP-55 checksum. */
function breakChecksum(address: string): string {
  const i = address.slice(2).search(/[a-fA-F]/) + 2;
  const c = address[i] ?? "";
  const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
  return address.slice(0, i) + flipped + address.slice(i + 1);
}

function expectGenesisError(fn: () => unknown, code: string, fieldInMessage: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(isNodeError(caught)).toBe(true);
  if (!isNodeError(caught)) return;
  expect(caught.code).toBe(code);
  expect(caught.message).toContain(`genesis field "${fieldInMessage}": `);
}

describe("shipped genesis files", () => {
  it("loads dev.json with the dev parameters", async () => {
    const g = await loadGenesis(DEV_PATH);
    expect(g.name).toBe("vs1984-dev");
    expect(g.chainId).toBe(1984n);
    expect(g.timestamp).toBe(0n);
    expect(g.gasLimit).toBe(30_000_000n);
    expect(g.baseFeePerGas).toBe(1_000_000_000n);
    expect(g.blockReward).toBe(2n * VS);
    expect(g.consensus).toEqual({
      blockTime: 2,
      initialDifficulty: 4n,
      minDifficulty: 1n,
      difficultyBoundDivisor: 64n,
      scrypt: { N: 1024, r: 8, p: 1 },
      streakWindow: 8,
      banBlocks: 100,
      miners: expect.any(Array),
    });
  });

  it("funds exactly the ten mnemonic dev accounts with 10,000 VS each and makes accounts 7, 8, 9 the miners", async () => {
    const g = await loadGenesis(DEV_PATH);
    const accounts = devAccounts().map((a) => a.toLowerCase() as Hex);
    expect([...g.alloc.keys()]).toEqual(accounts);
    for (const balance of g.alloc.values()) expect(balance).toBe(10_000n * VS);
    expect(g.consensus.miners).toEqual([accounts[7], accounts[8], accounts[9]]);
  });

  it("writes dev.json addresses in their checksummed form", async () => {
    const text = await readFile(DEV_PATH, "utf8");
    for (const address of devAccounts()) expect(text).toContain(`"${address}"`);
  });

  it.each([DEV_PATH, TESTNET_PATH])("declares pins, posts, bt and comments with fixed ids in %s", async (path) => {
    const g = await loadGenesis(path);
    expect(g.subchains.map((s) => [s.id, s.name])).toEqual([
      [0, "pins"],
      [1, "posts"],
      [2, "bt"],
      [3, "comments"],
    ]);
    for (const s of g.subchains) {
      expect(s.maxPayloadBytes).toBeLessThanOrEqual(s.maxSubBlockBytes);
      expect(21000n + s.payloadGasPerByte * BigInt(s.maxPayloadBytes)).toBeLessThanOrEqual(g.gasLimit);
    }
    expect(g.subchains.find((s) => s.name === "posts")?.maxPayloadBytes).toBe(1024 * 1024);
  });

  it("loads testnet.json with the testnet parameters", async () => {
    const g = await loadGenesis(TESTNET_PATH);
    expect(g.name).toBe("vs1984-testnet");
    expect(g.chainId).toBe(19840n);
    expect(g.consensus.blockTime).toBe(15);
    expect(g.consensus.scrypt).toEqual({ N: 16384, r: 8, p: 1 });
    expect(g.consensus.initialDifficulty).toBe(1000n);
    expect(g.consensus.minDifficulty).toBe(100n);
    expect(g.consensus.difficultyBoundDivisor).toBe(2048n);
    expect(g.consensus.streakWindow).toBe(8);
    expect(g.consensus.banBlocks).toBe(5760);
    expect(g.consensus.miners).toHaveLength(3);
    expect(g.gasLimit).toBe(30_000_000n);
    expect(g.baseFeePerGas).toBe(1_000_000_000n);
    expect(g.blockReward).toBe(2n * VS);
  });

  it.each([DEV_PATH, TESTNET_PATH])("keeps %s in the canonical form genesisToJson writes", async (path) => {
    const text = await readFile(path, "utf8");
    expect(JSON.stringify(genesisToJson(parseGenesis(JSON.parse(text))), null, 2) + "\n").toBe(text);
  });
});

const hexOf = (bytes: Uint8Array): Hex => `0x${Buffer.from(bytes).toString("hex")}` as Hex;
const addressArb = fc.uint8Array({ minLength: 20, maxLength: 20 }).map(hexOf);
const uint = (min: bigint, max: bigint): fc.Arbitrary<bigint> => fc.bigInt({ min, max });

const scryptArb = fc
  .record({ N: fc.integer({ min: 1, max: 20 }).map((k) => 2 ** k), r: fc.integer({ min: 1, max: 32 }), p: fc.integer({ min: 1, max: 16 }) })
  .filter(({ N, r }) => N * r * 128 <= 256 * 1024 * 1024);

/** Sub-chain declarations as parseGenesis returns them (pins first, ids ascending) whose largest payloads fit `gasLimit`. */
function subchainsArb(gasLimit: bigint): fc.Arbitrary<SubchainDeclaration[]> {
  const room = gasLimit - 21000n;
  const decl = (id: fc.Arbitrary<number>, name: fc.Arbitrary<string>): fc.Arbitrary<SubchainDeclaration> =>
    fc
      .record({
        id,
        name,
        maxPayloadBytes: fc.integer({ min: 1, max: 16 * 1024 * 1024 }),
        subBlockExtra: fc.integer({ min: 0, max: 48 * 1024 * 1024 }),
        gasSeed: uint(0n, 2n ** 64n - 1n),
      })
      .map((r) => ({
        id: r.id,
        name: r.name,
        payloadGasPerByte: 1n + (r.gasSeed % (room / BigInt(r.maxPayloadBytes))),
        maxPayloadBytes: r.maxPayloadBytes,
        maxSubBlockBytes: r.maxPayloadBytes + r.subBlockExtra,
      }));
  const others = fc.uniqueArray(
    decl(
      fc.integer({ min: 1, max: 255 }),
      fc.stringMatching(/^[a-z][a-z0-9-]{0,31}$/).filter((n) => n !== "pins"),
    ),
    { maxLength: 6, comparator: (a, b) => a.id === b.id || a.name === b.name },
  );
  return fc
    .tuple(decl(fc.constant(0), fc.constant("pins")), others)
    .map(([pins, rest]) => [pins, ...rest.sort((a, b) => a.id - b.id)]);
}

const genesisArb: fc.Arbitrary<GenesisConfig> = fc
  .record({
    name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
    chainId: uint(1n, 2n ** 53n - 1n),
    timestamp: uint(0n, 2n ** 64n - 1n),
    extraData: fc.uint8Array({ maxLength: 32 }).map(hexOf),
    // room for a 16 MiB payload at 1 gas per byte, so every sub-chain size is possible
    gasLimit: uint(21000n + 2n ** 24n, 2n ** 64n - 1n),
    baseFeePerGas: uint(0n, 2n ** 256n - 1n),
    // with alloc at most 16 * 2^240 < 2^245, any reward below 2^191 keeps 2^64 blocks of rewards within 2^256
    blockReward: uint(0n, 2n ** 191n),
    minDifficulty: uint(1n, 2n ** 255n),
    difficultyExtra: uint(0n, 2n ** 255n - 1n),
    blockTime: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    difficultyBoundDivisor: uint(2n, 2n ** 256n - 1n),
    scrypt: scryptArb,
    streakWindow: fc.integer({ min: 1, max: 64 }),
    banBlocks: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    miners: fc.uniqueArray(addressArb, { minLength: 1, maxLength: 8 }),
    // Balances up to 2^240 with at most 16 entries never overflow the 2^256 supply cap.
    alloc: fc.uniqueArray(fc.tuple(addressArb, uint(0n, 2n ** 240n)), { maxLength: 16, selector: ([a]) => a }),
  })
  .map((r) => ({
    name: r.name,
    chainId: r.chainId,
    timestamp: r.timestamp,
    extraData: r.extraData,
    gasLimit: r.gasLimit,
    baseFeePerGas: r.baseFeePerGas,
    blockReward: r.blockReward,
    consensus: {
      blockTime: r.blockTime,
      initialDifficulty: r.minDifficulty + r.difficultyExtra,
      minDifficulty: r.minDifficulty,
      difficultyBoundDivisor: r.difficultyBoundDivisor,
      scrypt: r.scrypt,
      streakWindow: r.streakWindow,
      banBlocks: r.banBlocks,
      miners: r.miners,
    },
    alloc: new Map(r.alloc),
  }))
  .chain((g) => subchainsArb(g.gasLimit).map((subchains) => ({ ...g, subchains })));

describe("genesisToJson / parseGenesis", () => {
  it("round-trips every valid config, also through JSON text", () => {
    fc.assert(
      fc.property(genesisArb, (g) => {
        expect(parseGenesis(genesisToJson(g))).toEqual(g);
        expect(parseGenesis(JSON.parse(JSON.stringify(genesisToJson(g))))).toEqual(g);
      }),
    );
  });

  it("reads a quantity the same as a JSON number, a decimal string and a hex string", () => {
    fc.assert(
      // 21001: the smallest gas limit in which a one-byte payload at 1 gas per byte fits
      fc.property(fc.integer({ min: 21001, max: Number.MAX_SAFE_INTEGER }), (n) => {
        const forms = [n, String(n), `0x${n.toString(16)}`, `0x${n.toString(16).toUpperCase()}`];
        const subchains = [{ id: 0, name: "pins", payloadGasPerByte: 1, maxPayloadBytes: 1, maxSubBlockBytes: 1 }];
        for (const gasLimit of forms) expect(parseGenesis({ ...validJson(), gasLimit, subchains }).gasLimit).toBe(BigInt(n));
      }),
    );
  });

  it("accepts an address in lowercase, uppercase and checksummed form, storing it lowercase", () => {
    const checksummed = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    for (const form of [checksummed, checksummed.toLowerCase(), `0x${checksummed.slice(2).toUpperCase()}`]) {
      const j = validJson();
      j.consensus.miners = [form];
      expect(parseGenesis(j).consensus.miners).toEqual([checksummed.toLowerCase()]);
    }
  });

  it("lowercases extraData", () => {
    expect(parseGenesis({ ...validJson(), extraData: "0xABcd" }).extraData).toBe("0xabcd");
  });
});

type Mutation = (j: ReturnType<typeof validJson>) => void;

const badInputs: [string, string, Mutation][] = [
  ["a missing top-level field", "chainId", (j) => delete j.chainId],
  ["a missing consensus field", "consensus.streakWindow", (j) => delete j.consensus.streakWindow],
  ["a missing scrypt field", "consensus.scrypt.p", (j) => delete j.consensus.scrypt.p],
  ["a missing alloc balance", "alloc.0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266.balance", (j) => (j.alloc = { "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266": {} })],
  ["a name of the wrong type", "name", (j) => (j.name = 5)],
  ["a quantity of the wrong type", "gasLimit", (j) => (j.gasLimit = true)],
  ["a small integer given as a string", "consensus.blockTime", (j) => (j.consensus.blockTime = "2")],
  ["consensus that is not an object", "consensus", (j) => (j.consensus = [] as unknown as typeof j.consensus)],
  ["miners that are not an array", "consensus.miners", (j) => (j.consensus.miners = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955")],
  ["a negative number", "baseFeePerGas", (j) => (j.baseFeePerGas = -1)],
  ["a negative string", "blockReward", (j) => (j.blockReward = "-5")],
  ["a fractional number", "timestamp", (j) => (j.timestamp = 1.5)],
  ["an unsafe JSON number", "blockReward", (j) => (j.blockReward = 2e18)],
  ["a reward whose 2^64 blocks would overflow a balance", "blockReward", (j) => (j.blockReward = `0x1${"0".repeat(50)}`)],
  ["a decimal string with leading zeros", "gasLimit", (j) => (j.gasLimit = "030000000")],
  ["bad hex in a quantity", "timestamp", (j) => (j.timestamp = "0xzz")],
  ["an empty hex quantity", "timestamp", (j) => (j.timestamp = "0x")],
  ["bad hex in extraData", "extraData", (j) => (j.extraData = "0x0g")],
  ["odd-length extraData", "extraData", (j) => (j.extraData = "0xabc")],
  ["extraData without 0x", "extraData", (j) => (j.extraData = "abcd")],
  ["extraData longer than 32 bytes", "extraData", (j) => (j.extraData = `0x${"ab".repeat(33)}`)],
  ["an address that is too short", "consensus.miners[0]", (j) => (j.consensus.miners = ["0x1234"])],
  ["an address with bad hex", "consensus.miners[1]", (j) => (j.consensus.miners = ["0x14dC79964da2C08b23698B3D3cc7Ca32193d9955", `0x${"g".repeat(40)}`])],
  ["a miner with a bad checksum", "consensus.miners[0]", (j) => (j.consensus.miners = [breakChecksum("0x14dC79964da2C08b23698B3D3cc7Ca32193d9955")])],
  ["an alloc key with a bad checksum", `alloc.${breakChecksum("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")}`, (j) => (j.alloc = { [breakChecksum("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")]: { balance: 1 } })],
  ["an alloc key that is not an address", "alloc.bob", (j) => (j.alloc = { bob: { balance: 1 } })],
  ["an alloc address twice in different case", "alloc.0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", (j) => (j.alloc = { "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266": { balance: 1 }, "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266": { balance: 2 } })],
  ["an unknown alloc entry key", "alloc.0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266.code", (j) => (j.alloc = { "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266": { balance: 1, code: "0x00" } })],
  ["alloc balances summing past 2^256 - 1", "alloc", (j) => (j.alloc = { [`0x${"11".repeat(20)}`]: { balance: `0x${"f".repeat(64)}` }, [`0x${"22".repeat(20)}`]: { balance: 1 } })],
  ["scrypt N that is not a power of two", "consensus.scrypt.N", (j) => (j.consensus.scrypt.N = 1000)],
  ["scrypt N of 1", "consensus.scrypt.N", (j) => (j.consensus.scrypt.N = 1)],
  ["scrypt N above 2^20", "consensus.scrypt.N", (j) => (j.consensus.scrypt.N = 2 ** 21)],
  ["scrypt r above 32", "consensus.scrypt.r", (j) => (j.consensus.scrypt.r = 33)],
  ["scrypt p of 0", "consensus.scrypt.p", (j) => (j.consensus.scrypt.p = 0)],
  ["scrypt memory above 256 MiB", "consensus.scrypt", (j) => (j.consensus.scrypt = { N: 2 ** 20, r: 4, p: 1 })],
  ["a duplicate miner", "consensus.miners[1]", (j) => (j.consensus.miners = ["0x14dC79964da2C08b23698B3D3cc7Ca32193d9955", "0x14dc79964da2c08b23698b3d3cc7ca32193d9955"])],
  ["empty miners", "consensus.miners", (j) => (j.consensus.miners = [])],
  ["an unknown top-level key", "difficulty", (j) => (j.difficulty = 1)],
  ["an unknown consensus key", "consensus.period", (j) => (j.consensus.period = 2)],
  ["an unknown scrypt key", "consensus.scrypt.dkLen", (j) => (j.consensus.scrypt.dkLen = 32)],
  ["chainId 0", "chainId", (j) => (j.chainId = 0)],
  ["chainId of 2^53", "chainId", (j) => (j.chainId = (2n ** 53n).toString())],
  ["gasLimit below 21000", "gasLimit", (j) => (j.gasLimit = 20999)],
  ["timestamp above 2^64 - 1", "timestamp", (j) => (j.timestamp = (2n ** 64n).toString())],
  ["a balance above 2^256 - 1", "alloc.0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266.balance", (j) => (j.alloc = { "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266": { balance: (2n ** 256n).toString() } })],
  ["blockTime 0", "consensus.blockTime", (j) => (j.consensus.blockTime = 0)],
  ["minDifficulty 0", "consensus.minDifficulty", (j) => (j.consensus.minDifficulty = 0)],
  ["initialDifficulty below minDifficulty", "consensus.initialDifficulty", (j) => (j.consensus.minDifficulty = 5)],
  ["difficultyBoundDivisor 1", "consensus.difficultyBoundDivisor", (j) => (j.consensus.difficultyBoundDivisor = 1)],
  ["streakWindow 65", "consensus.streakWindow", (j) => (j.consensus.streakWindow = 65)],
  ["banBlocks 0", "consensus.banBlocks", (j) => (j.consensus.banBlocks = 0)],
  ["an empty name", "name", (j) => (j.name = "")],
  ["a name with a path separator", "name", (j) => (j.name = "../etc")],
  ["a missing subchains section", "subchains", (j) => delete (j as Record<string, unknown>).subchains],
  ["subchains that are not an array", "subchains", (j) => (j.subchains = {} as unknown as SubchainJson[])],
  ["subchains without pins", "subchains", (j) => j.subchains.shift()],
  ["pins with an id other than 0", "subchains[0].id", (j) => (j.subchains[0]!.id = 4)],
  ["id 0 under another name", "subchains[0].name", (j) => (j.subchains[0]!.name = "pinz")],
  ["a duplicate sub-chain id", "subchains[2].id", (j) => j.subchains.push({ id: 1, name: "bt", payloadGasPerByte: 8, maxSubBlockBytes: 4194304 })],
  ["a duplicate sub-chain name", "subchains[2].name", (j) => j.subchains.push({ id: 2, name: "posts", payloadGasPerByte: 8, maxSubBlockBytes: 4194304 })],
  ["a sub-chain entry that is not an object", "subchains[1]", (j) => (j.subchains[1] = "posts" as unknown as SubchainJson)],
  ["an unknown sub-chain key", "subchains[1].gasPrice", (j) => (j.subchains[1]!.gasPrice = 1)],
  ["a sub-chain id above 255", "subchains[1].id", (j) => (j.subchains[1]!.id = 256)],
  ["a negative sub-chain id", "subchains[1].id", (j) => (j.subchains[1]!.id = -1)],
  ["a fractional sub-chain id", "subchains[1].id", (j) => (j.subchains[1]!.id = 1.5)],
  ["a sub-chain id given as a string", "subchains[1].id", (j) => (j.subchains[1]!.id = "1")],
  ["a missing sub-chain name", "subchains[1].name", (j) => delete j.subchains[1]!.name],
  ["a sub-chain name with capitals", "subchains[1].name", (j) => (j.subchains[1]!.name = "Posts")],
  ["a sub-chain name with a comma", "subchains[1].name", (j) => (j.subchains[1]!.name = "posts,bt")],
  ["an empty sub-chain name", "subchains[1].name", (j) => (j.subchains[1]!.name = "")],
  ["a missing payloadGasPerByte", "subchains[1].payloadGasPerByte", (j) => delete j.subchains[1]!.payloadGasPerByte],
  ["payloadGasPerByte 0", "subchains[1].payloadGasPerByte", (j) => (j.subchains[1]!.payloadGasPerByte = 0)],
  ["a largest payload whose gas exceeds gasLimit", "subchains[1].payloadGasPerByte", (j) => (j.subchains[1]!.payloadGasPerByte = 29)],
  ["maxPayloadBytes 0", "subchains[0].maxPayloadBytes", (j) => (j.subchains[0]!.maxPayloadBytes = 0)],
  ["maxPayloadBytes above 16 MiB", "subchains[0].maxPayloadBytes", (j) => (j.subchains[0]!.maxPayloadBytes = 16 * 1024 * 1024 + 1)],
  ["maxPayloadBytes given as a string", "subchains[0].maxPayloadBytes", (j) => (j.subchains[0]!.maxPayloadBytes = "4096")],
  ["a missing maxSubBlockBytes", "subchains[1].maxSubBlockBytes", (j) => delete j.subchains[1]!.maxSubBlockBytes],
  ["maxSubBlockBytes below maxPayloadBytes", "subchains[0].maxSubBlockBytes", (j) => (j.subchains[0]!.maxSubBlockBytes = 4095)],
  ["maxSubBlockBytes above 64 MiB", "subchains[1].maxSubBlockBytes", (j) => (j.subchains[1]!.maxSubBlockBytes = 64 * 1024 * 1024 + 1)],
];

describe("parseGenesis rejects bad input", () => {
  it("accepts the unmutated base document", () => {
    expect(() => parseGenesis(validJson())).not.toThrow();
  });

  it.each(badInputs)("rejects %s, naming %s", (_what, field, mutate) => {
    const j = validJson();
    mutate(j);
    expectGenesisError(() => parseGenesis(j), GenesisErrorCode.INVALID_FIELD, field);
  });

  it.each([null, [], "genesis", 42])("rejects a document that is not an object (%p)", (doc) => {
    let caught: unknown;
    try {
      parseGenesis(doc);
    } catch (e) {
      caught = e;
    }
    expect(isNodeError(caught) && caught.code).toBe(GenesisErrorCode.INVALID_FIELD);
  });

  it("states the offending value in the message", () => {
    const j = validJson();
    j.consensus.scrypt.N = 1000;
    expect(() => parseGenesis(j)).toThrow(
      'genesis field "consensus.scrypt.N": must be a power of two between 2 and 1048576, got 1000',
    );
  });
});

describe("parseGenesis sub-chains", () => {
  it("defaults maxPayloadBytes to 1 MiB and orders sub-chains by id", () => {
    const j = validJson();
    j.subchains.reverse();
    const g = parseGenesis(j);
    expect(g.subchains).toEqual([
      { id: 0, name: "pins", payloadGasPerByte: 16n, maxPayloadBytes: 4096, maxSubBlockBytes: 262144 },
      { id: 1, name: "posts", payloadGasPerByte: 8n, maxPayloadBytes: 1024 * 1024, maxSubBlockBytes: 4194304 },
    ]);
  });

  it("explains a missing pins sub-chain and a payload too large for a block", () => {
    const noPins = validJson();
    noPins.subchains.shift();
    expect(() => parseGenesis(noPins)).toThrow('genesis field "subchains": must declare the mandatory "pins" sub-chain with id 0');
    const heavy = validJson();
    heavy.subchains[1]!.payloadGasPerByte = 29;
    expect(() => parseGenesis(heavy)).toThrow(
      'genesis field "subchains[1].payloadGasPerByte": a payload of maxPayloadBytes (1048576) would need 21000 + 29 * 1048576 = 30429704 gas, more than gasLimit (30000000)',
    );
  });

  it("names both entries of a duplicate", () => {
    const j = validJson();
    j.subchains.push({ id: 1, name: "bt", payloadGasPerByte: 8, maxSubBlockBytes: 4194304 });
    expect(() => parseGenesis(j)).toThrow('genesis field "subchains[2].id": duplicates subchains[1].id, got 1');
  });
});

describe("loadGenesis", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vs1984-genesis-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("rejects a file that is not JSON, naming the path and the parse problem", async () => {
    const path = join(dir, "broken.json");
    await writeFile(path, '{"name": "x",');
    const err = await loadGenesis(path).catch((e: unknown) => e);
    expect(isNodeError(err) && err.code).toBe(GenesisErrorCode.INVALID_JSON);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(/not valid JSON: .+/);
  });

  it("rejects a missing file, naming the path", async () => {
    const path = join(dir, "absent.json");
    const err = await loadGenesis(path).catch((e: unknown) => e);
    expect(isNodeError(err) && err.code).toBe(GenesisErrorCode.FILE_UNREADABLE);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toContain("ENOENT");
  });

  it("rejects a directory as unreadable", async () => {
    const err = await loadGenesis(dir).catch((e: unknown) => e);
    expect(isNodeError(err) && err.code).toBe(GenesisErrorCode.FILE_UNREADABLE);
  });

  it("reports a bad field with its path and the file path", async () => {
    const path = join(dir, "bad-field.json");
    await writeFile(path, JSON.stringify({ ...validJson(), gasLimit: 5 }));
    const err = await loadGenesis(path).catch((e: unknown) => e);
    expect(isNodeError(err) && err.code).toBe(GenesisErrorCode.INVALID_FIELD);
    expect((err as Error).message).toContain('"gasLimit"');
    expect((err as Error).message).toContain(path);
  });

  it("accepts a file with a byte order mark", async () => {
    const path = join(dir, "bom.json");
    await writeFile(path, `\uFEFF${JSON.stringify(validJson())}`);
    await expect(loadGenesis(path)).resolves.toMatchObject({ name: "unit" });
  });
});
