import { describe, expect, it } from "@jest/globals"
import { spawn, spawnSync } from "node:child_process"
import { existsSync, lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describeFailure } from "../cli/action.ts"
import { cli } from "./helpers/cli.ts"
import { repoRoot, tempDir } from "./helpers/fixtures.ts"

/** A tiny, valid vLLM-style trace (Mixtral shape: 32 layers, top-2) of `tokens` tokens. */
function tinyJsonl(dir: string, tokens = 3): string {
  const lines: string[] = []
  for (let t = 0; t < tokens; t++)
    for (let l = 0; l < 32; l++)
      lines.push(
        JSON.stringify({
          problem_id: 0,
          token_idx: t,
          layer: l,
          experts: [t % 8, (t + 1) % 8],
          gating_probs: [0.6, 0.4]
        })
      )
  const file = join(dir, "tiny.jsonl")
  writeFileSync(file, `${lines.join("\n")}\n`)
  return file
}
const sim = (trace: string, ...more: string[]) => [
  "simulate",
  "--trace",
  trace,
  "--model",
  "mixtral-8x7b",
  "--policy",
  "cache=lru",
  "--mode",
  "cache-only",
  "--cache-slots",
  "64",
  ...more
]
/** Exit code `code`, one line naming `named` on stderr. */
const failsWith = (r: { code: number; stderr: string }, code: number, named: RegExp) => {
  expect(r.code).toBe(code)
  expect(r.stderr).toMatch(named)
}

describe("every failure speaks: bad inputs through the real CLI", () => {
  const dir = tempDir("ef-cli-")
  const trace = tinyJsonl(dir)

  it("a folder, or an empty /dev/stdin, as --trace", () => {
    failsWith(cli(sim(dir)), 2, /is a folder, not a trace file/)
    const r = spawnSync(process.execPath, [join(repoRoot, "bin", "expertflow.js"), ...sim("/dev/stdin")], {
      input: "",
      encoding: "utf8"
    })
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/\/dev\/stdin/)
  })

  it("a missing --out folder, for simulate, sweep, report and trace import", () => {
    const missing = join(dir, "no-such-folder", "out")
    failsWith(cli(sim(trace, "--out", missing)), 2, /no-such-folder/)
    const sweep = join(dir, "s.json")
    writeFileSync(
      sweep,
      JSON.stringify({
        name: "s",
        mode: "cache-only",
        traces: [{ id: "t", path: trace, model: "mixtral-8x7b" }],
        hardware: ["h100-pcie"],
        policies: ["cache=lru"],
        cache: [{ slots: 64 }]
      })
    )
    failsWith(cli(["sweep", sweep, "--out", missing]), 2, /no-such-folder/)
    const results = join(dir, "r.jsonl")
    expect(cli(["sweep", sweep, "--out", results, "--workers", "1"]).code).toBe(0)
    failsWith(cli(["report", results, "--out", missing]), 2, /no-such-folder/)
    failsWith(cli(["trace", "import", trace, "--model", "mixtral-8x7b", "--out", missing]), 2, /no-such-folder/)
  })

  it("a missing or folder sweep file and report input", () => {
    failsWith(cli(["sweep", join(dir, "nope.json")]), 2, /nope\.json.*no such file/)
    failsWith(cli(["sweep", dir]), 2, /is a folder, not a file/)
    failsWith(cli(["report", join(dir, "nope.jsonl")]), 2, /nope\.jsonl.*no such file/)
    failsWith(cli(["report", dir]), 2, /is a folder, not a file/)
  })

  it("a corrupt check --baseline", () => {
    const bad = join(dir, "baseline.json")
    writeFileSync(bad, "{ not json")
    failsWith(cli(["check", "--baseline", bad]), 2, /baseline\.json.*\(json\)/)
  })

  it("validate --hw with a missing file is bad input; a preset id is accepted (then the GPU check speaks)", () => {
    const args = [
      "validate",
      "--trace",
      trace,
      "--model",
      "mixtral-8x7b",
      "--policy",
      "cache=lru",
      "--cache-slots",
      "8"
    ]
    failsWith(cli([...args, "--hw", join(dir, "nope.json")]), 2, /nope\.json/)
    const r = cli([...args, "--hw", "h100-sxm", "--out", join(dir, "v")])
    expect([0, 4]).toContain(r.code)
    if (r.code === 4) expect(r.stderr).toMatch(/^environment: the GPU path cannot run/m)
  })

  it("a sweep with a malformed trace or an impossible cache size fails before running and writes nothing", () => {
    const bad = join(dir, "bad.jsonl")
    writeFileSync(bad, '{"problem_id":0,"token_idx":0,"layer":0,"experts":[1,2],"gating_probs":[NaN,0.5]}\n')
    const sweep = join(dir, "bad-sweep.json")
    writeFileSync(
      sweep,
      JSON.stringify({
        name: "bad",
        mode: "cache-only",
        traces: [
          { id: "bad", path: bad, model: "mixtral-8x7b" },
          { id: "ok", path: trace, model: "mixtral-8x7b" }
        ],
        hardware: ["h100-pcie"],
        policies: ["cache=lru", "cache=lru,layout=per-layer"],
        cache: [{ slots: 1 }, { slots: 64 }]
      })
    )
    const out = join(dir, "bad-results.jsonl")
    const r = cli(["sweep", sweep, "--out", out])
    failsWith(r, 2, /weight NaN/)
    expect(r.stderr).toMatch(/impossible cache size: 1 slots/) // every problem at once
    expect(existsSync(out)).toBe(false)
  })

  it("inputs that should not be accepted: an empty JSONL, 1e9 slots, NaN and 1e999 weights, empty results", () => {
    const empty = join(dir, "empty.jsonl")
    writeFileSync(empty, "")
    failsWith(cli(sim(empty, "--trace-format", "vllm-jsonl")), 2, /empty/)
    failsWith(cli([...sim(trace).slice(0, -1), "1000000000"]), 2, /more than the model's 256 experts/)
    const huge = join(dir, "huge.jsonl")
    writeFileSync(huge, '{"problem_id":0,"token_idx":0,"layer":0,"experts":[1,2],"gating_probs":[1e999,0.5]}\n')
    failsWith(cli(sim(huge)), 2, /weight Infinity \(a number too large for a double/)
    failsWith(cli(["report", empty]), 2, /no result records/)
  })

  it("an internal error is exit 70, never a silent exit 1", () => {
    expect(describeFailure(new TypeError("x is undefined"))).toEqual({
      code: 70,
      line: "internal error: x is undefined (run again with --verbose for the stack)"
    })
  })
})

describe("writes respect their target", () => {
  const dir = tempDir("ef-out-")
  const trace = tinyJsonl(dir)
  it("/dev/null stays a device, a symlink stays a symlink, - is stdout", () => {
    expect(cli(sim(trace, "--out", "/dev/null")).code).toBe(0)
    expect(lstatSync("/dev/null").isCharacterDevice()).toBe(true)
    const target = join(dir, "target.json"),
      link = join(dir, "link.json")
    writeFileSync(target, "old")
    symlinkSync(target, link)
    expect(cli(sim(trace, "--out", link)).code).toBe(0)
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(JSON.parse(readFileSync(target, "utf8")).tool).toBe("expertflow")
    const r = cli(sim(trace, "--format", "json", "--out", "-"))
    expect(r.stdout.trim().split("\n")).toHaveLength(2) // the record twice: --out - and the result
  })

  it("trace gen killed mid-way leaves no temporary file", async () => {
    const out = join(dir, "big.eft")
    const child = spawn(process.execPath, [
      join(repoRoot, "bin", "expertflow.js"),
      ...["trace", "gen", "--preset", "deepseek-v3", "--tokens", "400000", "--seed", "1", "--out", out]
    ])
    const tmp = () => readdirSync(dir).filter((f) => f.endsWith(".tmp"))
    const started = Date.now()
    while (tmp().length === 0 && Date.now() - started < 30000) await new Promise((r) => setTimeout(r, 20))
    expect(tmp().length).toBe(1)
    child.kill("SIGTERM")
    const code = await new Promise<number | null>((r) => child.on("exit", (c, signal) => r(c ?? (signal ? 143 : null))))
    expect(code).toBe(143)
    expect(tmp()).toEqual([])
    expect(existsSync(out)).toBe(false)
  })
})
