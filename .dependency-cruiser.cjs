/**
 * The architecture as a rule (docs/architecture.md): folders are layers, and a file imports only
 * from its own layer or an earlier one; no cycle between files. `npm test` runs it (npm run deps).
 *   base → traces → policies → sim → hw → workflows → reports → cli → bin
 */
const layers = ["base", "traces", "policies", "sim", "hw", "workflows", "reports", "cli", "bin"]

const later = (i) => `^(${layers.slice(i + 1).join("|")})/`
module.exports = {
  forbidden: [
    ...layers.slice(0, -1).map((layer, i) => ({
      name: `${layer}-imports-later-layer`,
      comment: `${layer}/ may import only from ${layers.slice(0, i + 1).join(", ")} (${layers.join(" → ")})`,
      severity: "error",
      from: { path: `^${layer}/` },
      to: { path: later(i) }
    })),
    {
      name: "no-cycle",
      comment: "no file depends on itself through others",
      severity: "error",
      from: {},
      to: { circular: true }
    },
    {
      name: "no-tests-or-bench-in-product",
      comment: "product code never imports test or benchmark code",
      severity: "error",
      from: { pathNot: "^(test|bench)/" },
      to: { path: "^(test|bench)/" }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".mts", ".mjs", ".js", ".json"] }
  }
}
