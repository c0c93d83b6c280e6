import type { Hex } from "../types.js";
import { ContentRegistry } from "./contentRegistry.js";
import type { SystemModule } from "./systemModule.js";

/** The system modules of the chain, by reserved address. */
export class SystemModules {
  private readonly byAddress = new Map<Hex, SystemModule>();

  constructor(modules: readonly SystemModule[]) {
    for (const m of modules) {
      if (m.address !== m.address.toLowerCase()) throw new Error(`module ${m.name} address must be lowercase`);
      if (this.byAddress.has(m.address)) throw new Error(`two modules at ${m.address}`);
      this.byAddress.set(m.address, m);
    }
  }

  /** The module at `address` (lowercase), if any. */
  get(address: Hex): SystemModule | undefined {
    return this.byAddress.get(address);
  }

  /** Every module, in the order given. */
  list(): SystemModule[] {
    return [...this.byAddress.values()];
  }
}

/** The modules every node runs (a consensus rule: all nodes must run the same set). */
export function defaultSystemModules(): SystemModules {
  return new SystemModules([new ContentRegistry()]);
}
