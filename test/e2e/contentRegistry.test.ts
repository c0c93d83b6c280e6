import { afterAll, describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { Contract, JsonRpcProvider, Wallet, hexlify, keccak256, parseEther, randomBytes, type EventLog, type InterfaceAbi, type TransactionReceipt } from "ethers";
import { runCli, type CliProcess } from "../helpers/cli.js";
import { devWallet, tempDir } from "../helpers/ledger.js";

const ADDRESS = "0x0000000000000000000000000000000000001985";
// the ABI a dApp takes from the package
const ABI = JSON.parse(readFileSync(new URL("../../chain/modules/ContentRegistry.abi.json", import.meta.url), "utf8")) as InterfaceAbi;

const running: CliProcess[] = [];
const cleanups: (() => void)[] = [];
afterAll(async () => {
  for (const p of running) await p.stop();
  for (const c of cleanups) c();
});

describe("ethers v6 Contract with the shipped ABI against `vs1984 node --dev`", () => {
  it("publishes, purchases, reads getContent and the events, and delivers the key", async () => {
    const [dir, remove] = tempDir();
    cleanups.push(remove);
    const proc = runCli(["node", "--dev", "--datadir", dir, "--rpc.port", "0", "--p2p.port", "0"]);
    running.push(proc);
    const url = (await proc.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/))[1]!;
    const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 250 });
    try {
      const author = new Wallet(devWallet(0).privateKey, provider);
      const buyer = new Wallet(devWallet(1).privateKey, provider);
      const registry = new Contract(ADDRESS, ABI, author);
      const price = parseEther("1.5");
      // the payload travels beside its publish transaction; the contentHash commits to it
      const payload = randomBytes(64);
      const contentHash = keccak256(payload);
      const keyCommitment = keccak256(randomBytes(32));
      expect(await provider.getCode(ADDRESS)).toBe(`0xfe${Buffer.from("ContentRegistry").toString("hex")}`);

      const mined = async (p: Promise<unknown>): Promise<TransactionReceipt> => {
        const tx = (await p) as { wait(confirms: number, timeout: number): Promise<TransactionReceipt | null> };
        const receipt = (await tx.wait(1, 60_000))!;
        expect(receipt.status).toBe(1);
        return receipt;
      };

      const id = (await registry.getFunction("publish").staticCall(contentHash, 3, price, keyCommitment, 20n)) as bigint;
      const publishTx = await author.populateTransaction(await registry.getFunction("publish").populateTransaction(contentHash, 3, price, keyCommitment, 20n));
      // eth_estimateGas cannot see the payload: add its payload gas (8 a byte on comments)
      publishTx.gasLimit = BigInt(publishTx.gasLimit!) + 8n * BigInt(payload.length);
      const publishHash = (await provider.send("vs_sendRawTransactionWithPayload", [await author.signTransaction(publishTx), hexlify(payload)])) as string;
      const published = (await provider.waitForTransaction(publishHash, 1, 60_000))!;
      expect(published.status).toBe(1);
      const publishedLog = registry.interface.parseLog(published.logs[0]!)!;
      expect([publishedLog.name, publishedLog.args.contentId, publishedLog.args.author]).toEqual(["ContentPublished", id, author.address]);

      const content = (await registry.getFunction("getContent")(id)) as { author: string; subchainId: bigint; contentHash: string; price: bigint; keyCommitment: string; deliveryBlocks: bigint; subRef: bigint };
      expect([content.author, content.subchainId, content.contentHash, content.price, content.keyCommitment, content.deliveryBlocks, content.subRef]).toEqual([
        author.address,
        3n,
        contentHash,
        price,
        keyCommitment,
        20n,
        // the only payload of the first sub-block of sub-chain 3
        (3n << 96n) | (1n << 32n),
      ]);

      // a wrong price is refused before it is sent, with the module's reason
      const asBuyer = registry.connect(buyer) as Contract;
      await expect(asBuyer.getFunction("purchase")(id, { value: price - 1n })).rejects.toMatchObject({ code: "CALL_EXCEPTION", reason: "wrong price" });

      const buyerBefore = await provider.getBalance(buyer.address);
      const bought = await mined(asBuyer.getFunction("purchase")(id, { value: price }));
      expect(await provider.getBalance(buyer.address)).toBe(buyerBefore - price - bought.gasUsed * bought.gasPrice);
      expect(await provider.getBalance(ADDRESS)).toBe(price);
      const purchase = (await registry.getFunction("getPurchase")(id, buyer.address)) as { amount: bigint; blockNumber: bigint; delivered: boolean };
      expect([purchase.amount, purchase.blockNumber, purchase.delivered]).toEqual([price, BigInt(bought.blockNumber), false]);

      // the events through eth_getLogs: contract.queryFilter and a raw filter
      const purchased = (await registry.queryFilter(registry.filters.Purchased!(id, buyer.address), 0)) as EventLog[];
      expect(purchased.map((e) => [e.transactionHash, e.args.contentId, e.args.buyer, e.args.price])).toEqual([[bought.hash, id, buyer.address, price]]);
      const raw = await provider.getLogs({ address: ADDRESS, fromBlock: 0, topics: [registry.interface.getEvent("ContentPublished")!.topicHash] });
      expect(raw.map((l) => l.transactionHash)).toEqual([published.hash]);

      const sealedKey = hexlify(randomBytes(125));
      const authorBefore = await provider.getBalance(author.address);
      const delivered = await mined(registry.getFunction("deliverKey")(id, buyer.address, sealedKey));
      expect(await provider.getBalance(author.address)).toBe(authorBefore + price - delivered.gasUsed * delivered.gasPrice);
      expect(await registry.getFunction("getEncryptedKey")(id, buyer.address)).toBe(sealedKey);
      const keyEvents = (await registry.queryFilter(registry.filters.KeyDelivered!(id), 0)) as EventLog[];
      expect(keyEvents.map((e) => [e.args.buyer, e.args.encryptedKey])).toEqual([[buyer.address, sealedKey]]);
      await expect(registry.getFunction("deliverKey")(id, buyer.address, sealedKey)).rejects.toMatchObject({ reason: "key already delivered" });
    } finally {
      provider.destroy();
    }
  });
});
