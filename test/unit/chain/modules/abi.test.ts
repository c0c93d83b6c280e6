import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { Interface, id, type JsonFragment } from "ethers";
import { parseAbi } from "viem";
import { CONTENT_REGISTRY_ABI, ContentRegistry, codeMarker } from "../../../../chain/index.js";

const ABI_FILE = new URL("../../../../chain/modules/ContentRegistry.abi.json", import.meta.url);

// The ABI the issue fixes, in human-readable form.
const SIGNATURES = [
  "function publish(bytes32 contentHash, uint8 subchainId, uint256 price, bytes32 keyCommitment, uint64 deliveryBlocks) returns (uint256 contentId)",
  "function purchase(uint256 contentId) payable",
  "function deliverKey(uint256 contentId, address buyer, bytes encryptedKey)",
  "function refund(uint256 contentId)",
  "function getContent(uint256 contentId) view returns (address author, uint8 subchainId, bytes32 contentHash, uint256 price, bytes32 keyCommitment, uint64 deliveryBlocks, uint256 subRef)",
  "function getPurchase(uint256 contentId, address buyer) view returns (uint256 amount, uint64 blockNumber, bool delivered, bool refunded)",
  "function getEncryptedKey(uint256 contentId, address buyer) view returns (bytes encryptedKey)",
  "function contentCount() view returns (uint256 count)",
  "event ContentPublished(uint256 indexed contentId, address indexed author, uint8 subchainId, uint256 subRef, uint256 price)",
  "event Purchased(uint256 indexed contentId, address indexed buyer, uint256 price)",
  "event KeyDelivered(uint256 indexed contentId, address indexed buyer, bytes encryptedKey)",
  "event Refunded(uint256 indexed contentId, address indexed buyer, uint256 amount)",
];

describe("ContentRegistry ABI", () => {
  it("ships as JSON identical to the ABI the node runs (regenerate with scripts/writeModuleAbis.ts)", () => {
    const shipped: unknown = JSON.parse(readFileSync(ABI_FILE, "utf8"));
    expect(shipped).toEqual(JSON.parse(JSON.stringify(CONTENT_REGISTRY_ABI)));
  });

  it("has exactly the functions and events of the issue, for ethers and viem alike", () => {
    const shipped = new Interface(JSON.parse(readFileSync(ABI_FILE, "utf8")) as JsonFragment[]);
    const expected = new Interface(SIGNATURES);
    expect(shipped.format()).toEqual(expected.format());
    expect(new ContentRegistry().abi.format()).toEqual(expected.format());
    // viem reads the same selectors and event topics from it
    expect(parseAbi(SIGNATURES).length).toBe(CONTENT_REGISTRY_ABI.length);
    expect(shipped.getFunction("purchase")!.selector).toBe(id("purchase(uint256)").slice(0, 10));
    expect(shipped.getEvent("Purchased")!.topicHash).toBe(id("Purchased(uint256,address,uint256)"));
    expect(shipped.getEvent("ContentPublished")!.topicHash).toBe(id("ContentPublished(uint256,address,uint8,uint256,uint256)"));
  });

  it("is marked in eth_getCode as 0xfe and the module name", () => {
    expect(codeMarker(new ContentRegistry())).toBe(`0xfe${Buffer.from("ContentRegistry").toString("hex")}`);
  });
});
