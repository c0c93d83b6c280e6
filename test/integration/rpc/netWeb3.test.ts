import { afterAll, describe, expect, it } from "@jest/globals";
import { KECCAK_EMPTY } from "../../../chain/index.js";
import { netMethods } from "../../../rpc/net.js";
import { MethodRegistry } from "../../../rpc/rpcMethod.js";
import { RpcError } from "../../../rpc/rpcError.js";
import { clientVersion, web3Methods } from "../../../rpc/web3.js";
import { serveRegistry, type RpcCall } from "../../helpers/rpcClient.js";

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

/** The net_ and web3_ methods served by the real RPC server on a random port; calls over HTTP. */
function registry(peers: () => number): RpcCall {
  const [call, close] = serveRegistry(
    new MethodRegistry().register(...netMethods({ chainId: 1984n, peerCount: peers }), ...web3Methods({ clientVersion: clientVersion("0.1.0") })),
  );
  closers.push(close);
  return call;
}

describe("net_ and web3_ methods", () => {
  it("answers the network id as a decimal string, listening, and the peer count", async () => {
    let peers = 0;
    const call = registry(() => peers);
    expect(await call("net_version")).toBe("1984");
    expect(await call("net_listening")).toBe(true);
    expect(await call("net_peerCount")).toBe("0x0");
    peers = 12;
    expect(await call("net_peerCount")).toBe("0xc");
  });

  it("names the client, its platform and Node version", async () => {
    const version = (await registry(() => 0)("web3_clientVersion")) as string;
    expect(version).toBe(`vs1984/v0.1.0/${process.platform}-${process.arch}/node${process.versions.node}`);
    expect(version).toMatch(/^vs1984\/v\d+\.\d+\.\d+\/[a-z0-9]+-[a-z0-9]+\/node\d+\.\d+\.\d+$/);
  });

  it("hashes with keccak-256, not SHA3-256", async () => {
    const call = registry(() => 0);
    expect(await call("web3_sha3", "0x68656c6c6f20776f726c64")).toBe("0x47173285a8d7341e5e972fc677286384f802f8ef42a5ec5f03bbfa254cb01fad");
    expect(await call("web3_sha3", "0x")).toBe(KECCAK_EMPTY);
    const e = (await call("web3_sha3", "hello").catch((err: unknown) => err)) as RpcError;
    expect(e).toBeInstanceOf(RpcError);
    expect([e.code, e.message]).toEqual([-32602, "invalid argument 0: hex string without 0x prefix"]);
    const missing = (await call("web3_sha3").catch((err: unknown) => err)) as RpcError;
    expect([missing.code, missing.message]).toEqual([-32602, "missing value for required argument 0 (Data)"]);
  });
});
