// The ContentRegistry ABI in Solidity's JSON format. chain/modules/ContentRegistry.abi.json is this
// array as `JSON.stringify(CONTENT_REGISTRY_ABI, null, 2)` (written by scripts/writeModuleAbis.ts,
// checked by test/unit/chain/modules/contentRegistry.test.ts): dApps load the JSON, the node this.

/** The ContentRegistry module's ABI (functions and events), in Solidity's JSON ABI format. */
export const CONTENT_REGISTRY_ABI = [
  {
    type: "function",
    name: "publish",
    stateMutability: "nonpayable",
    inputs: [
      { name: "contentHash", type: "bytes32" },
      { name: "subchainId", type: "uint8" },
      { name: "price", type: "uint256" },
      { name: "keyCommitment", type: "bytes32" },
      { name: "deliveryBlocks", type: "uint64" },
    ],
    outputs: [{ name: "contentId", type: "uint256" }],
  },
  {
    type: "function",
    name: "purchase",
    stateMutability: "payable",
    inputs: [{ name: "contentId", type: "uint256" }],
    outputs: [],
  },
  {
    type: "function",
    name: "deliverKey",
    stateMutability: "nonpayable",
    inputs: [
      { name: "contentId", type: "uint256" },
      { name: "buyer", type: "address" },
      { name: "encryptedKey", type: "bytes" },
    ],
    outputs: [],
  },
  {
    type: "function",
    name: "refund",
    stateMutability: "nonpayable",
    inputs: [{ name: "contentId", type: "uint256" }],
    outputs: [],
  },
  {
    type: "function",
    name: "getContent",
    stateMutability: "view",
    inputs: [{ name: "contentId", type: "uint256" }],
    outputs: [
      { name: "author", type: "address" },
      { name: "subchainId", type: "uint8" },
      { name: "contentHash", type: "bytes32" },
      { name: "price", type: "uint256" },
      { name: "keyCommitment", type: "bytes32" },
      { name: "deliveryBlocks", type: "uint64" },
      { name: "subRef", type: "uint256" },
    ],
  },
  {
    type: "function",
    name: "getPurchase",
    stateMutability: "view",
    inputs: [
      { name: "contentId", type: "uint256" },
      { name: "buyer", type: "address" },
    ],
    outputs: [
      { name: "amount", type: "uint256" },
      { name: "blockNumber", type: "uint64" },
      { name: "delivered", type: "bool" },
      { name: "refunded", type: "bool" },
    ],
  },
  {
    type: "function",
    name: "getEncryptedKey",
    stateMutability: "view",
    inputs: [
      { name: "contentId", type: "uint256" },
      { name: "buyer", type: "address" },
    ],
    outputs: [{ name: "encryptedKey", type: "bytes" }],
  },
  {
    type: "function",
    name: "contentCount",
    stateMutability: "view",
    inputs: [],
    outputs: [{ name: "count", type: "uint256" }],
  },
  {
    type: "event",
    name: "ContentPublished",
    anonymous: false,
    inputs: [
      { name: "contentId", type: "uint256", indexed: true },
      { name: "author", type: "address", indexed: true },
      { name: "subchainId", type: "uint8", indexed: false },
      { name: "subRef", type: "uint256", indexed: false },
      { name: "price", type: "uint256", indexed: false },
    ],
  },
  {
    type: "event",
    name: "Purchased",
    anonymous: false,
    inputs: [
      { name: "contentId", type: "uint256", indexed: true },
      { name: "buyer", type: "address", indexed: true },
      { name: "price", type: "uint256", indexed: false },
    ],
  },
  {
    type: "event",
    name: "KeyDelivered",
    anonymous: false,
    inputs: [
      { name: "contentId", type: "uint256", indexed: true },
      { name: "buyer", type: "address", indexed: true },
      { name: "encryptedKey", type: "bytes", indexed: false },
    ],
  },
  {
    type: "event",
    name: "Refunded",
    anonymous: false,
    inputs: [
      { name: "contentId", type: "uint256", indexed: true },
      { name: "buyer", type: "address", indexed: true },
      { name: "amount", type: "uint256", indexed: false },
    ],
  },
] as const;
