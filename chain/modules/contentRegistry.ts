import { type FunctionFragment, Interface, type Result, getBytes } from "ethers";
import type { Hex } from "../types.js";
import { CONTENT_REGISTRY_ABI } from "./contentRegistryAbi.js";
import { revert } from "./moduleRevert.js";
import { type StorageReader, mappingSlot, slotAt } from "./moduleStorage.js";
import { encodeSubRef } from "./subRef.js";
import { DispatchReason, type ModuleContext, type SystemModule, type ViewContext, decodeCall } from "./systemModule.js";

/** Reserved address of the ContentRegistry module (0x…1984 is the native token's log address). */
export const CONTENT_REGISTRY_ADDRESS: Hex = "0x0000000000000000000000000000000000001985";

/** Revert reasons of the ContentRegistry (besides DispatchReason), as `Error(string)` carries them. */
export const ContentRegistryReason = {
  UNKNOWN_CONTENT: "unknown content",
  ZERO_DELIVERY_BLOCKS: "deliveryBlocks must be at least 1",
  ALREADY_PURCHASED: "already purchased",
  WRONG_PRICE: "wrong price",
  NOT_AUTHOR: "only the author can deliver the key",
  NOT_PURCHASED: "no purchase by this buyer",
  ALREADY_DELIVERED: "key already delivered",
  REFUNDED: "purchase refunded",
  EMPTY_KEY: "empty encrypted key",
  TOO_EARLY: "delivery deadline not passed",
  WRONG_SUBCHAIN: "payload is on another sub-chain",
} as const;

// Storage layout (Solidity's, docs/content.md): slot 0 the last content id; slot 1
// mapping(uint256 => Content); slot 2 mapping(uint256 => mapping(address => Purchase)).
// Each struct field takes a word of its own, in the order below.
const COUNT_SLOT = 0n;
const CONTENTS_SLOT = 1n;
const PURCHASES_SLOT = 2n;
const Content = { AUTHOR: 0, SUBCHAIN_ID: 1, CONTENT_HASH: 2, PRICE: 3, KEY_COMMITMENT: 4, DELIVERY_BLOCKS: 5, SUB_REF: 6 } as const;
const Purchase = { AMOUNT: 0, BLOCK_NUMBER: 1, FLAGS: 2, ENCRYPTED_KEY: 3 } as const;
const DELIVERED = 1n;
const REFUNDED = 2n;

function contentSlot(id: bigint): bigint {
  return mappingSlot(CONTENTS_SLOT, id);
}

function purchaseSlot(id: bigint, buyer: Hex): bigint {
  return mappingSlot(mappingSlot(PURCHASES_SLOT, id), buyer);
}

function toAddress(v: bigint): Hex {
  return `0x${v.toString(16).padStart(40, "0")}`;
}

function toBytes32(v: bigint): Hex {
  return `0x${v.toString(16).padStart(64, "0")}`;
}

/** The purchase record of one buyer of one content. */
interface PurchaseRecord {
  slot: bigint;
  amount: bigint;
  blockNumber: bigint;
  flags: bigint;
}

/**
 * ContentRegistry (DESIGN §6): authors publish content hashes with a price and a key commitment;
 * buyers pay into escrow; the author delivers the content key sealed to the buyer, which releases
 * the escrow to the author; without delivery by the deadline the buyer takes the escrow back.
 */
export class ContentRegistry implements SystemModule {
  readonly address = CONTENT_REGISTRY_ADDRESS;
  readonly name = "ContentRegistry";
  readonly abi = new Interface(CONTENT_REGISTRY_ABI);

  async execute(ctx: ModuleContext, calldata: Uint8Array): Promise<Uint8Array> {
    const { fn, args } = decodeCall(this.abi, calldata, ctx.value);
    switch (fn.name) {
      case "publish":
        return this.result(fn, [await this.publish(ctx, args)]);
      case "purchase":
        await this.purchase(ctx, args[0] as bigint);
        return this.result(fn, []);
      case "deliverKey":
        await this.deliverKey(ctx, args[0] as bigint, (args[1] as string).toLowerCase() as Hex, getBytes(args[2] as string));
        return this.result(fn, []);
      case "refund":
        await this.refund(ctx, args[0] as bigint);
        return this.result(fn, []);
      default:
        return this.view(ctx, fn, args);
    }
  }

  async call(ctx: ViewContext, calldata: Uint8Array): Promise<Uint8Array> {
    const { fn, args } = decodeCall(this.abi, calldata, 0n);
    if (!fn.constant) throw revert(DispatchReason.NOT_VIEW);
    return this.view(ctx, fn, args);
  }

  private async view(ctx: ViewContext, fn: FunctionFragment, args: Result): Promise<Uint8Array> {
    const s = ctx.storage;
    switch (fn.name) {
      case "getContent": {
        const id = args[0] as bigint;
        await this.requireContent(s, id);
        const base = contentSlot(id);
        const field = (i: number): Promise<bigint> => s.load(slotAt(base, i));
        return this.result(fn, [
          toAddress(await field(Content.AUTHOR)),
          await field(Content.SUBCHAIN_ID),
          toBytes32(await field(Content.CONTENT_HASH)),
          await field(Content.PRICE),
          toBytes32(await field(Content.KEY_COMMITMENT)),
          await field(Content.DELIVERY_BLOCKS),
          await field(Content.SUB_REF),
        ]);
      }
      case "getPurchase": {
        const p = await this.readPurchase(s, args[0] as bigint, (args[1] as string).toLowerCase() as Hex);
        return this.result(fn, [p.amount, p.blockNumber, (p.flags & DELIVERED) !== 0n, (p.flags & REFUNDED) !== 0n]);
      }
      case "getEncryptedKey": {
        const slot = purchaseSlot(args[0] as bigint, (args[1] as string).toLowerCase() as Hex);
        return this.result(fn, [await s.loadBytes(slotAt(slot, Purchase.ENCRYPTED_KEY))]);
      }
      case "contentCount":
        return this.result(fn, [await s.load(COUNT_SLOT)]);
    }
    // the ABI names a function this class does not implement: a bug, not a revert
    throw new Error(`${this.name} does not implement ${fn.format()}`);
  }

  private result(fn: FunctionFragment, values: readonly unknown[]): Uint8Array {
    return getBytes(this.abi.encodeFunctionResult(fn, values));
  }

  /** Ids run from 1 to the content count. */
  private async requireContent(s: StorageReader, id: bigint): Promise<void> {
    if (id === 0n || id > (await s.load(COUNT_SLOT))) throw revert(ContentRegistryReason.UNKNOWN_CONTENT);
  }

  private async readPurchase(s: StorageReader, id: bigint, buyer: Hex): Promise<PurchaseRecord> {
    const slot = purchaseSlot(id, buyer);
    return {
      slot,
      amount: await s.load(slotAt(slot, Purchase.AMOUNT)),
      blockNumber: await s.load(slotAt(slot, Purchase.BLOCK_NUMBER)),
      flags: await s.load(slotAt(slot, Purchase.FLAGS)),
    };
  }

  private async publish(ctx: ModuleContext, args: Result): Promise<bigint> {
    const [contentHash, subchainId, price, keyCommitment, deliveryBlocks] = args as unknown as [string, bigint, bigint, string, bigint];
    if (deliveryBlocks === 0n) throw revert(ContentRegistryReason.ZERO_DELIVERY_BLOCKS);
    const s = ctx.storage;
    const id = (await s.load(COUNT_SLOT)) + 1n;
    if (ctx.subRef && BigInt(ctx.subRef.subchainId) !== subchainId) throw revert(ContentRegistryReason.WRONG_SUBCHAIN);
    // filled in once sub-chains land: until then the payload's place is (subchainId, 0, 0)
    const subRef = encodeSubRef(ctx.subRef ?? { subchainId: Number(subchainId), subNumber: 0n, index: 0 });
    const base = contentSlot(id);
    s.store(COUNT_SLOT, id);
    s.store(slotAt(base, Content.AUTHOR), BigInt(ctx.sender));
    s.store(slotAt(base, Content.SUBCHAIN_ID), subchainId);
    s.store(slotAt(base, Content.CONTENT_HASH), BigInt(contentHash));
    s.store(slotAt(base, Content.PRICE), price);
    s.store(slotAt(base, Content.KEY_COMMITMENT), BigInt(keyCommitment));
    s.store(slotAt(base, Content.DELIVERY_BLOCKS), deliveryBlocks);
    s.store(slotAt(base, Content.SUB_REF), subRef);
    ctx.emit(this.abi.encodeEventLog("ContentPublished", [id, ctx.sender, subchainId, subRef, price]));
    return id;
  }

  private async purchase(ctx: ModuleContext, id: bigint): Promise<void> {
    const s = ctx.storage;
    await this.requireContent(s, id);
    const p = await this.readPurchase(s, id, ctx.sender);
    // a refunded buyer may buy again; the new purchase replaces the old record
    if (p.blockNumber !== 0n && (p.flags & REFUNDED) === 0n) throw revert(ContentRegistryReason.ALREADY_PURCHASED);
    const price = await s.load(slotAt(contentSlot(id), Content.PRICE));
    if (ctx.value !== price) throw revert(ContentRegistryReason.WRONG_PRICE);
    s.store(slotAt(p.slot, Purchase.AMOUNT), ctx.value);
    s.store(slotAt(p.slot, Purchase.BLOCK_NUMBER), ctx.blockNumber);
    if (p.flags !== 0n) s.store(slotAt(p.slot, Purchase.FLAGS), 0n);
    ctx.emit(this.abi.encodeEventLog("Purchased", [id, ctx.sender, ctx.value]));
  }

  private async deliverKey(ctx: ModuleContext, id: bigint, buyer: Hex, encryptedKey: Uint8Array): Promise<void> {
    const s = ctx.storage;
    await this.requireContent(s, id);
    const author = toAddress(await s.load(slotAt(contentSlot(id), Content.AUTHOR)));
    if (author !== ctx.sender) throw revert(ContentRegistryReason.NOT_AUTHOR);
    const p = await this.readPurchase(s, id, buyer);
    requireOpen(p);
    if (encryptedKey.length === 0) throw revert(ContentRegistryReason.EMPTY_KEY);
    s.store(slotAt(p.slot, Purchase.FLAGS), DELIVERED);
    await s.storeBytes(slotAt(p.slot, Purchase.ENCRYPTED_KEY), encryptedKey);
    await ctx.pay(author, p.amount);
    ctx.emit(this.abi.encodeEventLog("KeyDelivered", [id, buyer, encryptedKey]));
  }

  private async refund(ctx: ModuleContext, id: bigint): Promise<void> {
    const s = ctx.storage;
    await this.requireContent(s, id);
    const p = await this.readPurchase(s, id, ctx.sender);
    requireOpen(p);
    const deliveryBlocks = await s.load(slotAt(contentSlot(id), Content.DELIVERY_BLOCKS));
    if (ctx.blockNumber <= p.blockNumber + deliveryBlocks) throw revert(ContentRegistryReason.TOO_EARLY);
    s.store(slotAt(p.slot, Purchase.FLAGS), REFUNDED);
    await ctx.pay(ctx.sender, p.amount);
    ctx.emit(this.abi.encodeEventLog("Refunded", [id, ctx.sender, p.amount]));
  }
}

/** A purchase whose escrow is still held: made, neither delivered nor refunded. */
function requireOpen(p: PurchaseRecord): void {
  if (p.blockNumber === 0n) throw revert(ContentRegistryReason.NOT_PURCHASED);
  if ((p.flags & DELIVERED) !== 0n) throw revert(ContentRegistryReason.ALREADY_DELIVERED);
  if ((p.flags & REFUNDED) !== 0n) throw revert(ContentRegistryReason.REFUNDED);
}
