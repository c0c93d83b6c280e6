import { defineMethod, type JsonSchema, type MethodRegistry, type RpcMethod } from "./rpcMethod.js";

/** The OpenRPC meta-schema a `rpc.discover` result conforms to (OpenRPC service discovery). */
const OPENRPC_META_SCHEMA = "https://raw.githubusercontent.com/open-rpc/meta-schema/master/schema.json";

/** One method as the OpenRPC document describes it. */
export interface OpenRpcMethod {
  name: string;
  summary: string;
  paramStructure: "by-position";
  params: { name: string; required: boolean; schema: JsonSchema }[];
  result: { name: string; schema: JsonSchema };
}

/** An OpenRPC 1.2 document of the node's methods. */
export interface OpenRpcDocument {
  openrpc: "1.2.6";
  info: { title: string; version: string };
  methods: OpenRpcMethod[];
}

/** The OpenRPC document of every method in the registry at the time of the call (itself included). */
export function openRpcDocument(registry: MethodRegistry, info: { version: string }): OpenRpcDocument {
  return {
    openrpc: "1.2.6",
    info: { title: "VS1984 node JSON-RPC", version: info.version },
    methods: registry.list().map((m) => ({
      name: m.name,
      summary: m.summary,
      paramStructure: "by-position",
      params: m.params.map((p) => ({ name: p.name, required: !p.optional, schema: p.schema })),
      result: { name: m.result.name, schema: m.result.schema },
    })),
  };
}

/** `rpc.discover`: the OpenRPC document of every method the registry serves; register it in that registry. */
export function discoverMethod(registry: MethodRegistry, info: { version: string }): RpcMethod {
  return defineMethod({
    name: "rpc.discover",
    summary: "Returns the OpenRPC document of every method this node serves.",
    params: [],
    result: { name: "OpenRPC Schema", schema: { $ref: OPENRPC_META_SCHEMA } },
    // Built at each call, so methods registered after this one are listed too.
    handler: () => openRpcDocument(registry, info),
  });
}
