#!/usr/bin/env node
// The `vs1984` command: runs the TypeScript entry point through tsx (no build step).
import { register } from "tsx/esm/api";
register();
await import("../node/main.ts");
