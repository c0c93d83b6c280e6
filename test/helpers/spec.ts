import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import { parse } from "yaml";

// Validates JSON-RPC results against the vendored Ethereum execution-apis definitions
// (test/fixtures/execution-apis): eth/*.yaml hold OpenRPC method lists, schemas/*.yaml hold the
// named schemas that `$ref: '#/components/schemas/NAME'` points to.

const ROOT = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "../fixtures/execution-apis");
const COMPONENTS_ID = "execution-apis";

interface OpenRpcMethod {
  name: string;
  result?: { schema?: unknown };
}

function yamlFiles(dir: string): unknown[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => parse(readFileSync(join(dir, f), "utf8")) as unknown);
}

/** Rewrites document-local refs (`#/components/...`) to point into the shared components schema. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (typeof schema !== "object" || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === "$ref" && typeof v === "string" && v.startsWith("#/") ? `${COMPONENTS_ID}${v}` : rebase(v);
  }
  return out;
}

/**
 * The execution-apis write "a list of hashes or a list of logs" (FilterResults) as a `oneOf` of two
 * array schemas, which an empty list matches twice and so fails; the intent is "any one of these
 * kinds of list". A `oneOf` whose every branch is an array is read as `anyOf`; nothing else changes.
 */
function relaxArrayOneOf(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(relaxArrayOneOf);
  if (typeof schema !== "object" || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = relaxArrayOneOf(v);
  const branches = out.oneOf;
  if (Array.isArray(branches) && branches.every((b) => (b as { type?: unknown } | null)?.type === "array")) {
    out.anyOf = branches;
    delete out.oneOf;
  }
  return out;
}

let loaded: { ajv: Ajv; methods: Map<string, unknown>; validators: Map<string, ValidateFunction> } | null = null;

function load(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  const schemas: Record<string, unknown> = {};
  for (const doc of yamlFiles(join(ROOT, "schemas"))) Object.assign(schemas, doc);
  const methods = new Map<string, unknown>();
  for (const doc of yamlFiles(join(ROOT, "eth"))) {
    for (const m of doc as OpenRpcMethod[]) if (m.result?.schema !== undefined) methods.set(m.name, m.result.schema);
  }
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema({ $id: COMPONENTS_ID, components: { schemas: relaxArrayOneOf(schemas) } });
  loaded = { ajv, methods, validators: new Map() };
  return loaded;
}

/** True when the execution-apis define a result schema for `method`. */
export function hasSpec(method: string): boolean {
  return load().methods.has(method);
}

/** Throws (failing the test) unless `result` validates against `method`'s execution-apis result schema. */
export function expectValidResult(method: string, result: unknown): void {
  const spec = load();
  let validate = spec.validators.get(method);
  if (!validate) {
    const schema = spec.methods.get(method);
    if (schema === undefined) throw new Error(`the execution-apis define no result for ${method}`);
    validate = spec.ajv.compile(relaxArrayOneOf(rebase(schema)) as object);
    spec.validators.set(method, validate);
  }
  if (!validate(result)) {
    const errors = (validate.errors ?? []).map((e) => `${e.instancePath || "(result)"} ${e.message ?? ""} ${JSON.stringify(e.params)}`);
    throw new Error(`${method} result does not match the execution-apis schema:\n  ${errors.slice(0, 20).join("\n  ")}\nresult: ${JSON.stringify(result).slice(0, 2000)}`);
  }
}
