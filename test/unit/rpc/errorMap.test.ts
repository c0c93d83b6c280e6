import { describe, expect, it } from "@jest/globals";
import { JsonRpcProvider, Transaction, Wallet, getBytes, type JsonRpcPayload } from "ethers";
import {
  BlockErrorCode,
  ChainErrorCode,
  ExecutionErrorCode,
  GasMeter,
  GenesisErrorCode,
  NodeError,
  PayloadPoolErrorCode,
  PublishPayloadErrorCode,
  TxErrorCode,
  TxPool,
  TxPoolErrorCode,
  decodeTransaction,
  revert,
  type Account,
} from "../../../chain/index.js";
import { ConsensusErrorCode, SealErrorCode, TimestampErrorCode, WorkErrorCode } from "../../../consensus/index.js";
import { toRpcError } from "../../../rpc/errorMap.js";
import { RpcError, RpcErrorCode } from "../../../rpc/rpcError.js";

const CHAIN_ID = 1984n;
const BASE_FEE = 10n;
const wallet = new Wallet(`0x${"01".padStart(64, "0")}`);
const RECIPIENT = "0x000000000000000000000000000000000000dead";

async function signedTx(nonce: number, tip = 1n): Promise<Uint8Array> {
  const raw = await wallet.signTransaction({
    type: 2,
    chainId: CHAIN_ID,
    nonce,
    to: RECIPIENT,
    value: 1n,
    gasLimit: 21_000n,
    maxPriorityFeePerGas: tip,
    maxFeePerGas: BASE_FEE + tip,
  });
  return getBytes(raw);
}

/** A pool over one account, to get the chain's own rejections. */
function poolWith(account: Account): TxPool {
  return new TxPool({}, { chainId: CHAIN_ID, baseFee: () => BASE_FEE, state: () => ({ getAccount: async () => account }) });
}

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

/** What ethers v6 makes of an eth_sendRawTransaction error answer (its `code`). */
function ethersCodeOf(error: RpcError): string {
  const provider = new JsonRpcProvider("http://127.0.0.1:1", CHAIN_ID, { staticNetwork: true });
  try {
    const payload: JsonRpcPayload = { method: "eth_sendRawTransaction", params: ["0x00"], id: 1, jsonrpc: "2.0" };
    const e = provider.getRpcError(payload, { id: 1, error: { code: error.code, message: error.message } });
    return (e as Error & { code: string }).code;
  } finally {
    provider.destroy();
  }
}

describe("toRpcError", () => {
  it("answers an RpcError as it is", () => {
    const e = new RpcError(RpcErrorCode.INVALID_PARAMS, "invalid argument 0: hex string without 0x prefix", { x: 1 });
    expect(toRpcError(e)).toBe(e);
  });

  it("maps every refusal code of the chain and consensus layers to -32000 with the error's message", () => {
    const groups = [
      TxErrorCode,
      TxPoolErrorCode,
      WorkErrorCode,
      ConsensusErrorCode,
      SealErrorCode,
      TimestampErrorCode,
      ChainErrorCode,
      ExecutionErrorCode,
      BlockErrorCode,
      PublishPayloadErrorCode,
      PayloadPoolErrorCode,
    ];
    for (const group of groups) {
      for (const code of Object.values(group)) {
        const mapped = toRpcError(new NodeError({ code }, `why ${code} happened`));
        expect({ code, rpc: mapped.code }).toEqual({ code, rpc: RpcErrorCode.SERVER_ERROR });
        expect(mapped.message).toContain(`why ${code} happened`);
      }
    }
  });

  it("answers a system module's revert as geth answers an EVM revert, which ethers decodes to its reason", () => {
    const mapped = toRpcError(revert("wrong price"));
    expect([mapped.code, mapped.message]).toEqual([RpcErrorCode.EXECUTION_REVERTED, "execution reverted: wrong price"]);
    expect(mapped.data).toBe(
      "0x08c379a0" +
        "0000000000000000000000000000000000000000000000000000000000000020" +
        "000000000000000000000000000000000000000000000000000000000000000b" +
        Buffer.from("wrong price").toString("hex").padEnd(64, "0"),
    );
    const provider = new JsonRpcProvider("http://127.0.0.1:1", CHAIN_ID, { staticNetwork: true });
    try {
      const payload: JsonRpcPayload = { method: "eth_call", params: [{ to: RECIPIENT, data: "0x" }, "latest"], id: 1, jsonrpc: "2.0" };
      const e = provider.getRpcError(payload, { id: 1, error: { code: mapped.code, message: mapped.message, data: mapped.data } }) as Error & { code: string; reason: string };
      expect([e.code, e.reason]).toEqual(["CALL_EXCEPTION", "wrong price"]);
    } finally {
      provider.destroy();
    }
    let outOfGas: unknown;
    try {
      new GasMeter(1n, 0n).charge(2n);
    } catch (e) {
      outOfGas = e;
    }
    const oog = toRpcError(outOfGas);
    expect([oog.code, oog.message, oog.data]).toEqual([RpcErrorCode.SERVER_ERROR, "out of gas", undefined]);
  });

  it("answers anything else as -32603 internal error, without its message or stack", () => {
    const secret = "EACCES: permission denied, open '/home/alice/.vs1984/keystore/secret.json'";
    for (const e of [
      new Error(secret),
      new TypeError(secret),
      secret,
      { message: secret },
      null,
      undefined,
      new NodeError({ code: GenesisErrorCode.FILE_UNREADABLE }, secret),
      new NodeError({ code: "SOMETHING_NEW" }, secret),
    ]) {
      const mapped = toRpcError(e);
      expect(mapped.code).toBe(RpcErrorCode.INTERNAL_ERROR);
      expect(mapped.message).toBe("internal error");
      expect(mapped.data).toBeUndefined();
    }
  });

  it("words the pool's real rejections so ethers recognises them", async () => {
    const lowNonce = await rejection(poolWith({ nonce: 5n, balance: 10n ** 20n }).add(decodeTransaction(await signedTx(3), CHAIN_ID)));
    const poor = await rejection(poolWith({ nonce: 0n, balance: 0n }).add(decodeTransaction(await signedTx(0), CHAIN_ID)));
    const pool = poolWith({ nonce: 0n, balance: 10n ** 20n });
    const first = decodeTransaction(await signedTx(0), CHAIN_ID);
    await pool.add(first);
    const known = await rejection(pool.add(first));
    const underpriced = await rejection(pool.add(decodeTransaction(await signedTx(0, 2n), CHAIN_ID)));

    const cases: [unknown, string, RegExp, string][] = [
      [lowNonce, TxErrorCode.NONCE_TOO_LOW, /^nonce too low/, "NONCE_EXPIRED"],
      [poor, TxErrorCode.INSUFFICIENT_FUNDS, /^insufficient funds/, "INSUFFICIENT_FUNDS"],
      [known, TxPoolErrorCode.ALREADY_KNOWN, /^already known/, "UNKNOWN_ERROR"],
      [underpriced, TxPoolErrorCode.REPLACEMENT_UNDERPRICED, /^replacement transaction underpriced/, "REPLACEMENT_UNDERPRICED"],
    ];
    for (const [error, nodeCode, words, ethersCode] of cases) {
      expect((error as NodeError<{ code: string }>).code).toBe(nodeCode);
      const mapped = toRpcError(error);
      expect(mapped.code).toBe(RpcErrorCode.SERVER_ERROR);
      expect(mapped.message).toMatch(words);
      expect(mapped.message).toBe((error as Error).message);
      expect(ethersCodeOf(mapped)).toBe(ethersCode);
    }
  });

  it("puts geth's words in front where the chain's message lacks them", async () => {
    const legacy = Transaction.from({ type: 0, chainId: 0n, nonce: 0, to: RECIPIENT, gasLimit: 21_000n, gasPrice: BASE_FEE });
    legacy.signature = wallet.signingKey.sign(legacy.unsignedHash);
    const unprotected = toRpcError(await rejection(() => decodeTransaction(getBytes(legacy.serialized), CHAIN_ID)));
    expect(unprotected.message).toMatch(/^only replay-protected \(EIP-155\) transactions allowed over RPC: wrong chain id: /);
    expect(ethersCodeOf(unprotected)).toBe("UNSUPPORTED_OPERATION");

    const oversized = toRpcError(new NodeError({ code: TxErrorCode.OVERSIZED }, "transaction too large: 200000 bytes, at most 131072"));
    expect(oversized.message).toBe("oversized data: transaction too large: 200000 bytes, at most 131072");
    // a message that already has the words is left alone
    const tooHigh = toRpcError(new NodeError({ code: TxErrorCode.NONCE_TOO_HIGH }, "nonce too high: account 0x1 has nonce 1, transaction has 9"));
    expect(tooHigh.message).toBe("nonce too high: account 0x1 has nonce 1, transaction has 9");
  });
});
