import { type BlockHeader, EMPTY_TRIE_ROOT, UNSEALED, headerHash } from "./block.js";
import type { Blockchain } from "./blockchain.js";
import { ExecutionError, applyTransaction, payMiner, receiptOf } from "./execution.js";
import { encodeReceipt, mergeBlooms, type Receipt } from "./receipt.js";
import type { SignedTx } from "./transaction.js";
import { orderedTrieRoot } from "./trieRoot.js";
import type { Hex } from "./types.js";

/** What a block template needs from consensus: who seals it, when, at which base difficulty. */
export interface TemplateParams {
  miner: Hex;
  timestamp: bigint;
  difficulty: bigint;
  extraData: Hex;
}

/** An unsealed block: header with every field but mixHash, nonce and sealSignature, and its transactions. */
export interface BlockTemplate {
  header: BlockHeader;
  transactions: SignedTx[];
}


/**
 * Builds a block template on `parent` from candidate transactions in the given order, skipping
 * those that do not apply (and the later ones of the same sender), until the gas limit is reached.
 */
export async function buildBlockTemplate(
  chain: Blockchain,
  parent: BlockHeader,
  params: TemplateParams,
  candidates: Iterable<SignedTx>,
): Promise<BlockTemplate> {
  const ctx = chain.executionContext({ miner: params.miner, number: parent.number + 1n, timestamp: params.timestamp });
  const state = chain.stateAt(parent);
  const txs: SignedTx[] = [];
  const receipts: Receipt[] = [];
  const skipSenders = new Set<Hex>();
  let gasUsed = 0n;
  let fees = 0n;
  for (const tx of candidates) {
    if (gasUsed + 21000n > ctx.gasLimit) break;
    if (skipSenders.has(tx.from) || gasUsed + tx.gasLimit > ctx.gasLimit) {
      skipSenders.add(tx.from);
      continue;
    }
    try {
      const out = await applyTransaction(state, tx, txs.length, gasUsed, ctx);
      gasUsed += out.gasUsed;
      fees += out.fee;
      txs.push(tx);
      receipts.push(receiptOf(tx, out, gasUsed));
    } catch (e) {
      if (!(e instanceof ExecutionError)) throw e;
      skipSenders.add(tx.from);
    }
  }
  await payMiner(state, ctx, fees);
  const { root } = await state.commit();
  const header: BlockHeader = {
    parentHash: headerHash(parent),
    number: parent.number + 1n,
    timestamp: params.timestamp,
    miner: params.miner,
    difficulty: params.difficulty,
    stateRoot: root,
    transactionsRoot: await orderedTrieRoot(txs.map((t) => t.raw)),
    receiptsRoot: await orderedTrieRoot(receipts.map(encodeReceipt)),
    logsBloom: mergeBlooms(receipts.map((r) => r.logsBloom)),
    gasLimit: ctx.gasLimit,
    gasUsed,
    extraData: params.extraData,
    baseFeePerGas: ctx.baseFeePerGas,
    subchainsRoot: EMPTY_TRIE_ROOT,
    ...UNSEALED,
  };
  return { header, transactions: txs };
}
