import { RpcError, RpcErrorCode, invalidParam } from "./rpcError.js";

/** A JSON Schema fragment, used for the OpenRPC document (`rpc.discover`). */
export type JsonSchema = Record<string, unknown>;

/** A WebSocket connection as methods see it (HTTP calls have none). */
export interface RpcConnection {
  /** Unique per connection. */
  readonly id: string;
  /** Sends a JSON-RPC notification (subscriptions); false when the connection is closed or too slow. */
  notify(method: string, params: unknown): boolean;
  /** Called once when the connection closes (to drop its subscriptions and filters). */
  onClose(fn: () => void): void;
}

/** Per-call context handed to every method. */
export interface RpcCallContext {
  /** The WebSocket connection of the call, or null over HTTP. */
  connection: RpcConnection | null;
}

/** Validates and converts one positional parameter. */
export interface Param<T> {
  /** Name in the OpenRPC document and in error messages. */
  readonly name: string;
  readonly schema: JsonSchema;
  /** A missing (or null) optional parameter parses to `undefined`. */
  readonly optional: boolean;
  /** Converts the JSON value; throws a message (string) naming the problem. */
  parse(value: unknown): T;
}

type ParamValues<P extends readonly Param<unknown>[]> = { -readonly [K in keyof P]: P[K] extends Param<infer T> ? T : never };

/** A JSON-RPC method: name, validated parameters, result schema, handler. */
export interface RpcMethod {
  readonly name: string;
  readonly summary: string;
  readonly params: readonly Param<unknown>[];
  readonly result: { name: string; schema: JsonSchema };
  /** Validates raw params (array, or absent) and runs the handler. */
  call(rawParams: unknown, ctx: RpcCallContext): Promise<unknown>;
}

/** Declares a method with its parameter validators beside it; the handler gets typed, parsed arguments. */
export function defineMethod<const P extends readonly Param<unknown>[]>(def: {
  name: string;
  summary: string;
  params: P;
  result: { name: string; schema: JsonSchema };
  handler: (args: ParamValues<P>, ctx: RpcCallContext) => unknown;
}): RpcMethod {
  return {
    name: def.name,
    summary: def.summary,
    params: def.params,
    result: def.result,
    async call(rawParams: unknown, ctx: RpcCallContext): Promise<unknown> {
      const args = parseParams(def.params, rawParams);
      return def.handler(args as ParamValues<P>, ctx);
    },
  };
}

/** Checks arity and parses each positional parameter; errors name the argument. */
export function parseParams(params: readonly Param<unknown>[], raw: unknown): unknown[] {
  if (raw !== undefined && !Array.isArray(raw)) {
    throw new RpcError(RpcErrorCode.INVALID_PARAMS, "params must be an array of positional arguments");
  }
  const values = (raw ?? []) as unknown[];
  if (values.length > params.length) {
    throw new RpcError(RpcErrorCode.INVALID_PARAMS, `too many arguments, want at most ${params.length}`);
  }
  return params.map((p, i) => {
    const v = values[i];
    if (v === undefined || v === null) {
      if (p.optional) return undefined;
      throw new RpcError(RpcErrorCode.INVALID_PARAMS, `missing value for required argument ${i} (${p.name})`);
    }
    try {
      return p.parse(v);
    } catch (e) {
      if (e instanceof RpcError) throw e;
      throw invalidParam(i, e instanceof Error ? e.message : String(e));
    }
  });
}

/** The methods the server serves, by name. */
export class MethodRegistry {
  private readonly methods = new Map<string, RpcMethod>();

  /** Adds methods; a name registered twice is a programming error. */
  register(...methods: RpcMethod[]): this {
    for (const m of methods) {
      if (this.methods.has(m.name)) throw new Error(`RPC method ${m.name} registered twice`);
      this.methods.set(m.name, m);
    }
    return this;
  }

  /** The method of that name, if served. */
  get(name: string): RpcMethod | undefined {
    return this.methods.get(name);
  }

  /** Every served method, sorted by name. */
  list(): RpcMethod[] {
    return [...this.methods.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
