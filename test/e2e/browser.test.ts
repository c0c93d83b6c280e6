import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Wallet } from "ethers";
import { chromium, type Browser, type Page } from "playwright-core";
import { runCli, type CliProcess } from "../helpers/cli.js";
import { DEV_MNEMONIC, devAddress, tempDir } from "../helpers/ledger.js";

// A web dApp in headless Chromium against `vs1984 node --dev`: the page is served from another
// port (another origin), so every call goes through CORS and the WebSocket Origin check.

const CHROMIUM = "/usr/bin/chromium";
const ROOT = join(new URL(".", import.meta.url).pathname, "../..");
const ETHERS_BROWSER_BUILD = join(ROOT, "node_modules", "ethers", "dist", "ethers.min.js");

/** The dApp: ethers' browser build for HTTP and signing, the browser's own WebSocket for newHeads. */
const DAPP_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>VS1984 test dApp</title></head>
<body>
<script type="module">
import { JsonRpcProvider, Wallet, parseEther } from "./ethers.min.js";

function withTimeout(promise, ms, what) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error("timed out: " + what)), ms))]);
}

/** Subscribes to newHeads over WebSocket and resolves with the first head pushed. */
function firstHead(wsUrl) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl);
    let subscription = null;
    ws.onerror = () => reject(new Error("WebSocket error"));
    ws.onopen = () => ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
    ws.onmessage = (event) => {
      const m = JSON.parse(event.data);
      if (m.id === 1) {
        if (m.error) return reject(new Error(m.error.message));
        subscription = m.result;
      } else if (m.method === "eth_subscription" && m.params.subscription === subscription) {
        ws.close();
        resolve({ subscription, number: m.params.result.number, hash: m.params.result.hash });
      }
    };
  });
}

window.dapp = {
  async run(rpcUrl, wsUrl, mnemonic, to) {
    const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, pollingInterval: 250 });
    try {
      const head = withTimeout(firstHead(wsUrl), 20000, "newHeads");
      const chainId = (await provider.getNetwork()).chainId.toString();
      const blockNumber = await provider.getBlockNumber();
      const wallet = Wallet.fromPhrase(mnemonic).connect(provider);
      const tx = await wallet.sendTransaction({ to, value: parseEther("1.25") });
      const receipt = await tx.wait(1, 30000);
      const balance = (await provider.getBalance(to)).toString();
      return {
        chainId,
        blockNumber,
        from: wallet.address,
        txHash: tx.hash,
        receipt: { hash: receipt.hash, status: receipt.status, blockNumber: receipt.blockNumber },
        balance,
        head: await head,
      };
    } finally {
      provider.destroy();
    }
  },

  /** The node's answers to bad requests, as the page reads them (status and JSON-RPC error code). */
  async badRequests(rpcUrl) {
    const send = async (body, contentType) => {
      const res = await fetch(rpcUrl, { method: "POST", headers: { "content-type": contentType }, body });
      return { status: res.status, code: (await res.json()).error.code };
    };
    return {
      notJson: await send("{not json", "application/json"),
      textPlain: await send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId" }), "text/plain"),
      tooLarge: await send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: ["x".repeat(6 * 1024 * 1024)] }), "application/json"),
      tooDeep: await send('{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":' + "[".repeat(100) + "]".repeat(100) + "}", "application/json"),
    };
  },

  /** What a page of an origin the node does not allow gets: the browser's own refusal. */
  async tryFrom(rpcUrl, wsUrl) {
    let http;
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId" }),
      });
      http = "answered " + res.status;
    } catch (e) {
      http = "refused: " + e.name;
    }
    const ws = await withTimeout(
      new Promise((resolve) => {
        const socket = new WebSocket(wsUrl);
        socket.onopen = () => { socket.close(); resolve("open"); };
        socket.onerror = () => resolve("refused");
      }),
      10000,
      "WebSocket refusal",
    );
    return { http, ws };
  },
};
window.dappReady = true;
</script>
</body></html>
`;

/** What `dapp.run` in the page answers. */
interface DappRun {
  chainId: string;
  blockNumber: number;
  from: string;
  txHash: string;
  receipt: { hash: string; status: number; blockNumber: number };
  balance: string;
  head: { subscription: string; number: string; hash: string };
}

/** The page's global `dapp` object, as the test calls it. */
interface DappGlobal {
  dapp: {
    run(rpcUrl: string, wsUrl: string, mnemonic: string, to: string): Promise<DappRun>;
    tryFrom(rpcUrl: string, wsUrl: string): Promise<{ http: string; ws: string }>;
    badRequests(rpcUrl: string): Promise<Record<string, { status: number; code: number }>>;
  };
}

/** A static server for the dApp page and ethers' browser build on 127.0.0.1 at a free port. */
async function serveDapp(): Promise<[{ port: number }, () => Promise<void>]> {
  const ethers = readFileSync(ETHERS_BROWSER_BUILD);
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    if (req.method === "GET" && path === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(DAPP_HTML);
    } else if (req.method === "GET" && path === "/ethers.min.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(ethers);
    } else if (path === "/favicon.ico") {
      res.writeHead(204).end();
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return [
    { port },
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  ];
}

const hasChromium = existsSync(CHROMIUM);
const describeBrowser = hasChromium || process.env.CI ? describe : describe.skip;
if (!hasChromium && !process.env.CI) {
  console.warn(`Skipping test/e2e/browser.test.ts: no Chromium at ${CHROMIUM} (install it with \`apt-get install chromium\`; under CI it is required)`);
}

const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

describeBrowser("a dApp in headless Chromium against `vs1984 node --dev`", () => {
  let browser: Browser;
  let page: Page;
  let rpcUrl: string;
  let pagePort: number;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const [dapp, closeDapp] = await serveDapp();
    closers.push(closeDapp);
    pagePort = dapp.port;
    const [dir, remove] = tempDir();
    closers.push(remove);
    const node: CliProcess = runCli([
      "node", "--dev", "--datadir", dir, "--rpc.port", "0", "--p2p.port", "0",
      "--rpc.cors", `http://127.0.0.1:${pagePort}`,
    ]);
    closers.push(async () => {
      await node.stop();
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // root (CI, containers) cannot use Chromium's sandbox
      args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
      timeout: 20_000,
    });
    closers.push(() => browser.close());
    rpcUrl = (await node.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+\/)"/, 20_000))[1]!;
    page = await browser.newPage();
    page.setDefaultTimeout(40_000);
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    await page.goto(`http://127.0.0.1:${pagePort}/`);
    await page.waitForFunction(() => (globalThis as unknown as { dappReady?: boolean }).dappReady === true, undefined, { timeout: 10_000 });
  }, 45_000);

  it("reads the chain, sends a signed transfer, waits for its receipt and sees newHeads over WebSocket", async () => {
    const to = Wallet.createRandom().address;
    const wsUrl = rpcUrl.replace("http:", "ws:");
    const errorsBefore = pageErrors.length;
    const result = await page.evaluate(
      ([http, ws, mnemonic, recipient]) => (globalThis as unknown as DappGlobal).dapp.run(http!, ws!, mnemonic!, recipient!),
      [rpcUrl, wsUrl, DEV_MNEMONIC, to],
    );
    expect(pageErrors.slice(errorsBefore)).toEqual([]);
    expect(result.chainId).toBe("1984");
    expect(result.blockNumber).toBeGreaterThanOrEqual(0);
    expect(result.from.toLowerCase()).toBe(devAddress(0));
    expect(result.receipt.status).toBe(1);
    expect(result.receipt.hash).toBe(result.txHash);
    expect(result.receipt.blockNumber).toBeGreaterThanOrEqual(result.blockNumber);
    expect(result.balance).toBe((125n * 10n ** 16n).toString());
    expect(result.head.subscription).toMatch(/^0x[0-9a-f]+$/);
    expect(result.head.number).toMatch(/^0x[0-9a-f]+$/);
    expect(result.head.hash).toMatch(/^0x[0-9a-f]{64}$/);
  }, 50_000);

  it("lets the page read the node's refusals of bad requests (CORS headers on errors too)", async () => {
    const result = await page.evaluate((http) => (globalThis as unknown as DappGlobal).dapp.badRequests(http), rpcUrl);
    expect(result).toEqual({
      notJson: { status: 200, code: -32700 },
      textPlain: { status: 415, code: -32600 },
      tooLarge: { status: 413, code: -32005 },
      tooDeep: { status: 200, code: -32005 },
    });
  }, 20_000);

  it("is refused by the browser when the page's origin is not allowed (HTTP and WebSocket)", async () => {
    // the same page under http://localhost:<port> is another origin, not on --rpc.cors
    const other = await browser.newPage();
    closers.push(() => other.close());
    await other.goto(`http://localhost:${pagePort}/`);
    await other.waitForFunction(() => (globalThis as unknown as { dappReady?: boolean }).dappReady === true, undefined, { timeout: 10_000 });
    const result = await other.evaluate(
      ([http, ws]) => (globalThis as unknown as DappGlobal).dapp.tryFrom(http!, ws!),
      [rpcUrl, rpcUrl.replace("http:", "ws:")],
    );
    expect(result).toEqual({ http: "refused: TypeError", ws: "refused" });
  }, 20_000);
});
