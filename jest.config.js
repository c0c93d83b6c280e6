/** Jest runs the TypeScript sources as ESM through ts-jest; type checking is `tsc --noEmit`. */
export default {
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: { "^.+\\.ts$": ["ts-jest", { useESM: true, diagnostics: false }] },
  setupFiles: ["<rootDir>/test/setup.ts"],
  testEnvironment: "node",
  testTimeout: 60000,
};
