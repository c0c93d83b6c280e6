import type { Connection, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { lpStream } from "@libp2p/utils";
import { NodeError, isNodeError } from "../chain/index.js";
import type { Host } from "./host.js";
import { MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, WireErrorCode } from "./messages.js";

/** Protocol id of a VS1984 request/response protocol: `/vs1984/<name>/1`. */
export function protocolId(name: string, version = 1): string {
  return `/vs1984/${name}/${version}`;
}

/** Codes of failed requests. */
export const RequestErrorCode = {
  /** The remote answered with an error frame (its message is in the error's text). */
  REMOTE: "P2P_REMOTE_ERROR",
  TIMEOUT: "P2P_TIMEOUT",
  /** Dial, stream or framing failure. */
  TRANSPORT: "P2P_TRANSPORT",
} as const;
/** One of RequestErrorCode. */
export type RequestErrorCode = (typeof RequestErrorCode)[keyof typeof RequestErrorCode];

/** A request to a peer that did not bring an answer. */
export class RequestError extends NodeError<{ code: RequestErrorCode; protocol: string }> {}

/** Answers one request of a protocol; a thrown WireError means the request was malformed. */
export type RequestHandler = (peerId: string, request: Uint8Array) => Promise<Uint8Array>;

/** Options of a protocol. */
export interface ProtocolOptions {
  maxRequestBytes: number;
  maxResponseBytes: number;
}

/** Options of the request/response service. */
export interface ReqRespOptions {
  /** Time for a whole exchange (dial, request, answer). */
  timeoutMs: number;
  /** Streams of one protocol a peer may have open with us at once. */
  maxInboundStreams: number;
}

/** Default request/response options. */
export const defaultReqRespOptions: ReqRespOptions = { timeoutMs: 10_000, maxInboundStreams: 8 };

/** What the service reports about peers. */
export interface ReqRespModules {
  host: Host;
  /** True if the peer may make one more request of this protocol now (flood control). */
  allowRequest: (peerId: string, protocol: string) => boolean;
  /** The peer sent a frame that does not decode, is too large, or floods us. */
  onMisbehaviour: (peerId: string, reason: string) => void;
  onError?: (e: unknown) => void;
}

const STATUS_OK = 0;
const STATUS_ERROR = 1;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * Request/response over libp2p streams: one stream per exchange, the request as one
 * length-prefixed frame, the answer as one length-prefixed frame that starts with a status byte
 * (0 = ok and the payload follows, 1 = error and a UTF-8 reason follows). Frame sizes are capped
 * per protocol on both sides; each exchange has a deadline.
 */
export class ReqResp {
  private readonly opts: ReqRespOptions;
  private readonly protocols = new Map<string, ProtocolOptions>();

  constructor(
    opts: Partial<ReqRespOptions>,
    private readonly modules: ReqRespModules,
  ) {
    this.opts = { ...defaultReqRespOptions, ...opts };
  }

  /** Registers the handler of protocol `name` (call after the host started). */
  async register(name: string, handler: RequestHandler, opts: Partial<ProtocolOptions> = {}): Promise<void> {
    const protocol = protocolId(name);
    const limits = { maxRequestBytes: MAX_REQUEST_BYTES, maxResponseBytes: MAX_RESPONSE_BYTES, ...opts };
    this.protocols.set(name, limits);
    await this.modules.host.handle(
      protocol,
      (stream: Stream, connection: Connection) => {
        void this.serve(protocol, limits, handler, stream, connection.remotePeer.toString());
      },
      { maxInboundStreams: this.opts.maxInboundStreams, maxOutboundStreams: this.opts.maxInboundStreams },
    );
  }

  private async serve(protocol: string, limits: ProtocolOptions, handler: RequestHandler, stream: Stream, peer: string): Promise<void> {
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    // the length prefix is checked before any byte of the frame is buffered
    const lp = lpStream(stream, { maxDataLength: limits.maxRequestBytes });
    try {
      if (!this.modules.allowRequest(peer, protocol)) {
        this.modules.onMisbehaviour(peer, `request flood on ${protocol}`);
        await lp.write(errorFrame("too many requests"), { signal });
        await stream.close({ signal });
        return;
      }
      let request: Uint8Array;
      try {
        request = (await lp.read({ signal })).subarray();
      } catch (e) {
        if (signal.aborted) return stream.abort(new Error("request timed out"));
        this.modules.onMisbehaviour(peer, `unreadable request on ${protocol}: ${(e as Error).message}`);
        return stream.abort(e as Error);
      }
      let answer: Uint8Array;
      try {
        const payload = await handler(peer, request);
        answer = new Uint8Array(payload.length + 1);
        answer[0] = STATUS_OK;
        answer.set(payload, 1);
      } catch (e) {
        if (isNodeError(e) && (e.code === WireErrorCode.MALFORMED || e.code === WireErrorCode.TOO_LARGE)) {
          this.modules.onMisbehaviour(peer, `${protocol}: ${e.message}`);
        } else if (!isNodeError(e)) {
          this.modules.onError?.(e); // a refusal with a code is an answer; anything else is our bug
        }
        answer = errorFrame(isNodeError(e) ? e.message : "internal error");
      }
      await lp.write(answer, { signal });
      await stream.close({ signal });
    } catch (e) {
      stream.abort(e as Error);
    }
  }

  /** Sends `request` to `peerId` over protocol `name` and returns the answer's payload; throws RequestError. */
  async request(peerId: string | PeerId, name: string, request: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const protocol = protocolId(name);
    const limits = this.protocols.get(name) ?? { maxRequestBytes: MAX_REQUEST_BYTES, maxResponseBytes: MAX_RESPONSE_BYTES };
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const all = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const peer = typeof peerId === "string" ? peerIdFromString(peerId) : peerId;
    let stream: Stream | undefined;
    try {
      stream = await this.modules.host.dialProtocol(peer, protocol, { signal: all });
      const lp = lpStream(stream, { maxDataLength: limits.maxResponseBytes + 1, maxBufferSize: limits.maxResponseBytes + 64 * 1024 });
      await lp.write(request, { signal: all });
      const answer = (await lp.read({ signal: all })).subarray();
      await stream.close({ signal: all }).catch(() => undefined);
      if (answer.length === 0) throw new RequestError({ code: RequestErrorCode.TRANSPORT, protocol }, `${protocol}: empty answer`);
      if (answer[0] === STATUS_OK) return answer.subarray(1);
      const reason = textDecoder.decode(answer.subarray(1));
      throw new RequestError({ code: RequestErrorCode.REMOTE, protocol }, `${protocol}: peer answered with an error: ${reason}`);
    } catch (e) {
      stream?.abort(e as Error);
      if (e instanceof RequestError) throw e;
      if (timeout.aborted) throw new RequestError({ code: RequestErrorCode.TIMEOUT, protocol }, `${protocol}: no answer within ${this.opts.timeoutMs} ms`);
      throw new RequestError({ code: RequestErrorCode.TRANSPORT, protocol }, `${protocol}: ${(e as Error).message}`);
    }
  }
}

function errorFrame(reason: string): Uint8Array {
  const text = textEncoder.encode(reason.slice(0, 200));
  const frame = new Uint8Array(text.length + 1);
  frame[0] = STATUS_ERROR;
  frame.set(text, 1);
  return frame;
}
