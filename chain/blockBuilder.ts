import { type BlockHeader, UNSEALED, headerHash } from "./block.js";
import type { Blockchain } from "./blockchain.js";
import { ExecutionError, applyTransaction, payMiner, receiptOf } from "./execution.js";
import type { SubRef } from "./modules/subRef.js";
import { payloadGas, publishCommitment } from "./publishPayload.js";
import { encodeReceipt, mergeBlooms, type Receipt } from "./receipt.js";
import { type SubBlockHeader, buildSubBlock, subchainsRoot } from "./subchain.js";
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

/** An unsealed block: header with every field but mixHash, nonce and sealSignature, its transactions and sealed sub-blocks. */
export interface BlockTemplate {
  header: BlockHeader;
  transactions: SignedTx[];
  /** The sub-block headers it seals, ascending sub-chain id (empty: none). */
  subBlocks: SubBlockHeader[];
  /**
   * Candidates left out because running them threw something other than a refusal (a bug in a
   * system module): the template is built without them, and the caller should drop them.
   */
  failed: { hash: Hex; error: unknown }[];
}

/** Where a miner finds the payloads pooled transactions commit to (the PayloadPool). */
export interface PayloadSource {
  /** The payloads of a pooled transaction in commitment order, or undefined while one is missing. */
  payloadsFor(txHash: Hex): Uint8Array[] | undefined;
}


/**
 * Builds a block template on `parent` from candidate transactions in the given order, skipping
 * those that do not apply (and the later ones of the same sender), until the gas limit is reached.
 * A publish transaction goes in only while `payloads` holds its payload and the payload fits its
 * sub-chain's maxSubBlockBytes, and is charged its payload gas; the block seals one sub-block per
 * sub-chain it publishes to, following the sub-chain tips after `parent`.
 */
export async function buildBlockTemplate(
  chain: Blockchain,
  parent: BlockHeader,
  params: TemplateParams,
  candidates: Iterable<SignedTx>,
  payloads?: PayloadSource,
): Promise<BlockTemplate> {
  const subRefs = new Map<Hex, SubRef>();
  const payloadGasOf = new Map<Hex, bigint>();
  const ctx = { ...chain.executionContext({ miner: params.miner, number: parent.number + 1n, timestamp: params.timestamp }), subRefs, payloadGas: payloadGasOf };
  const parentHash = headerHash(parent);
  const tips = await chain.tipsAfter(parentHash);
  const declared = new Map(chain.genesis.subchains.map((d) => [d.id, d]));
  /** Payloads going into each sub-chain's sub-block, in transaction order. */
  const subPayloads = new Map<number, Uint8Array[]>();
  const subBytes = new Map<number, number>();
  const state = chain.stateAt(parent);
  const txs: SignedTx[] = [];
  const receipts: Receipt[] = [];
  const skipSenders = new Set<Hex>();
  const failed: BlockTemplate["failed"] = [];
  let gasUsed = 0n;
  let fees = 0n;
  for (const tx of candidates) {
    if (gasUsed + 21000n > ctx.gasLimit) break;
    if (skipSenders.has(tx.from) || gasUsed + tx.gasLimit > ctx.gasLimit) {
      skipSenders.add(tx.from);
      continue;
    }
    const commitment = publishCommitment(tx);
    let payload: Uint8Array | undefined;
    if (commitment) {
      const decl = declared.get(commitment.subchainId);
      payload = payloads?.payloadsFor(tx.hash)?.[0];
      const used = subBytes.get(commitment.subchainId) ?? 0;
      if (!decl || !payload || used + payload.length > decl.maxSubBlockBytes) {
        skipSenders.add(tx.from);
        continue;
      }
      const tip = (await chain.subchains.getHeader(tips.get(decl.id)!))!;
      subRefs.set(tx.hash, { subchainId: decl.id, subNumber: tip.number + 1n, index: subPayloads.get(decl.id)?.length ?? 0 });
      payloadGasOf.set(tx.hash, payloadGas(decl, payload.length));
    }
    const snapshot = state.snapshot();
    try {
      const out = await applyTransaction(state, tx, txs.length, gasUsed, ctx);
      if (commitment && payload) {
        subPayloads.set(commitment.subchainId, [...(subPayloads.get(commitment.subchainId) ?? []), payload]);
        subBytes.set(commitment.subchainId, (subBytes.get(commitment.subchainId) ?? 0) + payload.length);
      }
      gasUsed += out.gasUsed;
      fees += out.fee;
      txs.push(tx);
      receipts.push(receiptOf(tx, out, gasUsed));
    } catch (e) {
      // a refusal leaves the state as it was; anything else may have stopped half way
      state.revertToSnapshot(snapshot);
      if (!(e instanceof ExecutionError)) failed.push({ hash: tx.hash, error: e });
      subRefs.delete(tx.hash);
      payloadGasOf.delete(tx.hash);
      skipSenders.add(tx.from);
    }
  }
  await payMiner(state, ctx, fees);
  const { root } = await state.commit();
  const subBlocks: SubBlockHeader[] = [];
  for (const id of [...subPayloads.keys()].sort((a, b) => a - b)) {
    const tip = (await chain.subchains.getHeader(tips.get(id)!))!;
    subBlocks.push(buildSubBlock(tip, subPayloads.get(id)!).header);
  }
  const header: BlockHeader = {
    parentHash,
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
    subchainsRoot: subchainsRoot(subBlocks),
    ...UNSEALED,
  };
  return { header, transactions: txs, subBlocks, failed };
}
