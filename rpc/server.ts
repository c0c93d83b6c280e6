import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { fastifyWebsocket } from "@fastify/websocket";
import { fastify, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { pino, type Logger } from "pino";
import { WebSocket, type RawData } from "ws";
import { toRpcError } from "./errorMap.js";
import { RpcError, RpcErrorCode } from "./rpcError.js";
import type { MethodRegistry, RpcConnection } from "./rpcMethod.js";

/** Options of the JSON-RPC server (HTTP and WebSocket on one port). */
export interface RpcServerOptions {
  /** Address to listen on. */
  host: string;
  /** TCP port; 0 picks a free one (read `port` after start). */
  port: number;
  /** Browser origins allowed (CORS, WebSocket Origin check): [] = none, ["*"] = any. */
  corsOrigins: string[];
  /** Largest HTTP request body; a larger one gets HTTP 413. */
  maxBodyBytes: number;
  /** Most calls in one batch. */
  maxBatch: number;
  /** Largest WebSocket message; a larger one closes the socket with 1009. */
  maxWsFrameBytes: number;
  /** Unsent bytes a WebSocket client may leave queued before it is disconnected as too slow. */
  maxWsBufferedBytes: number;
  /** Most TCP connections (HTTP and WebSocket) at once; further ones are closed as they arrive. */
  maxConnections: number;
  /** Largest answer to one request (a batch's answers together); later calls get -32005. */
  maxResponseBytes: number;
  /** Calls of one batch run at most this many at a time. */
  batchConcurrency: number;
  /** Method calls running at once across all clients; beyond it a call is refused with -32005. */
  maxCallsInFlight: number;
  /** Time a client has to send a whole HTTP request, headers and body; then HTTP 408 and the connection is closed. */
  requestTimeoutMs: number;
  /** An HTTP connection with nothing sent or received for this long is closed (a client that stops reading its answer). */
  idleTimeoutMs: number;
  /** Deepest nesting of arrays and objects in one request (a batch counts as a level); deeper is refused unparsed. */
  maxJsonDepth: number;
  /** Most WebSocket connections at once; a further upgrade is refused with HTTP 503. */
  maxWsConnections: number;
  /** How often each WebSocket client is pinged; one that has not answered the previous ping is cut off. */
  wsPingIntervalMs: number;
  /** Messages of one WebSocket client being answered at once; beyond it the server stops reading from it until one is. */
  maxWsPendingMessages: number;
}

/** Defaults: localhost:8545, no CORS, 5 MiB bodies and frames, 1,000-call batches, 16 MiB per slow client, 30 s per request. */
export const defaultRpcServerOptions: RpcServerOptions = {
  host: "127.0.0.1",
  port: 8545,
  corsOrigins: [],
  maxBodyBytes: 5 * 1024 * 1024,
  maxBatch: 1000,
  maxWsFrameBytes: 5 * 1024 * 1024,
  maxWsBufferedBytes: 16 * 1024 * 1024,
  maxResponseBytes: 25 * 1024 * 1024,
  batchConcurrency: 4,
  maxCallsInFlight: 256,
  requestTimeoutMs: 30_000,
  // longer than any call may run (vs_publishContent waits up to 60 s) and than keep-alive (72 s)
  idleTimeoutMs: 120_000,
  maxJsonDepth: 64,
  maxWsConnections: 1000,
  // room for every WebSocket client plus as many HTTP ones
  maxConnections: 2000,
  wsPingIntervalMs: 30_000,
  maxWsPendingMessages: 32,
};

/** What the server reports about calls and connections (prom-client behind it). */
export interface RpcMetrics {
  /** One call answered: method name (or "unknown"), duration, success. */
  observeCall(method: string, seconds: number, ok: boolean): void;
  /** WebSocket connections opened (+1) or closed (-1). */
  connections?(delta: number): void;
}

/** Collaborators of the server. */
export interface RpcServerModules {
  registry: MethodRegistry;
  metrics?: RpcMetrics | null;
  logger?: Logger;
  /** Prometheus text served at GET /metrics; null or absent = no such route. */
  metricsText?: (() => Promise<string>) | null;
}

/** Metric label of calls to methods the registry does not serve (one label, not one per name sent). */
const UNKNOWN_METHOD_LABEL = "unknown";
/** Content types accepted for POST (geth's list): a browser page cannot send them without a CORS preflight. */
const JSON_CONTENT_TYPES = ["application/json", "application/json-rpc", "application/jsonrequest"];
const JSON_TYPE = "application/json; charset=utf-8";
/** How long stop() lets WebSocket clients answer the close handshake before cutting them off. */
const WS_CLOSE_GRACE_MS = 1000;
/** How long stop() lets in-flight HTTP requests finish before closing their connections. */
const HTTP_CLOSE_GRACE_MS = 2000;
/** Longest client-sent text (method name, origin) quoted back in an error message. */
const MAX_QUOTED = 100;

type JsonRpcId = string | number | null;

function quote(text: string): string {
  return text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}...` : text;
}

/** Thrown by the serializer when a handler returns what JSON cannot carry. */
class NotJsonError extends Error {}

function jsonReplacer(_key: string, value: unknown): unknown {
  // Quantities are the handler's job (hex strings); JSON.stringify would throw an opaque TypeError.
  if (typeof value === "bigint") throw new NotJsonError("a bigint (quantities must be hex strings)");
  return value;
}

function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, jsonReplacer) ?? "null";
}

/**
 * Whether JSON text nests arrays and objects deeper than `max`, found in one pass before parsing:
 * JSON.parse takes any depth (a 5 MiB body of brackets holds the event loop for over a second) and
 * everything that later walks the value recursively would overflow the stack.
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: brackets inside it do not count; skip to its closing quote (one not escaped)
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i === -1) return false;
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === 0x5c) slashes++;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** An origin as browsers send it in the Origin header: lower case, no trailing slash ("*" and "null" as they are). */
function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, "").toLowerCase();
}

/** Answers an HTTP request with `status` and `error` in JSON-RPC form (id null: no call was read). */
function sendError(reply: FastifyReply, status: number, error: RpcError): void {
  void reply.code(status).type(JSON_TYPE).send(errorAnswer(null, error));
}

function errorAnswer(id: JsonRpcId, error: RpcError): string {
  const body = { code: error.code, message: error.message };
  let text: string;
  try {
    text = toJson(error.data === undefined ? body : { ...body, data: error.data });
  } catch {
    text = toJson(body);
  }
  return `{"jsonrpc":"2.0","id":${toJson(id)},"error":${text}}`;
}

function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

function isJsonRpcId(v: unknown): v is JsonRpcId {
  return v === null || typeof v === "string" || (typeof v === "number" && Number.isFinite(v));
}

/** A WebSocket client as methods see it: notifications out, close callbacks, slow-consumer cut-off. */
class WsConnection implements RpcConnection {
  private static next = 0;
  readonly id: string;
  private closed = false;
  private closeFns: (() => void)[] = [];
  /** False from a ping until its pong: a client still silent at the next ping is gone. */
  answeredPing = true;

  constructor(
    readonly socket: WebSocket,
    private readonly maxBuffered: number,
    private readonly log: Logger,
  ) {
    this.id = `ws-${++WsConnection.next}`;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  notify(method: string, params: unknown): boolean {
    let text: string;
    try {
      text = `{"jsonrpc":"2.0","method":${toJson(method)},"params":${toJson(params)}}`;
    } catch (e) {
      this.log.error({ err: e, method }, "Notification is not JSON");
      return false;
    }
    return this.send(text);
  }

  /** Sends one message; cuts off a client that has not read what was sent before. */
  send(text: string): boolean {
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) return false;
    // Checked before sending, so memory per client stays under the limit plus one message.
    const buffered = this.socket.bufferedAmount;
    if (buffered > this.maxBuffered) {
      this.log.info({ connection: this.id, bufferedBytes: buffered }, "Disconnecting a WebSocket client too slow to read");
      this.socket.terminate();
      this.markClosed();
      return false;
    }
    try {
      this.socket.send(text);
      return true;
    } catch (e) {
      this.log.debug({ err: e, connection: this.id }, "WebSocket send failed");
      return false;
    }
  }

  onClose(fn: () => void): void {
    if (this.closed) this.runSafely(fn);
    else this.closeFns.push(fn);
  }

  /** Marks the connection closed and runs the close callbacks, once. */
  markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const fns = this.closeFns;
    this.closeFns = [];
    for (const fn of fns) this.runSafely(fn);
  }

  private runSafely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.error({ err: e, connection: this.id }, "WebSocket close callback failed");
    }
  }
}

/**
 * The JSON-RPC 2.0 server: POST / over HTTP and WebSocket upgrade at / on one port (as anvil and
 * hardhat serve), batches, notifications, limits, CORS, and GET /metrics when given metrics text.
 */
export class RpcServer {
  private readonly opts: RpcServerOptions;
  private readonly log: Logger;
  private app: FastifyInstance | null = null;
  private starting: Promise<void> | null = null;
  private stopping = false;
  /** Method calls running now (all clients). */
  private inFlight = 0;
  /** Resolved when inFlight reaches 0 (stop waits for running calls). */
  private readonly drained: (() => void)[] = [];
  private boundPort: number;
  private readonly connections = new Set<WsConnection>();
  /** corsOrigins as browsers spell origins. */
  private readonly allowedOrigins: Set<string>;
  private pingTimer: NodeJS.Timeout | null = null;

  constructor(
    opts: Partial<RpcServerOptions>,
    private readonly modules: RpcServerModules,
  ) {
    this.opts = { ...defaultRpcServerOptions, ...opts };
    this.allowedOrigins = new Set(this.opts.corsOrigins.map(normalizeOrigin));
    this.log = modules.logger ?? pino({ level: "silent" });
    this.boundPort = this.opts.port;
  }

  /** The HTTP address, `http://host:port/`. */
  get url(): string {
    return `http://${this.hostForUrl()}:${this.boundPort}/`;
  }

  /** The WebSocket address, `ws://host:port/`. */
  get wsUrl(): string {
    return `ws://${this.hostForUrl()}:${this.boundPort}/`;
  }

  /** The port listened on (the one picked when started with port 0). */
  get port(): number {
    return this.boundPort;
  }

  /** Listens on host:port; resolves once bound. */
  start(): Promise<void> {
    this.starting ??= this.listen().catch((e: unknown) => {
      this.starting = null;
      throw e;
    });
    return this.starting;
  }

  private async listen(): Promise<void> {
    const app = this.build();
    try {
      await app.listen({ host: this.opts.host, port: this.opts.port });
    } catch (e) {
      await app.close().catch(() => undefined);
      throw e;
    }
    this.app = app;
    this.boundPort = (app.server.address() as AddressInfo).port;
    this.pingTimer = setInterval(this.pingAll, this.opts.wsPingIntervalMs);
    this.pingTimer.unref();
    this.log.info({ url: this.url, ws: this.wsUrl }, "JSON-RPC listening");
  }

  /** Closes every WebSocket (cutting off those that do not answer the close), then the server. */
  async stop(): Promise<void> {
    if (!this.starting) return;
    const starting = this.starting;
    this.starting = null;
    await starting.catch(() => undefined);
    const app = this.app;
    if (!app) return;
    this.app = null;
    this.stopping = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    try {
      // calls already running finish (up to 5 s) before the node closes what they read
      if (this.inFlight > 0) {
        await Promise.race([new Promise<void>((resolve) => this.drained.push(resolve)), new Promise((r) => setTimeout(r, 5000).unref())]);
      }
      await this.closeAll(app);
    } finally {
      this.stopping = false;
    }
  }

  /** Pings every WebSocket client, first cutting off those that did not answer the last ping (a vanished peer). */
  private readonly pingAll = (): void => {
    for (const c of this.connections) {
      // a client the server stopped reading (too many messages pending) cannot be heard answering;
      // it gets a fresh ping once it is read again
      if (c.socket.isPaused) {
        c.answeredPing = true;
        continue;
      }
      if (!c.answeredPing) {
        this.log.debug({ connection: c.id }, "Disconnecting a WebSocket client that did not answer a ping");
        c.socket.terminate();
        c.markClosed();
        continue;
      }
      c.answeredPing = false;
      try {
        c.socket.ping();
      } catch (e) {
        this.log.debug({ err: e, connection: c.id }, "WebSocket ping failed");
      }
    }
  };

  private async closeAll(app: FastifyInstance): Promise<void> {
    const open = [...this.connections];
    await Promise.all(
      open.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.socket.readyState === WebSocket.CLOSED) return resolve();
            const timer = setTimeout(() => {
              c.socket.terminate();
              resolve();
            }, WS_CLOSE_GRACE_MS);
            c.socket.once("close", () => {
              clearTimeout(timer);
              resolve();
            });
            try {
              c.socket.close(1001, "server stopping");
            } catch {
              c.socket.terminate();
            }
          }),
      ),
    );
    for (const c of open) c.markClosed();
    // In-flight HTTP calls get a moment to finish; a client trickling a request in does not hold stop().
    const cutOff = setTimeout(() => app.server.closeAllConnections(), HTTP_CLOSE_GRACE_MS);
    try {
      await app.close();
    } finally {
      clearTimeout(cutOff);
    }
  }

  private hostForUrl(): string {
    return this.opts.host.includes(":") ? `[${this.opts.host}]` : this.opts.host;
  }

  private build(): FastifyInstance {
    const { opts } = this;
    const app = fastify({
      logger: false,
      bodyLimit: opts.maxBodyBytes,
      // A client that trickles a request in (slow loris) does not hold a connection for ever: the
      // headers and the body must both arrive within requestTimeoutMs. Node checks the deadline
      // every connectionsCheckingInterval (30 s by default, which would double the time allowed).
      requestTimeout: opts.requestTimeoutMs,
      // A client that stops reading (its answer queued in memory for ever) is cut off; ws turns
      // this off for WebSocket connections, which have their pings.
      connectionTimeout: opts.idleTimeoutMs,
      http: {
        requestTimeout: opts.requestTimeoutMs,
        headersTimeout: opts.requestTimeoutMs,
        connectionsCheckingInterval: Math.min(5000, Math.max(50, Math.floor(opts.requestTimeoutMs / 4))),
      },
    });
    app.server.maxConnections = opts.maxConnections;

    // Bodies are parsed here, not by fastify, so a bad one is answered with -32700 in JSON-RPC form.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(JSON_CONTENT_TYPES, { parseAs: "string", bodyLimit: opts.maxBodyBytes }, (_req, body, done) => {
      done(null, body);
    });

    app.setErrorHandler((err: FastifyError, _req: FastifyRequest, reply: FastifyReply) => {
      const status = err.statusCode ?? 500;
      let error: RpcError;
      if (status === 413) {
        error = new RpcError(
          RpcErrorCode.LIMIT_EXCEEDED,
          `request body exceeds the limit of ${opts.maxBodyBytes} bytes`,
        );
      } else if (status === 415) {
        error = new RpcError(RpcErrorCode.INVALID_REQUEST, `invalid request: content type must be ${JSON_CONTENT_TYPES.join(", ")}`);
      } else if (status >= 400 && status < 500) {
        error = new RpcError(RpcErrorCode.INVALID_REQUEST, `invalid request: ${err.message}`);
      } else {
        this.log.error({ err }, "HTTP request failed");
        error = new RpcError(RpcErrorCode.INTERNAL_ERROR, "internal error");
      }
      sendError(reply, status >= 400 ? status : 500, error);
    });

    app.register(fastifyWebsocket, {
      options: { maxPayload: opts.maxWsFrameBytes, perMessageDeflate: false },
      errorHandler: (err, socket) => {
        // ws has already sent the close frame for protocol errors (1009 too big, 1007 bad UTF-8).
        this.log.debug({ err }, "WebSocket error");
        if (socket.readyState === WebSocket.OPEN) socket.terminate();
      },
    });

    // After the WebSocket plugin's own hooks, so a refused upgrade request is marked as one and its
    // socket is destroyed once the refusal is written.
    app.addHook("onRequest", (req, reply, done) => this.checkOrigin(req, reply, done));
    app.addHook("onRequest", (req, reply, done) => {
      if (req.headers.upgrade?.toLowerCase() !== "websocket" || this.connections.size < opts.maxWsConnections) return done();
      sendError(reply, 503, new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `too many WebSocket connections: at most ${opts.maxWsConnections}`));
    });

    // A compressed body would reach the JSON parser as binary and be answered -32700 quoting it.
    app.addHook("onRequest", (req, reply, done) => {
      const encoding = req.headers["content-encoding"]?.trim().toLowerCase();
      if (encoding === undefined || encoding === "" || encoding === "identity") return done();
      sendError(reply, 415, new RpcError(RpcErrorCode.INVALID_REQUEST, "invalid request: content encodings are not supported, send the body uncompressed"));
    });

    // Other paths and methods are answered in JSON-RPC form too (fastify's own 404 quotes the URL).
    app.setNotFoundHandler((req, reply) => {
      const onRoot = req.url === "/" || req.url.startsWith("/?");
      if (onRoot && req.method === "OPTIONS") return reply.code(204).header("allow", "GET, POST, OPTIONS").send();
      const error = onRoot
        ? new RpcError(RpcErrorCode.INVALID_REQUEST, `invalid request: method ${quote(req.method)} not allowed, POST JSON-RPC to /`)
        : new RpcError(RpcErrorCode.INVALID_REQUEST, "invalid request: no such path, POST JSON-RPC to /");
      if (onRoot) void reply.header("allow", "GET, POST, OPTIONS");
      sendError(reply, onRoot ? 405 : 404, error);
    });

    app.register(async (scope) => {
      scope.route({
        method: "GET",
        url: "/",
        handler: async (_req, reply) =>
          reply.type(JSON_TYPE).send(
            toJson({ name: "VS1984 node JSON-RPC", http: `POST JSON-RPC 2.0 requests to ${this.url}`, websocket: this.wsUrl }),
          ),
        wsHandler: (socket) => this.onWebSocket(socket),
      });

      scope.post("/", async (req, reply) => {
        const body = typeof req.body === "string" ? req.body : "";
        const answer = await this.handleText(body, null);
        if (answer === null) return reply.code(204).send();
        return reply.code(200).type(JSON_TYPE).send(answer);
      });

      const metricsText = this.modules.metricsText;
      if (metricsText) {
        scope.get("/metrics", async (_req, reply) => {
          try {
            const text = await metricsText();
            return reply.type("text/plain; version=0.0.4; charset=utf-8").send(text);
          } catch (e) {
            this.log.error({ err: e }, "Metrics text failed");
            return reply.code(500).type("text/plain").send("metrics unavailable\n");
          }
        });
      }
    });
    return app;
  }

  /**
   * CORS, and the Origin check that keeps web pages off the node: a request from a browser page
   * (it carries Origin) is refused unless its origin is allowed, for HTTP and WebSocket alike.
   */
  private checkOrigin(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const origin = req.headers.origin;
    if (origin === undefined) return done();
    const allowAny = this.allowedOrigins.has("*");
    if (!allowAny && !this.allowedOrigins.has(normalizeOrigin(origin))) {
      sendError(reply, 403, new RpcError(RpcErrorCode.INVALID_REQUEST, `origin ${quote(origin)} is not allowed`));
      return;
    }
    void reply.header("access-control-allow-origin", allowAny ? "*" : origin);
    if (!allowAny) void reply.header("vary", "Origin");
    if (req.method === "OPTIONS") {
      const requested = req.headers["access-control-request-headers"];
      // Chromium's Private Network Access: a page on a public address asks before reaching 127.0.0.1;
      // an origin the operator listed may.
      if (req.headers["access-control-request-private-network"] === "true") {
        void reply.header("access-control-allow-private-network", "true");
      }
      void reply
        .code(204)
        .header("access-control-allow-methods", "POST, GET, OPTIONS")
        .header("access-control-allow-headers", typeof requested === "string" ? requested : "content-type")
        .header("access-control-max-age", "600")
        .send();
      return;
    }
    done();
  }

  private onWebSocket(socket: WebSocket): void {
    if (this.stopping) {
      // stop() has already closed the connections it knew of
      socket.terminate();
      return;
    }
    const conn = new WsConnection(socket, this.opts.maxWsBufferedBytes, this.log);
    this.connections.add(conn);
    this.countConnection(1);
    this.log.debug({ connection: conn.id }, "WebSocket connected");
    socket.on("pong", () => {
      conn.answeredPing = true;
    });
    // A client sending faster than its messages are answered gets at most maxWsPendingMessages of
    // them running; the server then stops reading from it (TCP pushes back on the client), so one
    // connection neither takes every call slot nor piles up parsed messages. The few messages ws
    // had already read wait in `queued`.
    const queued: RawData[] = [];
    let running = 0;
    const run = (data: RawData): void => {
      running++;
      this.handleText(rawToString(data), conn)
        .then(
          (answer) => {
            if (answer !== null) conn.send(answer);
          },
          (e: unknown) => this.log.error({ err: e }, "WebSocket message failed"),
        )
        .finally(() => {
          running--;
          const next = conn.isClosed ? undefined : queued.shift();
          if (next !== undefined) run(next);
          else if (socket.isPaused) socket.resume();
        });
    };
    socket.on("message", (data) => {
      if (conn.isClosed) return;
      if (running < this.opts.maxWsPendingMessages) return run(data);
      queued.push(data);
      socket.pause();
    });
    socket.on("close", () => {
      this.connections.delete(conn);
      this.countConnection(-1);
      conn.markClosed();
      this.log.debug({ connection: conn.id }, "WebSocket closed");
    });
  }

  private countConnection(delta: number): void {
    try {
      this.modules.metrics?.connections?.(delta);
    } catch (e) {
      this.log.error({ err: e }, "RPC connection metric failed");
    }
  }

  /** Answers one HTTP body or WebSocket message: the JSON text to send back, or null for none. */
  private async handleText(text: string, connection: WsConnection | null): Promise<string | null> {
    if (nestedDeeperThan(text, this.opts.maxJsonDepth)) {
      return errorAnswer(
        null,
        new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `request nested deeper than the limit of ${this.opts.maxJsonDepth} levels`),
      );
    }
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch (e) {
      const reason = text.length === 0 ? "empty request" : e instanceof Error ? e.message : "invalid JSON";
      return errorAnswer(null, new RpcError(RpcErrorCode.PARSE_ERROR, `parse error: ${reason}`));
    }
    if (!Array.isArray(message)) return this.handleCall(message, connection);
    if (message.length === 0) {
      return errorAnswer(null, new RpcError(RpcErrorCode.INVALID_REQUEST, "invalid request: empty batch"));
    }
    if (message.length > this.opts.maxBatch) {
      return errorAnswer(
        null,
        new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `batch of ${message.length} calls exceeds the limit of ${this.opts.maxBatch}`),
      );
    }
    // A few calls at a time, answers in request order; once the answers together pass
    // maxResponseBytes the rest are refused, so one small request cannot make the node hold gigabytes.
    const sent: string[] = [];
    let bytes = 0;
    for (let i = 0; i < message.length; i += this.opts.batchConcurrency) {
      const chunk = message.slice(i, i + this.opts.batchConcurrency) as unknown[];
      const answers =
        bytes > this.opts.maxResponseBytes
          ? chunk.map((m) => this.tooLarge(m))
          : await Promise.all(chunk.map((m) => this.handleCall(m, connection)));
      for (let j = 0; j < answers.length; j++) {
        let a = answers[j]!;
        if (a === null) continue;
        if (bytes + a.length > this.opts.maxResponseBytes) a = this.tooLarge(chunk[j]) ?? a;
        bytes += a.length;
        sent.push(a);
      }
    }
    return sent.length === 0 ? null : `[${sent.join(",")}]`;
  }

  /** The -32005 answer for a batch call past the response budget (null for a notification). */
  private tooLarge(request: unknown): string | null {
    const req = typeof request === "object" && request !== null ? (request as Record<string, unknown>) : {};
    if (!Object.hasOwn(req, "id")) return null;
    const id = isJsonRpcId(req.id) ? req.id : null;
    return errorAnswer(
      id,
      new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `response too large: the answers of this batch exceed ${this.opts.maxResponseBytes} bytes`),
    );
  }

  /** Answers one request object: its JSON answer, or null for a notification. */
  private async handleCall(request: unknown, connection: WsConnection | null): Promise<string | null> {
    if (typeof request !== "object" || request === null || Array.isArray(request)) {
      return errorAnswer(null, new RpcError(RpcErrorCode.INVALID_REQUEST, "invalid request: expected a JSON-RPC request object"));
    }
    const req = request as Record<string, unknown>;
    const isNotification = !Object.hasOwn(req, "id");
    if (!isNotification && !isJsonRpcId(req.id)) {
      return errorAnswer(null, new RpcError(RpcErrorCode.INVALID_REQUEST, "invalid request: id must be a string, a number or null"));
    }
    const id = isNotification ? null : (req.id as JsonRpcId);
    if (req.jsonrpc !== "2.0") {
      return errorAnswer(id, new RpcError(RpcErrorCode.INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"'));
    }
    if (typeof req.method !== "string") {
      return errorAnswer(id, new RpcError(RpcErrorCode.INVALID_REQUEST, "invalid request: method must be a string"));
    }
    const params = req.params;
    if (params !== undefined && params !== null && typeof params !== "object") {
      return errorAnswer(id, new RpcError(RpcErrorCode.INVALID_REQUEST, "invalid request: params must be an array or an object"));
    }

    const name = req.method;
    const method = this.modules.registry.get(name);
    const started = performance.now();
    let ok = false;
    let answer: string | null;
    let running = false;
    try {
      if (!method) {
        throw new RpcError(RpcErrorCode.METHOD_NOT_FOUND, `the method ${quote(name)} does not exist/is not available`);
      }
      if (this.stopping) throw new RpcError(RpcErrorCode.SERVER_ERROR, "the node is shutting down");
      if (this.inFlight >= this.opts.maxCallsInFlight) {
        throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `server busy: ${this.inFlight} calls in flight, try again`);
      }
      this.inFlight++;
      running = true;
      const result = await method.call(params ?? undefined, { connection });
      let json: string;
      try {
        json = toJson(result);
      } catch (e) {
        const what = e instanceof NotJsonError ? e.message : "a value JSON cannot encode";
        this.log.error({ err: e, method: name }, "RPC method returned a result that is not JSON");
        throw new RpcError(RpcErrorCode.INTERNAL_ERROR, `internal error: ${name} returned ${what}`);
      }
      ok = true;
      answer = isNotification ? null : `{"jsonrpc":"2.0","id":${toJson(id)},"result":${json}}`;
    } catch (e) {
      const error = toRpcError(e);
      if (error.code === RpcErrorCode.INTERNAL_ERROR && !(e instanceof RpcError)) {
        this.log.error({ err: e, method: name }, "RPC method failed");
      } else {
        this.log.debug({ method: method ? name : UNKNOWN_METHOD_LABEL, code: error.code, reason: error.message }, "RPC call refused");
      }
      answer = isNotification ? null : errorAnswer(id, error);
    }
    if (running) {
      this.inFlight--;
      if (this.inFlight === 0) for (const resolve of this.drained.splice(0)) resolve();
    }
    try {
      this.modules.metrics?.observeCall(method ? name : UNKNOWN_METHOD_LABEL, (performance.now() - started) / 1000, ok);
    } catch (e) {
      this.log.error({ err: e }, "RPC call metric failed");
    }
    return answer;
  }
}
