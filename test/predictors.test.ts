import { describe, expect, it } from "@jest/globals"
import fc from "fast-check"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { spawnSync } from "node:child_process"
import { loadModel } from "../base/profiles.ts"
import { activationAwarePredictor } from "../policies/activationAware.ts"
import { hybridForestPredictor } from "../policies/hybridForest.ts"
import { crossFit } from "../policies/training.ts"
import { SharedBlocks } from "../policies/structures/sharedBlocks.ts"
import { countKernels, ROW_ALIGN_BYTES } from "../policies/structures/countKernels.ts"
import { TransitionTables, transitionPredictor } from "../policies/transition.ts"
import { actualSet, scoringPredictor } from "../policies/predictor.ts"
import { buildAccessStream } from "../traces/batching.ts"
import { generateTrace } from "../traces/generator.ts"
import { defaultParams, withLookahead } from "../traces/generatorParams.ts"
import { loadTrace } from "../traces/load.ts"
import { cli } from "./helpers/cli.ts"
import { repoRoot, tempDir, tinyTrace } from "./helpers/fixtures.ts"
import { activationAwarePredictorFull } from "./reference/activationAware.ts"

const ONNX = join(repoRoot, "policies", "onnx")
const MODEL = join(ONNX, "tiny-route-predictor.onnx")
const TRACE = join(ONNX, "tiny-trace.jsonl")
const PROFILE = join(ONNX, "tiny-model.json")

describe("EF-A's RandomForest hybrid (predictor=hybrid)", () => {
  const trace = generateTrace(withLookahead(defaultParams("qwen1.5-moe-a2.7b"), 4), {
    tokens: 240,
    requests: 4,
    seed: 5
  })
  const stream = buildAccessStream(trace, 2)
  const training = crossFit(stream, trace)
  const ctx = { stream, trace, traceName: "syn", top: 0, training, args: ["steps=48"] }

  it("never trains a fold's forest on the steps that fold predicts", () => {
    const p = hybridForestPredictor(ctx)
    expect(p.trainedSteps.length).toBe(2)
    p.trainedSteps.forEach((steps, fold) => {
      expect(steps.length).toBeGreaterThan(0)
      for (const { step } of steps) expect(training.foldOf(step)).not.toBe(fold)
    })
    expect(p.trainingRows.every((n) => n > 1)).toBe(true)
  })

  it("learns the same forest whatever the scored steps hold", () => {
    // Scramble the routes of the steps fold 0 predicts: its forest (trained on the other half) must not move.
    const scrambled = { ...trace, experts: trace.experts.slice() }
    const half = Math.floor(stream.steps / 2)
    const lastToken = stream.stepTokens[stream.stepTokenOffsets[half]! - 1]!
    const { layers: L, topK: K, experts: E } = trace.model
    for (let i = 0; i < (lastToken + 1) * L * K; i += K)
      for (let k = 0; k < K; k++) scrambled.experts[i + k] = (scrambled.experts[i + k]! * 7 + 3) % E
    const s2 = buildAccessStream(scrambled, 2)
    const a = hybridForestPredictor(ctx)
    const b = hybridForestPredictor({ ...ctx, stream: s2, trace: scrambled, training: crossFit(s2, scrambled) })
    expect(b.trainingRows[0]).toBe(a.trainingRows[0])
    let differs = false
    for (const row of [
      [0, 1, 0, 0, 0, 3],
      [4, 2, 6, 1, 0, 5],
      [8, 3, 12, 1, 0, 9],
      [2, 8, 2, 0, 0, 1]
    ]) {
      expect(b.correction(0, row)).toBe(a.correction(0, row))
      differs ||= b.correction(1, row) !== a.correction(1, row)
    }
    // Fold 1's forest did learn from the scrambled half: the check above can fail.
    expect(differs).toBe(true)
  })

  it("learns and predicts what it did before its training was reorganized (golden, from e4fc12f)", () => {
    // Training works out its features block by block and has the train-ahead thread count tables
    // (hybridForest.ts levelTransitions, countFromTop): the forest must be the one the per-query
    // order learned. Values printed by e4fc12f on this trace (it has pre-gate lookahead).
    const p = hybridForestPredictor({ ...ctx, trace: { ...trace } })
    expect(p.trainingRows).toEqual([388, 373])
    const rows = [
      [0, 1, 0, 0, 0, 3],
      [4, 2, 6, 1, 0, 5],
      [8, 3, 12, 1, 0, 9],
      [2, 8, 2, 0, 0, 1],
      [1, 1, 3, 1, 0, 2]
    ]
    const want = [
      [-0.049450547397500086, 0.44072826709894125, 0.17815681834999067, 0.2472238284169083, 0.398502552722502],
      [0.10571310630830777, 0.33045666575889715, -0.07360478180973162, 0.05267557104081525, 0.3769526504080895]
    ]
    expect([0, 1].map((fold) => rows.map((row) => p.correction(fold, row)))).toEqual(want)
    const out = new Uint16Array(60),
      picks: number[][] = []
    for (let s = 0; s < stream.steps; s += 11) picks.push(Array.from(out.subarray(0, p.predict(s, 6, s, 1, out))))
    expect(picks).toEqual([
      [55, 39, 2, 22, 10, 16, 0, 21],
      [55, 39, 16, 2, 22, 10, 0, 21],
      [55, 2, 22, 23, 32, 39, 10, 16],
      [55, 19, 35, 24, 39, 2, 22, 10],
      [55, 39, 0, 23, 35, 2, 22, 10],
      [55, 2, 16, 21, 41, 12, 39, 22],
      [55, 39, 2, 34, 22, 24, 41, 49],
      [55, 39, 45, 0, 11, 35, 2, 41],
      [55, 39, 45, 11, 2, 41, 14, 31],
      [55, 39, 21, 22, 0, 2, 41, 14],
      [55, 39, 2, 16, 22, 15, 41, 38]
    ])
  })

  it("is deterministic", () => {
    const a = hybridForestPredictor(ctx),
      b = hybridForestPredictor(ctx)
    const outA = new Uint16Array(60),
      outB = new Uint16Array(60)
    for (let s = 0; s < stream.steps; s += 7) {
      const nA = a.predict(s, 5, s, 2, outA),
        nB = b.predict(s, 5, s, 2, outB)
      expect(Array.from(outB.subarray(0, nB))).toEqual(Array.from(outA.subarray(0, nA)))
    }
  })
})

describe("MoE-Infinity EAM (predictor=eam)", () => {
  it("matches as the full float dot products over every library EAM did (fast-check)", () => {
    const L = 3,
      E = 5
    const layer = fc.option(
      fc
        .tuple(fc.integer({ min: 0, max: E - 1 }), fc.integer({ min: 1, max: E - 1 }))
        .map(([a, b]) => [a, (a + b) % E]),
      { freq: 6 }
    )
    const token = fc.tuple(fc.array(layer, { minLength: L, maxLength: L }), fc.integer({ min: 0, max: 4 }))
    fc.assert(
      fc.property(fc.array(token, { minLength: 2, maxLength: 60 }), fc.integer({ min: 1, max: 3 }), (tokens, batch) => {
        // Ungapped layers only: tinyTrace takes top-k from the first present layer.
        if (tokens.every(([r]) => r.every((x) => x === null))) return
        tokens.sort((x, y) => x[1] - y[1])
        const trace = tinyTrace(
          tokens.map(([r]) => r),
          E,
          tokens.map(([, q]) => q)
        )
        const stream = buildAccessStream(trace, batch)
        const ctx = { stream, trace, traceName: "t", top: 0, training: crossFit(stream, trace), args: [] }
        const now = activationAwarePredictor(ctx),
          before = activationAwarePredictorFull(ctx)
        const a = new Uint16Array(E),
          b = new Uint16Array(E)
        for (let s = 0; s < stream.steps; s++)
          for (let l = 0; l < L; l++) {
            const n = now.predict(s, l, s, 0, a)
            expect(Array.from(a.subarray(0, n))).toEqual(Array.from(b.subarray(0, before.predict(s, l, s, 0, b))))
          }
      }),
      { numRuns: 400, seed: 15 }
    )
  })
})

describe("row-sum kernel (WebAssembly SIMD)", () => {
  it("gives base + the added rows − the taken rows, modulo 2^32, in place or not (fast-check)", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })
    const { sumRows } = countKernels(memory)
    const u32 = new Uint32Array(memory.buffer)
    const ROWS = 8
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.nat(ROWS - 1), { maxLength: 12 }),
        fc.array(fc.nat(ROWS - 1), { maxLength: 12 }),
        fc.boolean(),
        fc.nat(),
        (chunks, adds, subs, inPlace, seed) => {
          const words = (chunks * ROW_ALIGN_BYTES) / 4
          // Rows 0..ROWS-1 at word r · words, the base after them, the out after it, then the row list.
          const base = ROWS * words,
            out = inPlace ? base : base + words,
            list = base + 2 * words
          let x = seed
          for (let i = 0; i < base + words; i++) u32[i] = x = (Math.imul(x, 1103515245) + 12345) >>> 0
          const want = Array.from({ length: words }, (_, j) => {
            let v = u32[base + j]!
            for (const r of adds) v += u32[r * words + j]!
            for (const r of subs) v -= u32[r * words + j]!
            return ((v % 2 ** 32) + 2 ** 32) % 2 ** 32 // exact in a double: |v| < 2^37
          })
          ;[...adds, ...subs].forEach((r, i) => {
            u32[list + i] = 4 * r * words
          })
          sumRows(4 * out, 4 * base, 4 * list, adds.length, 4 * (list + adds.length), subs.length, 4 * words)
          expect(Array.from(u32.subarray(out, out + words))).toEqual(want)
        }
      ),
      { numRuns: 200, seed: 7 }
    )
  })
})

describe("transition tables", () => {
  it("sum rows as counting the steps afresh: incremental, shared or not, by pairs or bitsets (fast-check)", () => {
    // A shared store's other table helps (help) and counts whole folds from the top (countFromTop).
    const L = 4,
      E = 11
    const token = fc.array(fc.integer({ min: 0, max: E - 1 }), { minLength: L, maxLength: L })
    const query = fc.tuple(fc.nat(), fc.integer({ min: 0, max: L - 1 }), fc.integer({ min: 1, max: 2 }))
    fc.assert(
      fc.property(
        fc.array(token, { minLength: 2, maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(query, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 4, max: E }),
        fc.boolean(),
        fc.nat(3),
        fc.constantFrom("cost" as const, "pairs" as const, "bitsets" as const),
        fc.integer({ min: -1, max: 30 }),
        (tokens, batch, queries, span, share, helps, countBy, topAt) => {
          // A narrow span of experts: consecutive steps share most of theirs (the incremental sums).
          const trace = tinyTrace(
            tokens.map((r) => r.map((e) => [e % span, (e + 3) % span])),
            E,
            tokens.map((_, i) => i % 6).sort()
          )
          const stream = buildAccessStream(trace, batch)
          const training = crossFit(stream, trace)
          const ctx = { stream, trace, traceName: "t", top: 0, training, args: [] }
          // Shared: another table on the same blocks (as another thread's would be) counts some of them first.
          const store = share ? TransitionTables.sharedStore(ctx, 2) : undefined
          const tables = new TransitionTables(store ? { ...ctx, sharedBlocks: store } : ctx, 2, countBy)
          const helper = store
            ? new TransitionTables({ ...ctx, sharedBlocks: SharedBlocks.attach(store.data) }, 2, countBy)
            : null
          for (const [qi, [q, l, d]] of queries.entries()) {
            for (let i = 0; i < helps; i++) helper?.help()
            if (qi === topAt) for (let f = 0; f < training.folds.length; f++) helper?.countFromTop(f)
            if (l + d >= L) continue
            const step = q % stream.steps,
              fold = training.foldOf(step)
            const want = new Array<number>(E).fill(0)
            for (const { from, to } of training.folds[fold]!)
              for (let s = from; s < to; s++)
                for (const x of actualSet(stream, step, l))
                  if (actualSet(stream, s, l).includes(x)) for (const y of actualSet(stream, s, l + d)) want[y]!++
            expect(Array.from(tables.rowSum(fold, l, d, actualSet(stream, step, l)))).toEqual(want)
          }
        }
      ),
      { numRuns: 300, seed: 16 }
    )
  })
})

describe("shared transition blocks", () => {
  it("a block whose count threw on another thread is counted again by its next taker, not waited for", () => {
    const trace = tinyTrace(
      Array.from({ length: 24 }, (_, i) => [
        [i % 5, (i + 1) % 5],
        [(i * 3) % 5, (i * 3 + 2) % 5],
        [i % 4, 4]
      ]),
      5,
      Array.from({ length: 24 }, (_, i) => i % 3).sort()
    )
    const stream = buildAccessStream(trace, 2)
    const training = crossFit(stream, trace)
    const ctx = { stream, trace, traceName: "t", top: 0, training, args: [] }
    const store = TransitionTables.sharedStore(ctx, 2)
    const plain = new TransitionTables(ctx, 2)
    // The other thread claims fold 0's blocks from the top and fails on the first, half counted.
    const other = SharedBlocks.attach(store.data)
    expect(() =>
      other.countFromTop(0, (out) => {
        out.fill(7)
        throw new Error("count failed")
      })
    ).toThrow("count failed")
    const tables = new TransitionTables({ ...ctx, sharedBlocks: store }, 2)
    for (let step = 0; step < stream.steps; step++) {
      if (training.foldOf(step) !== 0) continue
      for (const [l, d] of [
        [1, 1],
        [0, 2],
        [0, 1]
      ] as const) {
        const src = actualSet(stream, step, l)
        expect(Array.from(tables.rowSum(0, l, d, src))).toEqual(Array.from(plain.rowSum(0, l, d, src)))
      }
    }
  })
})

describe("predictor=transition", () => {
  it("names what scoring every expert names: far targets listed once, wrap-around by id (fast-check)", () => {
    const L = 8,
      E = 9
    const token = fc.array(fc.integer({ min: 0, max: E - 1 }), { minLength: L, maxLength: L })
    fc.assert(
      fc.property(
        fc.array(token, { minLength: 2, maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 6 }),
        (tokens, batch, top) => {
          const trace = tinyTrace(
            tokens.map((r) => r.map((e) => [e, (e + 4) % E])),
            E,
            tokens.map((_, i) => i % 4).sort()
          )
          const stream = buildAccessStream(trace, batch)
          const ctx = { stream, trace, traceName: "t", top, training: crossFit(stream, trace), args: [] }
          const tables = new TransitionTables(ctx)
          const scores = new Float64Array(E)
          const reference = scoringPredictor("reference", ctx, scores, (step, layer, curStep, curLayer) => {
            scores.fill(0)
            if (step !== curStep) for (const e of actualSet(stream, curStep, layer)) scores[e] = 1
            else tables.addScores(step, curLayer, layer, scores)
          })
          const p = transitionPredictor(ctx)
          const a = new Uint16Array(E),
            b = new Uint16Array(E)
          for (let s = 0; s + 1 < stream.steps; s++)
            for (let cur = 0; cur < L; cur++)
              for (const [step, layer] of [
                ...Array.from({ length: L - cur - 1 }, (_, i) => [s, cur + 1 + i]),
                [s + 1, cur]
              ] as Array<[number, number]>) {
                const n = p.predict(step, layer, s, cur, a)
                expect(Array.from(a.subarray(0, n))).toEqual(
                  Array.from(b.subarray(0, reference.predict(step, layer, s, cur, b)))
                )
              }
        }
      ),
      { numRuns: 150, seed: 17 }
    )
  })
})

describe("ONNX predictors (predictor=onnx:FILE)", () => {
  const trace = loadTrace(TRACE, loadModel(PROFILE))
  // In a child process: onnxruntime-node's tensors do not cross jest's VM realm.
  const onnxRoutes = (...flags: string[]) => {
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", join(repoRoot, "test", "helpers", "runOnnxPredictor.ts"), MODEL, TRACE, PROFILE, ...flags],
      { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" }, timeout: 120_000 }
    )
    if (r.status !== 0) throw new Error(r.stderr)
    return JSON.parse(r.stdout)
  }

  it("gives the decisions of its PyTorch origin on the fixture", () => {
    const fixture = JSON.parse(readFileSync(join(ONNX, "tiny-route-predictor.fixture.json"), "utf8"))
    const routes = onnxRoutes()
    expect(routes.perLayer).toBe(true)
    expect(routes.inputs).toEqual(["token_ids", "past_routes"])
    const { layers: L, topK: K } = trace.model
    expect(fixture.decisions.length).toBe(trace.tokens * L)
    for (const d of fixture.decisions as Array<{ token: number; layer: number; experts: number[][] }>) {
      const q = d.layer + 1
      for (let l = 0; l < L; l++) {
        const at = ((d.token * L + q) * L + l) * K
        expect(routes.ids.slice(at, at + K)).toEqual(d.experts[l])
      }
    }
  })

  it("names the trace field a model's input needs", () => {
    const err = onnxRoutes("--no-token-ids")
    expect(err.kind).toBe("input")
    expect(err.error).toContain(`${TRACE}: header: field 'tokenId'`)
    expect(err.error).toContain("token_ids")
  })

  it("runs through simulate, charges host time on request, and fails cleanly without token ids", () => {
    const spec = `cache=lru,prefetch=fixed:1,predictor=onnx:${MODEL}`
    const base = [
      "simulate",
      "--trace",
      TRACE,
      "--model",
      PROFILE,
      "--cache-slots",
      "12",
      "--hw",
      "a40",
      "--format",
      "json"
    ]
    const free = cli([...base, "--policy", spec])
    expect(free.code).toBe(0)
    const charged = cli([...base, "--policy", `${spec}:host=50000`])
    expect(charged.code).toBe(0)
    const a = JSON.parse(free.stdout),
      b = JSON.parse(charged.stdout)
    expect(a.b_acc).toBeGreaterThan(0.5)
    expect(b.b_acc).toBe(a.b_acc)
    // 64 one-token steps × 4 queries per token × 50 µs.
    expect(b.host_ns - a.host_ns).toBe(64 * 4 * 50000)
    const stripped = join(tempDir("ef-onnx-"), "no-ids.jsonl")
    writeFileSync(stripped, readFileSync(TRACE, "utf8").replace(/,"token_id":\d+/g, ""))
    const bad = cli(["simulate", "--trace", stripped, "--model", PROFILE, "--policy", spec, "--cache-slots", "12"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/no-ids\.jsonl: header: field 'tokenId': .*token_ids/)
  })
})
