// The author's key-delivery service (DESIGN §6, step 3): watches the ContentRegistry's Purchased
// logs for content whose key this node holds, and once a purchase has enough confirmations writes
// deliverKey(contentId, buyer, ECIES(buyerPublicKey, contentKey)) signed by the author. What it has
// scanned and what it still owes survive restarts in `<datadir>/key-delivery.json`; the registry's
// own record (getPurchase) decides whether a delivery is still needed, so nothing is sent twice.
import { rename, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import { Interface, type Result, Wallet } from "ethers";
import type { Logger } from "pino";
import {
  CONTENT_REGISTRY_ABI,
  CONTENT_REGISTRY_ADDRESS,
  ChainEvent,
  type Blockchain,
  type Hex,
  type TxPool,
} from "../../chain/index.js";
import { queryLogs, registryView } from "../../rpc/index.js";
import { KeystoreError } from "../keystore.js";
import { checkKeyCommitment } from "./contentCipher.js";
import { eciesEncrypt } from "./ecies.js";
import { hasContentKey, loadContentKey } from "./keyStore.js";
import { buyerPublicKey } from "./txPublicKey.js";

/** Settings of the key-delivery service. */
export interface KeyDeliveryOptions {
  /** Data folder: content keys in `<datadir>/content-keys/`, the service's record in `<datadir>/key-delivery.json`. */
  datadir: string;
  /** Blocks a purchase needs (its own included) before the key is delivered. */
  confirmations: number;
  /** Tip per gas of deliverKey transactions, in wei. */
  maxPriorityFeePerGas: bigint;
  /** Most blocks scanned for Purchased logs in one step (catching up runs step after step). */
  scanStep: number;
  /** How far the scan goes back when the block it last scanned left the canonical chain. */
  reorgRewind: number;
}

/** Default settings: 3 confirmations (the node uses 1 on the dev chain), 1 gwei tip. */
export const defaultKeyDeliveryOptions: Omit<KeyDeliveryOptions, "datadir"> = {
  confirmations: 3,
  maxPriorityFeePerGas: 10n ** 9n,
  scanStep: 1000,
  reorgRewind: 64,
};

/** Collaborators of the key-delivery service. */
export interface KeyDeliveryModules {
  chain: Pick<Blockchain, "head" | "genesis" | "getCanonicalHash" | "getHeader" | "getBlock" | "getReceipts" | "getTxLocation" | "simulateCall" | "headState" | "on" | "off">;
  pool: Pick<TxPool, "has" | "pendingNonce">;
  /** Pools a signed transaction and announces it (VsNode.submitRawTransaction). */
  submitRawTransaction: (raw: Uint8Array) => Promise<Hex>;
  /** The author's account key (signs deliverKey); never logged. */
  authorKey: Uint8Array;
  /** Password of the content keys in the key store; never logged. */
  contentKeyPassword: string;
  log: Logger;
}

/** A purchase of this author's content still waiting for its key. */
interface OpenPurchase {
  contentId: bigint;
  buyer: Hex;
  /** The purchase transaction (its signature gives the buyer's public key). */
  txHash: Hex;
  /** The deliverKey transaction sent for it, while it is pooled or included. */
  deliveryTx: Hex | null;
}

/** What `<datadir>/key-delivery.json` holds. */
interface DeliveryRecord {
  version: 1;
  /** The last block scanned for purchases, or null before the first scan. */
  scanned: { number: string; hash: Hex } | null;
  open: { contentId: string; buyer: Hex; txHash: Hex; deliveryTx: Hex | null }[];
}

const registry = new Interface(CONTENT_REGISTRY_ABI);
const PURCHASED_TOPIC = registry.getEvent("Purchased")!.topicHash.toLowerCase() as Hex;

const HASH = /^0x[0-9a-f]{64}$/i;
const ADDRESS = /^0x[0-9a-f]{40}$/i;
const UINT = /^(0|[1-9][0-9]*)$/;

/**
 * The scan cursor and open purchases of a key-delivery record (`file` is named in errors). A file
 * that is not one says what is wrong and that moving it away is safe: the service then scans from
 * block 0 again, and a purchase already delivered on chain is not delivered twice.
 */
export function parseDeliveryRecord(text: string, file: string): { scanned: { number: bigint; hash: Hex } | null; open: OpenPurchase[] } {
  const damaged = (why: string): Error =>
    new Error(`key-delivery record ${file} is damaged (${why}): move it away and the service scans the chain for purchases again`);
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (e) {
    throw damaged(`not JSON: ${(e as Error).message}`);
  }
  if (typeof r !== "object" || r === null || Array.isArray(r)) throw damaged("not a JSON object");
  const record = r as Partial<Record<keyof DeliveryRecord, unknown>>;
  if (record.version !== 1) throw damaged(`unknown version ${JSON.stringify(record.version)}`);
  let scanned: { number: bigint; hash: Hex } | null = null;
  if (record.scanned !== null) {
    const sc = record.scanned as { number?: unknown; hash?: unknown } | undefined;
    if (typeof sc !== "object" || typeof sc.number !== "string" || !UINT.test(sc.number) || typeof sc.hash !== "string" || !HASH.test(sc.hash)) {
      throw damaged("field scanned must be null or {number, hash}");
    }
    scanned = { number: BigInt(sc.number), hash: sc.hash as Hex };
  }
  if (!Array.isArray(record.open)) throw damaged("field open must be an array");
  const open = record.open.map((o: unknown, i): OpenPurchase => {
    const p = (typeof o === "object" && o !== null ? o : {}) as Record<string, unknown>;
    const ok =
      typeof p.contentId === "string" &&
      UINT.test(p.contentId) &&
      typeof p.buyer === "string" &&
      ADDRESS.test(p.buyer) &&
      typeof p.txHash === "string" &&
      HASH.test(p.txHash) &&
      (p.deliveryTx === null || (typeof p.deliveryTx === "string" && HASH.test(p.deliveryTx)));
    if (!ok) throw damaged(`open[${i}] must be {contentId, buyer, txHash, deliveryTx}`);
    return { contentId: BigInt(p.contentId as string), buyer: p.buyer as Hex, txHash: p.txHash as Hex, deliveryTx: p.deliveryTx as Hex | null };
  });
  return { scanned, open };
}

/** The file the service keeps its scan cursor and open purchases in. */
export function keyDeliveryFile(datadir: string): string {
  return join(datadir, "key-delivery.json");
}

/**
 * The author's key-delivery service: finds purchases of the author's content (also those made while
 * it was off, by scanning from where it stopped), waits for `confirmations`, and delivers each key
 * once. A purchase that a reorg removed is dropped; a delivery that a reorg removed is sent again.
 */
export class KeyDeliveryService {
  private readonly opts: KeyDeliveryOptions;
  private readonly author: Hex;
  private readonly wallet: Wallet;
  private readonly open = new Map<string, OpenPurchase>();
  private readonly keys = new Map<Hex, Uint8Array>();
  /** Purchases whose delivery failed for good (no key, wrong password): logged once, retried after a restart. */
  private readonly failed = new Set<string>();
  private scanned: { number: bigint; hash: Hex } | null = null;
  private started = false;
  private work: Promise<void> = Promise.resolve();
  private pending = false;

  constructor(
    opts: Partial<KeyDeliveryOptions> & { datadir: string },
    private readonly modules: KeyDeliveryModules,
  ) {
    this.opts = { ...defaultKeyDeliveryOptions, ...opts };
    if (!Number.isInteger(this.opts.confirmations) || this.opts.confirmations < 1) throw new RangeError("confirmations must be at least 1");
    this.wallet = new Wallet(bytesToHex(modules.authorKey));
    this.author = this.wallet.address.toLowerCase() as Hex;
  }

  /** The author address deliveries are signed by. */
  get address(): Hex {
    return this.author;
  }

  /** Loads the record, catches up from it, and follows new heads. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.load();
    this.modules.chain.on(ChainEvent.newHead, this.onNewHead);
    this.modules.log.info({ author: this.author, confirmations: this.opts.confirmations, open: this.open.size }, "Key delivery started");
    this.schedule();
    await this.work;
  }

  /** Stops following heads and waits for the step under way; forgets the loaded content keys. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.modules.chain.off(ChainEvent.newHead, this.onNewHead);
    await this.work;
    for (const k of this.keys.values()) k.fill(0);
    this.keys.clear();
  }

  /** Resolves when the work asked for so far is done (tests). */
  settled(): Promise<void> {
    return this.work;
  }

  private readonly onNewHead = (): void => this.schedule();

  /** Runs one step after the current one; heads arriving meanwhile fold into that one step. */
  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    this.work = this.work
      .then(async () => {
        this.pending = false;
        if (this.started) await this.step();
      })
      .catch((e: unknown) => this.modules.log.warn({ err: e }, "Key delivery step failed"));
  }

  private async step(): Promise<void> {
    const headNumber = this.modules.chain.head.header.number;
    const confirmed = headNumber - BigInt(this.opts.confirmations - 1);
    await this.rewindIfReorged();
    let changed = false;
    // catch up step by step, so a long catch-up still records progress
    for (;;) {
      const from = this.scanned ? this.scanned.number + 1n : 0n;
      if (from > confirmed || !this.started) break;
      const last = from + BigInt(this.opts.scanStep - 1);
      const to = last < confirmed ? last : confirmed;
      await this.scan(from, to);
      const hash = await this.modules.chain.getCanonicalHash(to);
      if (!hash) break;
      this.scanned = { number: to, hash };
      changed = true;
    }
    for (const p of [...this.open.values()]) {
      if (!this.started) break;
      if (await this.serve(p, headNumber)) changed = true;
    }
    if (changed) await this.save();
  }

  /** The last scanned block left the canonical chain: scan again from `reorgRewind` blocks before it. */
  private async rewindIfReorged(): Promise<void> {
    if (!this.scanned) return;
    if ((await this.modules.chain.getCanonicalHash(this.scanned.number)) === this.scanned.hash) return;
    const back = this.scanned.number - BigInt(this.opts.reorgRewind);
    this.modules.log.info({ scanned: this.scanned.number.toString() }, "Key delivery rescans after a reorg");
    if (back < 0n) {
      this.scanned = null;
      return;
    }
    const hash = await this.modules.chain.getCanonicalHash(back);
    this.scanned = hash ? { number: back, hash } : null;
  }

  /** Records the purchases in blocks `from..to` of content this author published. */
  private async scan(from: bigint, to: bigint): Promise<void> {
    const entries = await queryLogs(
      this.modules.chain,
      { fromBlock: { number: from }, toBlock: { number: to }, blockHash: null, addresses: [CONTENT_REGISTRY_ADDRESS], topics: [[PURCHASED_TOPIC]] },
      { maxBlockRange: this.opts.scanStep, maxResults: Number.MAX_SAFE_INTEGER },
    );
    for (const e of entries) {
      const contentId = BigInt(e.log.topics[1]!);
      const buyer = `0x${e.log.topics[2]!.slice(26)}` as Hex;
      const id = `${contentId}:${buyer}`;
      if (this.open.has(id)) {
        this.open.get(id)!.txHash = e.transactionHash;
        continue;
      }
      const content = await this.getContent(contentId);
      if (!content || content.author !== this.author) continue;
      if (!(await hasContentKey(this.opts.datadir, content.contentHash))) {
        this.modules.log.warn({ contentId: contentId.toString(), buyer }, "Purchase of own content without its key in the key store");
        continue;
      }
      this.open.set(id, { contentId, buyer, txHash: e.transactionHash, deliveryTx: null });
      this.modules.log.info({ contentId: contentId.toString(), buyer, block: e.blockNumber.toString() }, "Purchase to serve");
    }
  }

  /** Delivers one open purchase when due; true when the record changed. */
  private async serve(p: OpenPurchase, headNumber: bigint): Promise<boolean> {
    const id = `${p.contentId}:${p.buyer}`;
    const purchase = await this.getPurchase(p.contentId, p.buyer);
    if (purchase.blockNumber === 0n || purchase.refunded) {
      // gone in a reorg, or refunded: nothing is owed
      this.modules.log.info({ contentId: p.contentId.toString(), buyer: p.buyer, refunded: purchase.refunded }, "Purchase no longer open");
      this.open.delete(id);
      return true;
    }
    if (purchase.delivered) {
      // the registry holds the key; keep the record until the delivery is confirmed as deep as the purchase was
      const at = p.deliveryTx ? await this.modules.chain.getTxLocation(p.deliveryTx) : undefined;
      if (!at || headNumber - at.blockNumber + 1n >= BigInt(this.opts.confirmations)) {
        this.open.delete(id);
        return true;
      }
      return false;
    }
    if (headNumber - purchase.blockNumber + 1n < BigInt(this.opts.confirmations)) return false;
    if (p.deliveryTx) {
      // still on its way: do not send a second one
      if (this.modules.pool.has(p.deliveryTx)) return false;
      // included, yet the head state shows no delivery: it reverted (say, mined before a purchase
      // that a reorg put back behind it); otherwise it left both the chain and the pool
      const included = await this.modules.chain.getTxLocation(p.deliveryTx);
      this.modules.log.info(
        { contentId: p.contentId.toString(), buyer: p.buyer, tx: p.deliveryTx },
        included ? "Delivery was included without delivering; sending again" : "Delivery left the chain and the pool; sending again",
      );
    }
    if (this.failed.has(id)) return false;
    try {
      p.deliveryTx = await this.deliver(p);
    } catch (e) {
      // a missing key or a wrong password does not heal by itself: said once, tried again after a restart
      if (e instanceof KeystoreError) this.failed.add(id);
      this.modules.log.warn({ err: e, contentId: p.contentId.toString(), buyer: p.buyer }, "Key delivery failed");
      return false;
    }
    this.modules.log.info({ contentId: p.contentId.toString(), buyer: p.buyer, tx: p.deliveryTx }, "Key delivered");
    return true;
  }

  /** Seals the content key to the buyer's public key and submits deliverKey; returns the transaction hash. */
  private async deliver(p: OpenPurchase): Promise<Hex> {
    const { chain } = this.modules;
    const content = await this.getContent(p.contentId);
    if (!content || content.author !== this.author) throw new Error(`content ${p.contentId} is not this author's`);
    const at = await chain.getTxLocation(p.txHash);
    const block = at ? await chain.getBlock(at.blockHash) : undefined;
    const tx = block?.transactions[at!.index];
    if (!tx) throw new Error(`purchase transaction ${p.txHash} is not on the chain`);
    const buyer = buyerPublicKey(tx.raw, chain.genesis.chainId);
    if (buyer.from !== p.buyer) throw new Error(`purchase transaction ${p.txHash} was not sent by ${p.buyer}`);
    const key = await this.contentKey(content.contentHash, content.keyCommitment);
    const sealed = eciesEncrypt(buyer.publicKey, key);
    const data = registry.encodeFunctionData("deliverKey", [p.contentId, p.buyer, sealed]);
    // the exact gas on the head state; this also refuses a call that would revert
    const { gasUsed } = await chain.simulateCall(chain.head.header, {
      from: this.author,
      to: CONTENT_REGISTRY_ADDRESS,
      value: 0n,
      data: hexToBytes(data as Hex),
      gasLimit: chain.genesis.gasLimit,
      accessList: [],
    });
    const tip = this.opts.maxPriorityFeePerGas;
    const raw = await this.wallet.signTransaction({
      type: 2,
      chainId: chain.genesis.chainId,
      nonce: Number(await this.pendingNonce()),
      to: CONTENT_REGISTRY_ADDRESS,
      value: 0n,
      data,
      gasLimit: gasUsed,
      maxFeePerGas: 2n * chain.genesis.baseFeePerGas + tip,
      maxPriorityFeePerGas: tip,
    });
    return this.modules.submitRawTransaction(hexToBytes(raw as Hex));
  }

  /** The author's next nonce: the account's, past its gapless pooled transactions. */
  private async pendingNonce(): Promise<bigint> {
    return this.modules.pool.pendingNonce(this.author, (await this.modules.chain.headState().getAccount(this.author)).nonce);
  }

  /** A content key from the key store (scrypt once per content while running), checked against the on-chain commitment. */
  private async contentKey(contentHash: Hex, commitment: Hex): Promise<Uint8Array> {
    let key = this.keys.get(contentHash);
    if (!key) {
      key = await loadContentKey(this.opts.datadir, contentHash, this.modules.contentKeyPassword);
      this.keys.set(contentHash, key);
    }
    checkKeyCommitment(key, commitment);
    return key;
  }

  private async view(fn: string, args: unknown[]): Promise<Result | null> {
    return registryView(this.modules.chain, this.modules.chain.head.header, fn, args);
  }

  private async getContent(contentId: bigint): Promise<{ author: Hex; contentHash: Hex; keyCommitment: Hex } | null> {
    const r = await this.view("getContent", [contentId]);
    // null: unknown content (its publish left the chain)
    return r ? { author: (r[0] as string).toLowerCase() as Hex, contentHash: r[2] as Hex, keyCommitment: r[4] as Hex } : null;
  }

  private async getPurchase(contentId: bigint, buyer: Hex): Promise<{ blockNumber: bigint; delivered: boolean; refunded: boolean }> {
    const r = await this.view("getPurchase", [contentId, buyer]);
    if (!r) throw new Error("getPurchase reverted");
    return { blockNumber: r[1] as bigint, delivered: r[2] as boolean, refunded: r[3] as boolean };
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(keyDeliveryFile(this.opts.datadir), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    const r = parseDeliveryRecord(text, keyDeliveryFile(this.opts.datadir));
    this.scanned = r.scanned;
    this.open.clear();
    for (const o of r.open) this.open.set(`${o.contentId}:${o.buyer}`, o);
  }

  /** Writes the record to a temporary file and renames it into place (a crash leaves the old or the new one). */
  private async save(): Promise<void> {
    const record: DeliveryRecord = {
      version: 1,
      scanned: this.scanned ? { number: this.scanned.number.toString(), hash: this.scanned.hash } : null,
      open: [...this.open.values()].map((p) => ({ contentId: p.contentId.toString(), buyer: p.buyer, txHash: p.txHash, deliveryTx: p.deliveryTx })),
    };
    const file = keyDeliveryFile(this.opts.datadir);
    const tmp = `${file}.tmp`;
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(tmp, file);
  }
}
