import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { AbiCoder, keccak256 } from "ethers";
import {
  AccountStorage,
  EMPTY_TRIE_ROOT,
  GasMeter,
  ModuleErrorCode,
  ModuleGas,
  StateDb,
  decodeSubRef,
  encodeSubRef,
  isModuleRevert,
  mappingSlot,
  type Hex,
} from "../../../../chain/index.js";
import { MemoryStore } from "../../../helpers/memoryStore.js";

const MODULE: Hex = "0x0000000000000000000000000000000000001985";
const abi = AbiCoder.defaultAbiCoder();

function storage(limit = 10_000_000n): [AccountStorage, GasMeter] {
  const gas = new GasMeter(limit, 0n);
  return [new AccountStorage(new StateDb({}, { store: new MemoryStore() }).open(EMPTY_TRIE_ROOT), MODULE, gas), gas];
}

describe("module storage", () => {
  it("places mapping entries where Solidity does: keccak256(abi.encode(key, slot))", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), fc.bigInt({ min: 0n, max: 10n }), (key, base) => {
        expect(mappingSlot(base, key)).toBe(BigInt(keccak256(abi.encode(["uint256", "uint256"], [key, base]))));
      }),
    );
    const buyer: Hex = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
    expect(mappingSlot(2n, buyer)).toBe(BigInt(keccak256(abi.encode(["address", "uint256"], [buyer, 2n]))));
  });

  it("stores byte strings of any length, a shorter one leaving nothing of a longer one behind", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), async (first, second) => {
        const [s] = storage();
        await s.storeBytes(7n, first);
        expect(await s.loadBytes(7n)).toEqual(first);
        await s.storeBytes(7n, second);
        expect(await s.loadBytes(7n)).toEqual(second);
        const [fresh] = storage();
        await fresh.storeBytes(7n, second);
        // the words beyond the second value are zero, as in a store that only ever held it
        const tail = BigInt(keccak256(abi.encode(["uint256"], [7n])));
        for (let i = 0n; i < 8n; i++) expect(await s.load(tail + i)).toBe(await fresh.load(tail + i));
      }),
      { numRuns: 50 },
    );
  });

  it("charges every word read and written, and runs out of gas at the limit", async () => {
    const [s, gas] = storage(ModuleGas.STORAGE_WRITE + ModuleGas.STORAGE_READ);
    s.store(1n, 1n);
    expect(await s.load(1n)).toBe(1n);
    expect(gas.used).toBe(ModuleGas.STORAGE_WRITE + ModuleGas.STORAGE_READ);
    let caught: unknown;
    try {
      s.store(2n, 2n);
    } catch (e) {
      caught = e;
    }
    expect(isModuleRevert(caught) && caught.code).toBe(ModuleErrorCode.OUT_OF_GAS);
    expect(gas.used).toBe(gas.limit);
  });
});

describe("subRef", () => {
  it("packs (subchainId, subNumber, index) into one word and back", () => {
    const ref = fc.record({ subchainId: fc.integer({ min: 0, max: 255 }), subNumber: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), index: fc.integer({ min: 0, max: 0xffff_ffff }) });
    fc.assert(
      fc.property(ref, (r) => {
        const word = encodeSubRef(r);
        expect(word).toBe((BigInt(r.subchainId) << 96n) | (r.subNumber << 32n) | BigInt(r.index));
        expect(word < 1n << 104n).toBe(true);
        expect(decodeSubRef(word)).toEqual(r);
      }),
    );
  });

  it("refuses parts out of range", () => {
    expect(() => encodeSubRef({ subchainId: 256, subNumber: 0n, index: 0 })).toThrow(RangeError);
    expect(() => encodeSubRef({ subchainId: 0, subNumber: 1n << 64n, index: 0 })).toThrow(RangeError);
    expect(() => encodeSubRef({ subchainId: 0, subNumber: 0n, index: -1 })).toThrow(RangeError);
  });
});
