import { describe, expect, it } from "@jest/globals";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { hexToBytes } from "@ethereumjs/util";
import type { Hex } from "../../../chain/index.js";
import { ReqResp, RequestErrorCode, WireError, WireErrorCode, createHost, type Host } from "../../../p2p/index.js";
import { devWallet } from "../../helpers/ledger.js";
import { addrOf, netGenesis, startNetNode, waitFor } from "../../helpers/net.js";
import { useNetNodes } from "../../helpers/netNodes.js";

const { onStop } = useNetNodes();

async function host(): Promise<Host> {
  const h = await createHost({ addr: "127.0.0.1", port: 0, maxPeers: 10, nat: "none" }, { privateKey: await generateKeyPair("Ed25519"), gater: {} });
  await h.start();
  onStop(async () => {
    await h.stop();
  });
  return h;
}

describe("request/response", () => {
  it("answers within the caps, refuses larger frames unread, and reports malformed requests and floods", async () => {
    const server = await host();
    const client = await host();
    const misbehaviour: string[] = [];
    let allowed = 3;
    const serverRr = new ReqResp(
      {},
      { host: server, allowRequest: () => allowed-- > 0, onMisbehaviour: (_peer, reason) => misbehaviour.push(reason) },
    );
    await serverRr.register(
      "echo",
      async (_peer, request) => {
        if (request[0] === 0xff) throw new WireError({ code: WireErrorCode.MALFORMED }, "malformed echo: starts with 0xff");
        return request;
      },
      { maxRequestBytes: 1_000 },
    );
    const clientRr = new ReqResp({ timeoutMs: 3_000 }, { host: client, allowRequest: () => true, onMisbehaviour: () => undefined });
    await client.dial(server.getMultiaddrs()[0]!);
    const peer = server.peerId;

    expect(await clientRr.request(peer, "echo", new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
    // too large: the server reads the length prefix and drops the stream
    await expect(clientRr.request(peer, "echo", new Uint8Array(2_000))).rejects.toMatchObject({ type: { code: RequestErrorCode.TRANSPORT } });
    expect(misbehaviour.at(-1)).toMatch(/unreadable request on \/vs1984\/echo\/1: .*too long/);
    // malformed: an error answer with the reason, and the peer reported
    await expect(clientRr.request(peer, "echo", new Uint8Array([0xff]))).rejects.toMatchObject({
      type: { code: RequestErrorCode.REMOTE },
      message: expect.stringContaining("malformed echo"),
    });
    expect(misbehaviour.at(-1)).toContain("malformed echo");
    // over the rate: refused and reported
    await expect(clientRr.request(peer, "echo", new Uint8Array([4]))).rejects.toMatchObject({ message: expect.stringContaining("too many requests") });
    expect(misbehaviour.at(-1)).toContain("request flood");
    // an unknown protocol fails as a transport error, not a crash
    await expect(clientRr.request(peer, "nothing", new Uint8Array([1]))).rejects.toMatchObject({ type: { code: RequestErrorCode.TRANSPORT } });
  }, 30_000);

  it("carries a stem transaction far above the request cap of other protocols", async () => {
    const genesis = await netGenesis();
    const [a, stopA] = await startNetNode({ genesis });
    onStop(stopA);
    const [b, stopB] = await startNetNode({ genesis, bootnodes: [addrOf(a)] });
    onStop(stopB);
    await waitFor("connected", () => a.network!.peerCount === 1 && b.network!.peerCount === 1);
    const raw = await devWallet(2).signTransaction({
      type: 2,
      chainId: Number(genesis.chainId),
      nonce: 0,
      to: "0x000000000000000000000000000000000000beef",
      value: 1n,
      data: `0x${"00".repeat(60 * 1024)}`,
      gasLimit: 400_000,
      maxFeePerGas: 3n * 10n ** 9n,
      maxPriorityFeePerGas: 10n ** 9n,
    });
    const hash = await a.submitRawTransaction(hexToBytes(raw as Hex));
    await waitFor("the 60 KiB transaction on b", () => b.ledger.pool.has(hash), 10_000);
    expect(b.network!.scores.standing(a.network!.peerId).score).toBe(0);
  }, 30_000);
});
