import { hexToBytes } from "@ethereumjs/util";
import { Interface, type Result } from "ethers";
import {
  CONTENT_REGISTRY_ABI,
  CONTENT_REGISTRY_ADDRESS,
  decodeSubRef,
  isModuleRevert,
  type Blockchain,
  type BlockHeader,
  type Hex,
} from "../chain/index.js";
import { resultSchema as rs, quantity } from "./format.js";
import { type LogEntry, queryLogs } from "./logs.js";
import { custom, data as dataParam, optional, parseAddress, parseQuantity, quantity as quantityParam } from "./params.js";
import { RpcError, RpcErrorCode, invalidParam } from "./rpcError.js";
import { type RpcConnection, type RpcMethod, defineMethod } from "./rpcMethod.js";
import type { SubscriptionManager } from "./subscriptions.js";

const registry = new Interface(CONTENT_REGISTRY_ABI);
const PUBLISHED_TOPIC = registry.getEvent("ContentPublished")!.topicHash.toLowerCase() as Hex;
const DELIVERED_TOPIC = registry.getEvent("KeyDelivered")!.topicHash.toLowerCase() as Hex;

/** Most entries in one vs_listContent page. */
export const MAX_CONTENT_PAGE_SIZE = 100;
/** How long vs_publishContent waits for the publish to be mined by default, and at most, in seconds. */
export const PUBLISH_WAIT_SECONDS = { default: 30, max: 60 } as const;

/** vs_publishContent's answer: the transaction, and the content record once mined. */
export interface PublishJson {
  transactionHash: Hex;
  /** pending: not mined within the wait (ask vs_getContent later); mined: published; reverted: mined, but publish reverted (eth_call gives the reason). */
  status: "pending" | "mined" | "reverted";
  /** The content record (contentId, subRef, ...) when mined. */
  content: ContentJson | null;
}

/** Blocks read per log query while listing (the log query's range limit). */
const LIST_STEP = 10_000n;

/** What the content methods read: the chain (registry views at a block, logs). */
export interface ContentMethodsDeps {
  chain: Pick<Blockchain, "head" | "genesis" | "simulateCall" | "getCanonicalHash" | "getHeader" | "getBlock" | "getReceipts" | "getTxLocation">;
  /**
   * Pools a publish with its payload and announces both (vs_publishContent); throws as
   * vs_sendRawTransactionWithPayload does. Absent: vs_publishContent is not served.
   */
  submitRawTransactionWithPayload?: (raw: Uint8Array, payload: Uint8Array) => Promise<Hex>;
  /** Live subscriptions (vs_subscribe); absent: vs_subscribe is not served. */
  subscriptions?: SubscriptionManager;
  /** Addresses of the node's local wallet (keyDelivered's default buyers). */
  localAccounts?: () => Hex[];
}

/** A content record as vs_getContent and vs_listContent answer it. */
export interface ContentJson {
  contentId: Hex;
  author: Hex;
  subchainId: Hex;
  contentHash: Hex;
  price: Hex;
  keyCommitment: Hex;
  deliveryBlocks: Hex;
  /** The packed subRef word and its parts (docs/content.md, "subRef encoding"). */
  subRef: { word: Hex; subchainId: Hex; subNumber: Hex; index: Hex };
  /** Where the publish transaction is. */
  blockNumber: Hex;
  blockHash: Hex;
  transactionHash: Hex;
}

/** Runs a ContentRegistry view (`getContent`, `getPurchase`, ...) on the state of `header`; null when it reverts (unknown content). */
export async function registryView(
  chain: Pick<Blockchain, "genesis" | "simulateCall">,
  header: BlockHeader,
  fn: string,
  args: readonly unknown[],
): Promise<Result | null> {
  try {
    const { returnData } = await chain.simulateCall(header, {
      from: CONTENT_REGISTRY_ADDRESS,
      to: CONTENT_REGISTRY_ADDRESS,
      value: 0n,
      data: hexToBytes(registry.encodeFunctionData(fn, args) as Hex),
      gasLimit: chain.genesis.gasLimit,
      accessList: [],
    });
    return registry.decodeFunctionResult(fn, returnData);
  } catch (e) {
    if (isModuleRevert(e)) return null;
    throw e;
  }
}

/** vs_listContent's request object. */
export interface ListContentRequest {
  author: Hex | null;
  fromBlock: bigint;
  page: number;
  pageSize: number;
}

function parseSmall(v: unknown, key: string, min: number, max: number): number {
  let n: bigint;
  try {
    n = parseQuantity(v);
  } catch (e) {
    throw new Error(`${key}: ${(e as Error).message}`, { cause: e });
  }
  if (n < BigInt(min) || n > BigInt(max)) throw new Error(`${key} must be ${min} to ${max}, got ${n}`);
  return Number(n);
}

/** Parses `{author?, fromBlock?, page?, pageSize?}` (quantities as hex; page from 0, default size 20). */
export function parseListContentRequest(v: unknown): ListContentRequest {
  if (v === undefined) return { author: null, fromBlock: 0n, page: 0, pageSize: 20 };
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("request must be an object {author, fromBlock, page, pageSize}");
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!["author", "fromBlock", "page", "pageSize"].includes(k)) throw new Error(`unknown field ${JSON.stringify(k)}`);
  const has = (k: string): boolean => o[k] !== undefined && o[k] !== null;
  let author: Hex | null = null;
  if (has("author")) {
    try {
      author = parseAddress(o.author);
    } catch (e) {
      throw new Error(`author: ${(e as Error).message}`, { cause: e });
    }
  }
  let fromBlock = 0n;
  if (has("fromBlock")) {
    try {
      fromBlock = parseQuantity(o.fromBlock);
    } catch (e) {
      throw new Error(`fromBlock: ${(e as Error).message}`, { cause: e });
    }
  }
  return {
    author,
    fromBlock,
    page: has("page") ? parseSmall(o.page, "page", 0, Number.MAX_SAFE_INTEGER) : 0,
    pageSize: has("pageSize") ? parseSmall(o.pageSize, "pageSize", 1, MAX_CONTENT_PAGE_SIZE) : 20,
  };
}

/** The content methods: vs_getContent, vs_listContent, and vs_subscribe / vs_unsubscribe over WebSocket. */
export function contentMethods(deps: ContentMethodsDeps): RpcMethod[] {
  const { chain } = deps;

  const view = (header: BlockHeader, fn: string, args: unknown[]): Promise<Result | null> => registryView(chain, header, fn, args);

  async function countAt(n: bigint): Promise<bigint> {
    const hash = await chain.getCanonicalHash(n);
    const header = hash ? await chain.getHeader(hash) : undefined;
    if (!header) throw new RpcError(RpcErrorCode.SERVER_ERROR, `canonical block ${n} is missing`);
    return ((await view(header, "contentCount", []))?.[0] as bigint | undefined) ?? 0n;
  }

  /** The ContentPublished log of `id`: content ids grow along the chain, so its block is found by bisection on contentCount. */
  async function publishedLog(id: bigint): Promise<LogEntry | null> {
    let lo = 0n;
    let hi = chain.head.header.number;
    if ((await countAt(hi)) < id) return null;
    while (lo < hi) {
      const mid = (lo + hi) / 2n;
      if ((await countAt(mid)) >= id) hi = mid;
      else lo = mid + 1n;
    }
    const topic: Hex = `0x${id.toString(16).padStart(64, "0")}`;
    const entries = await queryLogs(chain, { fromBlock: { number: lo }, toBlock: { number: lo }, blockHash: null, addresses: [CONTENT_REGISTRY_ADDRESS], topics: [[PUBLISHED_TOPIC], [topic]] });
    return entries[0] ?? null;
  }

  async function contentJson(id: bigint, log: LogEntry): Promise<ContentJson | null> {
    const r = await view(chain.head.header, "getContent", [id]);
    if (!r) return null;
    const subRef = r[6] as bigint;
    const parts = decodeSubRef(subRef);
    return {
      contentId: quantity(id),
      author: (r[0] as string).toLowerCase() as Hex,
      subchainId: quantity(r[1] as bigint),
      contentHash: r[2] as Hex,
      price: quantity(r[3] as bigint),
      keyCommitment: r[4] as Hex,
      deliveryBlocks: quantity(r[5] as bigint),
      subRef: { word: quantity(subRef), subchainId: quantity(parts.subchainId), subNumber: quantity(parts.subNumber), index: quantity(parts.index) },
      blockNumber: quantity(log.blockNumber),
      blockHash: log.blockHash,
      transactionHash: log.transactionHash,
    };
  }

  /** The publish's outcome once `hash` is in a canonical block; undefined while it is not. */
  async function publishOutcome(hash: Hex): Promise<PublishJson | undefined> {
    const at = await chain.getTxLocation(hash);
    if (!at) return undefined;
    const entries = await queryLogs(chain, { fromBlock: { number: at.blockNumber }, toBlock: { number: at.blockNumber }, blockHash: null, addresses: [CONTENT_REGISTRY_ADDRESS], topics: [[PUBLISHED_TOPIC]] });
    const log = entries.find((e) => e.transactionHash === hash);
    if (!log) return { transactionHash: hash, status: "reverted", content: null };
    return { transactionHash: hash, status: "mined", content: await contentJson(BigInt(log.log.topics[1]!), log) };
  }

  const methods: RpcMethod[] = [
    defineMethod({
      name: "vs_getContent",
      summary:
        "Returns a ContentRegistry record at the head: author, sub-chain, content hash, price, key commitment, delivery blocks, subRef, and the block and transaction that published it; null for an unknown id.",
      params: [quantityParam("contentId")],
      result: { name: "Content", schema: rs.orNull(rs.object) },
      handler: async ([id]) => {
        if (id === 0n) return null;
        const log = await publishedLog(id);
        return log ? contentJson(id, log) : null;
      },
    }),
    defineMethod({
      name: "vs_listContent",
      summary:
        "Lists published content in publish order from ContentPublished logs, optionally of one author and from a block on, one page at a time: {items, page, pageSize, total}.",
      params: [optional(custom("request", { type: "object" }, parseListContentRequest))],
      result: { name: "Content page", schema: rs.object },
      handler: async ([req]) => {
        const { author, fromBlock, page, pageSize } = req ?? parseListContentRequest(undefined);
        const head = chain.head.header.number;
        const topics: (Hex[] | null)[] = [[PUBLISHED_TOPIC], null];
        if (author) topics.push([`0x${author.slice(2).padStart(64, "0")}` as Hex]);
        // Every match is counted (for `total`) but only the page's are kept, so memory stays one page
        // however many there are.
        const first = page * pageSize;
        const slice: LogEntry[] = [];
        let total = 0;
        for (let from = fromBlock; from <= head; from += LIST_STEP) {
          const to = from + LIST_STEP - 1n < head ? from + LIST_STEP - 1n : head;
          const found = await queryLogs(
            chain,
            { fromBlock: { number: from }, toBlock: { number: to }, blockHash: null, addresses: [CONTENT_REGISTRY_ADDRESS], topics },
            { maxBlockRange: Number(LIST_STEP), maxResults: Number.MAX_SAFE_INTEGER },
          );
          for (const log of found) {
            if (total >= first && total < first + pageSize) slice.push(log);
            total++;
          }
        }
        const items: ContentJson[] = [];
        for (const log of slice) {
          const item = await contentJson(BigInt(log.log.topics[1]!), log);
          if (item) items.push(item);
        }
        return { items, page: quantity(page), pageSize: quantity(pageSize), total: quantity(total) };
      },
    }),
  ];

  const submit = deps.submitRawTransactionWithPayload;
  if (submit) {
    methods.push(
      defineMethod({
        name: "vs_publishContent",
        summary:
          "Submits a signed ContentRegistry publish with its payload (as vs_sendRawTransactionWithPayload) and waits up to `seconds` (default 30, at most 60) " +
          "for it to be mined: {transactionHash, status: pending|mined|reverted, content} where content is the vs_getContent record (contentId, subRef, ...) once mined.",
        params: [
          dataParam("Transaction"),
          dataParam("Payload"),
          optional(
            custom("seconds", { title: "seconds to wait (integer or hex quantity)", oneOf: [{ type: "integer" }, { type: "string" }] }, (v) => {
              const n = typeof v === "string" ? Number(parseQuantity(v)) : v;
              if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > PUBLISH_WAIT_SECONDS.max) {
                throw new Error(`seconds must be an integer (or hex quantity) from 0 to ${PUBLISH_WAIT_SECONDS.max}`);
              }
              return n;
            }),
          ),
        ],
        result: { name: "Publish", schema: rs.object },
        handler: async ([raw, payload, seconds]) => {
          const hash = await submit(raw, payload);
          const deadline = Date.now() + (seconds ?? PUBLISH_WAIT_SECONDS.default) * 1000;
          for (;;) {
            const outcome = await publishOutcome(hash);
            if (outcome) return outcome;
            if (Date.now() >= deadline) return { transactionHash: hash, status: "pending", content: null } satisfies PublishJson;
            await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
          }
        },
      }),
    );
  }

  const subscriptions = deps.subscriptions;
  if (subscriptions) {
    const requireConnection = (c: RpcConnection | null): RpcConnection => {
      if (!c) throw new RpcError(RpcErrorCode.METHOD_NOT_FOUND, "notifications not supported");
      return c;
    };
    methods.push(
      defineMethod({
        name: "vs_subscribe",
        summary:
          "Starts a content subscription (WebSocket only): contentPublished, or keyDelivered to {buyer} (default: the node's local accounts). Notifications are the registry's log objects, sent as eth_subscription; end it with eth_unsubscribe.",
        params: [
          custom("subscription kind", { type: "string", enum: ["contentPublished", "keyDelivered"] }, (v) => {
            if (v !== "contentPublished" && v !== "keyDelivered") throw new Error(`unknown subscription kind ${JSON.stringify(v)}, want contentPublished or keyDelivered`);
            return v;
          }),
          optional(
            custom("options", { type: "object" }, (v) => {
              if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("options must be an object {buyer} or {author}");
              const o = v as Record<string, unknown>;
              for (const k of Object.keys(o)) if (k !== "buyer" && k !== "author") throw new Error(`unknown field ${JSON.stringify(k)}`);
              const field = (k: string): Hex | null => {
                if (o[k] === undefined || o[k] === null) return null;
                try {
                  return parseAddress(o[k]);
                } catch (e) {
                  throw new Error(`${k}: ${(e as Error).message}`, { cause: e });
                }
              };
              return { buyer: field("buyer"), author: field("author") };
            }),
          ),
        ],
        result: { name: "Subscription id", schema: rs.quantity },
        handler: ([kind, options], ctx) => {
          const connection = requireConnection(ctx.connection);
          const word = (a: Hex): Hex => `0x${a.slice(2).padStart(64, "0")}`;
          // the other kind's field would be ignored, and the subscription wider than asked for
          const foreign = kind === "contentPublished" ? "buyer" : "author";
          if (options?.[foreign]) throw invalidParam(1, `${kind} takes {${kind === "contentPublished" ? "author" : "buyer"}}, not ${foreign}`);
          let topics: (Hex[] | null)[];
          if (kind === "contentPublished") {
            topics = [[PUBLISHED_TOPIC], null];
            if (options?.author) topics.push([word(options.author)]);
          } else {
            const buyers = options?.buyer ? [options.buyer] : (deps.localAccounts?.() ?? []);
            topics = [[DELIVERED_TOPIC], null, buyers.length > 0 ? buyers.map(word) : null];
          }
          return subscriptions.subscribe(connection, {
            kind: "logs",
            filter: { fromBlock: { tag: "latest" }, toBlock: { tag: "latest" }, blockHash: null, addresses: [CONTENT_REGISTRY_ADDRESS], topics },
          });
        },
      }),
    );
  }
  return methods;
}
