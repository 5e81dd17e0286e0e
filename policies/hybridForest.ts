/**
 * `predictor=hybrid`: EF-A's hybrid cross-layer predictor as the paper describes it (arXiv
 * 2510.26730, "pregating + intermediate states"): a RandomForestRegressor on the CPU, trained
 * offline, predicts the deviation Δ between the pre-gate output and the experts actually used;
 * the prediction is pre-gate + Δ. Its inputs are the paper's three: the pre-gate output, the
 * batch's token ids, and earlier layers' activations. Per candidate expert e of a target
 * (step, layer) seen from the gate of (step, curLayer), the features are:
 *   pg    share of the step's tokens whose pre-gate picks for the target include e (0 without lookahead)
 *   d     distance layer − curLayer (capped at DMAX)
 *   trans P(e | the experts the current layer actually used), from the fold's transition counts
 *   prev  1 if e served the previous step at the target layer
 *   tok   P(e | the step's token ids, target layer) from the fold's token statistics (0 without ids)
 *   pop   e's popularity at the target layer in the fold's training steps
 * Every feature is quantized to a few levels, so identical decisions share one forest evaluation:
 * that is the paper's prediction cache (a map from features to Δ). Training rows are grouped by
 * their quantized features and labelled with the mean deviation observed (ml-cart's split search
 * is quadratic in rows; grouping keeps training to seconds). The forest comes from
 * `ml-random-forest` (seeded, so runs are deterministic); no trees are written here.
 *
 * The forest never sees the steps it is scored on (training.ts): each fold's forest is trained on
 * its own slices only, and a row's `prev` feature is 0 where the previous step lies outside the
 * slice. A target in the next step has no pre-gate or same-step history: like the other history
 * predictors it is predicted by the current step's experts at that layer. A fold with no training
 * rows has no forest: the predictor names nothing and the router decides at the gate (the paper's
 * fallback to the live router).
 */
import { RandomForestRegression } from "ml-random-forest"
import type { AccessStream } from "../traces/batching.ts"
import { GAP, type Trace } from "../traces/trace.ts"
import { actualSet, defaultTop, type Predictor, type PredictorContext, topByScore } from "./predictor.ts"
import { numericArgs } from "./spec.ts"
import { type TokenFold, TokenTables } from "./tokenTables.ts"
import { type FoldBlocks, TransitionTables } from "./transition.ts"

/** Distances the forest tells apart; farther targets share d = DMAX's leaves. */
const DMAX = 8
/** Levels of the probability features (square-root scale, so small probabilities stay apart). */
const LEVELS = 16
/** Levels of the pre-gate share. */
const PG_LEVELS = 8
const FEATURES = ["pg", "d", "trans", "prev", "tok", "pop"] as const
/** Packed keys are below this: pg ∈ 0..PG_LEVELS, then 16 · 16 · 2 · 16 · 16 for the rest. */
const KEYS = (PG_LEVELS + 1) * 131072

export interface ForestPredictor extends Predictor {
  /** Per fold: the training steps (of its slices) the forest learned from, in order. */
  readonly trainedSteps: ReadonlyArray<ReadonlyArray<{ trace: Trace; step: number }>>
  /** Per fold: distinct quantized feature vectors it was trained on (0 = no forest). */
  readonly trainingRows: ReadonlyArray<number>
  /** The fold's forest on one row of quantized features (FEATURES order); null without a forest. */
  correction(fold: number, row: ReadonlyArray<number>): number | null
}

/** min(LEVELS - 1, ⌊√p · LEVELS⌋), 0 for p < 0: one compare and a truncation on this hot path. */
const qProb = (p: number) => {
  const q = Math.sqrt(p) * LEVELS
  return q >= LEVELS - 1 ? LEVELS - 1 : q | 0 // NaN (p < 0) truncates to 0
}

/**
 * Quantized features of every expert for one (step, curLayer → layer) query. The token and
 * popularity features do not depend on curLayer: each is worked out once per (step, layer) and
 * (fold, layer), as training asks every curLayer of a step about the same layers.
 */
class FeatureBuilder {
  readonly keys: Int32Array
  readonly pg: Float64Array
  /**
   * Unquantized history score (trans + tok + prev), to order experts whose features quantize
   * alike: written only by builds that ask for it (training does not).
   */
  readonly tie: Float64Array
  private readonly trans: Float64Array
  private readonly tok: Float64Array
  private readonly pop: Float64Array
  /** One query's quantized trans levels. */
  private readonly levels: Uint8Array
  /** The training steps' quantized trans levels (levelTransitions), by (step's index, current layer, distance). */
  private transLevels = new Uint8Array(0)
  /** Whether pg holds a share (else it is all zero). */
  private hasShare = false
  get pgWritten(): boolean {
    return this.hasShare
  }
  private readonly transitions: TransitionTables
  private readonly tokens: TokenTables
  /**
   * The current step's features that depend on the target layer alone, per layer (layer · E + e):
   * tok normalized, and the low bits of the packed key (prev, tok and pop quantized); which
   * layers are done. Training asks every current layer of a step about the same target layers.
   */
  private readonly stepTok: Float64Array
  private readonly stepLow: Int32Array
  private readonly stepDone: Uint8Array
  private stepOf: { a: AccessStream | null; t: Trace | null; fold: number; step: number; firstStep: number } = {
    a: null,
    t: null,
    fold: -1,
    step: -1,
    firstStep: -1
  }
  /** Per fold: popularity per layer (layer · E + e), raw and quantized; which layers are done. */
  private readonly foldPop: Array<{ raw: Float64Array; q: Uint8Array; done: Uint8Array }> = []
  private readonly layers: number
  constructor(ctx: PredictorContext) {
    const E = ctx.stream.experts,
      L = ctx.stream.layers
    this.layers = L
    this.keys = new Int32Array(E)
    this.pg = new Float64Array(E)
    this.tie = new Float64Array(E)
    this.trans = new Float64Array(E)
    this.levels = new Uint8Array(E)
    this.tok = new Float64Array(E)
    this.pop = new Float64Array(E)
    this.transitions = new TransitionTables(ctx)
    this.tokens = new TokenTables(ctx)
    this.stepTok = new Float64Array(L * E)
    this.stepLow = new Int32Array(L * E)
    this.stepDone = new Uint8Array(L)
  }

  exportTables(fold: number): FoldBlocks {
    return this.transitions.exportFold(fold)
  }

  adoptTables(b: FoldBlocks): void {
    this.transitions.adoptFold(b)
  }

  exportTokens(fold: number): TokenFold {
    return this.tokens.exportFold(fold)
  }

  adoptTokens(fold: number, f: TokenFold): void {
    this.tokens.adoptFold(fold, f)
  }

  /** Count half of fold `fold`'s transition blocks for the thread that takes them from the other end. */
  countFromTop(fold: number): void {
    this.transitions.countFromTop(fold)
  }

  /**
   * Fill keys and pg (the pre-gate share) for target (step, layer) seen from (step, curLayer),
   * and tie when `withTie`.
   */
  build(
    a: AccessStream,
    t: Trace,
    fold: number,
    step: number,
    curLayer: number,
    layer: number,
    firstStep: number,
    withTie: boolean,
    /** Index of the step in levelTransitions' list, whose trans levels are known (no tie then); -1: none. */
    known = -1
  ) {
    const E = a.experts,
      L = a.layers
    const d = layer - curLayer
    const t0 = a.stepTokenOffsets[step]!,
      t1 = a.stepTokenOffsets[step + 1]!
    // Pre-gate share: how many of the step's tokens had e picked for `layer` at `curLayer`.
    if (this.hasShare) this.pg.fill(0)
    const D = t.lookaheadDepth,
      K = t.model.topK
    this.hasShare = t.lookahead !== null && d <= D
    if (this.hasShare) {
      for (let i = t0; i < t1; i++) {
        const base = ((a.stepTokens[i]! * L + curLayer) * D + d - 1) * K
        for (let k = 0; k < K; k++) {
          const e = t.lookahead![base + k]!
          if (e !== GAP) this.pg[e]!++
        }
      }
      for (let e = 0; e < E; e++) this.pg[e]! /= Math.max(1, t1 - t0)
    }
    this.stepFeatures(a, t, fold, step, layer, firstStep)
    const o = layer * E
    const low = this.stepLow
    // Earlier layers' activations: transitions out of the experts the current layer used; beyond
    // the tables' reach, the target layer's popularity (already quantized).
    const maxD = this.transitions.maxDistance
    const near = d <= maxD
    const pop = this.popularity(fold, layer)
    // trans at `transAt` of `trans`, its quantized levels at `at` of `levels`.
    let trans = pop.raw,
      transAt = o,
      levels = pop.q,
      at = o
    if (near && known >= 0) {
      levels = this.transLevels
      at = ((known * (L - 1) + curLayer) * maxD + d - 1) * E
    } else if (near) {
      trans = this.trans
      transAt = 0
      levels = this.levels
      at = 0
      this.transInto(fold, curLayer, d, actualSet(a, step, curLayer), levels, 0)
    }
    // The packed key is ((pg · 16 + d) · 16 + trans) · 512 + the step's low bits.
    const dq = Math.min(d, DMAX)
    const keys = this.keys,
      pg = this.pg
    if (this.hasShare)
      for (let e = 0; e < E; e++) {
        const hi = (Math.round(pg[e]! * PG_LEVELS) * 16 + dq) * 16
        keys[e] = (hi + levels[at + e]!) * 512 + low[o + e]!
      }
    else for (let e = 0, hi = dq * 16; e < E; e++) keys[e] = (hi + levels[at + e]!) * 512 + low[o + e]!
    if (withTie) {
      const tok = this.stepTok
      for (let e = 0; e < E; e++) this.tie[e] = trans[transAt + e]! + tok[o + e]! + (low[o + e]! >> 8)
    }
  }

  /**
   * The quantized trans feature of every training step, current layer and distance within the
   * tables' reach, for build's `known`: worked out a transition block at a time (every step's row
   * sum of one block in a row, while it is in cache; training's order jumps between blocks), as
   * build would (each block's row sums in the same order, so the same sums).
   */
  levelTransitions(fold: number, steps: ReadonlyArray<{ stream: AccessStream; step: number }>): void {
    const E = this.keys.length,
      L = this.layers,
      maxD = this.transitions.maxDistance
    const levels = new Uint8Array(steps.length * (L - 1) * maxD * E)
    for (let cur = 0; cur < L - 1; cur++)
      for (let d = 1; d <= maxD && cur + d < L; d++)
        for (let r = 0; r < steps.length; r++) {
          const { stream, step } = steps[r]!
          this.transInto(fold, cur, d, actualSet(stream, step, cur), levels, ((r * (L - 1) + cur) * maxD + d - 1) * E)
        }
    this.transLevels = levels
  }

  /** trans (normalized transitions out of `src` at distance d) into this.trans, its levels into `levels` at `at`. */
  private transInto(fold: number, cur: number, d: number, src: Uint16Array, levels: Uint8Array, at: number): void {
    const x = this.trans
    x.set(this.transitions.rowSum(fold, cur, d, src))
    normalizeInPlace(x)
    for (let e = 0; e < x.length; e++) levels[at + e] = qProb(x[e]!)
  }

  /** Free the training steps' levels (training is over). */
  dropLevels(): void {
    this.transLevels = new Uint8Array(0)
  }

  /**
   * The step's features at `layer` that do not depend on the current layer: tok (P(e | the
   * step's token ids), normalized) into stepTok, and prev · 256 + tok · 16 + pop quantized into
   * stepLow.
   */
  private stepFeatures(a: AccessStream, t: Trace, fold: number, step: number, layer: number, firstStep: number) {
    const at = this.stepOf
    if (at.a !== a || at.t !== t || at.fold !== fold || at.step !== step || at.firstStep !== firstStep) {
      this.stepOf = { a, t, fold, step, firstStep }
      this.stepDone.fill(0)
    }
    if (this.stepDone[layer]) return
    this.stepDone[layer] = 1
    const E = a.experts,
      o = layer * E
    this.tok.fill(0)
    for (let i = a.stepTokenOffsets[step]!; i < a.stepTokenOffsets[step + 1]!; i++)
      this.tokens.addScores(fold, a.stepTokens[i]!, layer, this.tok, 1, 0, t)
    normalizeInPlace(this.tok)
    const pop = this.popularity(fold, layer)
    for (let e = 0; e < E; e++) {
      this.stepTok[o + e] = this.tok[e]!
      this.stepLow[o + e] = qProb(this.tok[e]!) * 16 + pop.q[o + e]!
    }
    if (step > firstStep) {
      const p = actualSet(a, step - 1, layer)
      for (let i = 0; i < p.length; i++) this.stepLow[o + p[i]!]! += 256
    }
  }

  /** The fold's popularity feature at `layer` (P(e | layer)), raw and quantized. */
  private popularity(fold: number, layer: number): { raw: Float64Array; q: Uint8Array } {
    const E = this.keys.length,
      L = this.layers
    let f = this.foldPop[fold]
    if (!f) {
      f = { raw: new Float64Array(L * E), q: new Uint8Array(L * E), done: new Uint8Array(L) }
      this.foldPop[fold] = f
    }
    if (!f.done[layer]) {
      f.done[layer] = 1
      this.pop.fill(0)
      this.tokens.addScores(fold, 0, layer, this.pop, 0, 1)
      quantizeInto(this.pop, f.raw, f.q, layer * E)
    }
    return f
  }
}

/** Copy x to raw at `at`, and its quantized levels to q at `at`. */
function quantizeInto(x: Float64Array, raw: Float64Array, q: Uint8Array, at: number): void {
  for (let e = 0; e < x.length; e++) {
    raw[at + e] = x[e]!
    q[at + e] = qProb(x[e]!)
  }
}

function normalizeInPlace(x: Float64Array): void {
  let sum = 0
  for (let i = 0; i < x.length; i++) sum += x[i]!
  if (sum > 0) for (let i = 0; i < x.length; i++) x[i]! /= sum
}

/** The forest's input row for a packed key (the quantized features, in FEATURES order). */
function unpack(key: number): number[] {
  const pop = key % 16,
    tok = Math.floor(key / 16) % 16,
    prev = Math.floor(key / 256) % 2,
    trans = Math.floor(key / 512) % 16,
    d = Math.floor(key / 8192) % 16,
    pg = Math.floor(key / 131072)
  return [pg, d, trans, prev, tok, pop]
}

interface TrainedFold {
  forest: RandomForestRegression | null
  steps: Array<{ trace: Trace; step: number }>
  rows: number
  /** The paper's prediction cache: quantized features → Δ. */
  cache: Map<number, number>
}

const trained = new WeakMap<Trace, Map<string, TrainedFold[]>>()

type Options = { trees: number; depth: number; steps: number; rows: number; seed: number }

/** Fold `fold`'s forest, from its own training slices only: trained here, or adopted from another thread. */
function trainOrAdopt(ctx: PredictorContext, features: FeatureBuilder, opt: Options, fold: number): TrainedFold {
  const there = ctx.foldsElsewhere?.take(fold) as FoldData | null | undefined
  return there ? adoptFold(ctx, features, fold, there) : trainFold(ctx, features, opt, fold)
}

/** A fold trained on another thread (trainHybridFold), as it was sent. */
interface FoldData {
  forest: ReturnType<RandomForestRegression["toJSON"]> | null
  rows: number
  /** The training steps, as (index of the fold's slice, step). */
  steps: Array<[number, number]>
  /** The transition tables built on the way, which the replay reads too. */
  tables: FoldBlocks
  /** The fold's token and popularity tables, which the replay's features read too. */
  tokens: TokenFold
}

/** Train fold `fold` alone (the registry's trainFold), for the predictor on another thread. */
export function trainHybridFold(ctx: PredictorContext, fold: number): { data: FoldData; transfer: ArrayBuffer[] } {
  const features = new FeatureBuilder(ctx)
  // Meanwhile the replay's thread trains the earlier folds, which starts with counting their
  // tables, layer by layer up: count them from the top down until the two meet. Its first fold
  // is what the replay waits for; this thread's own is needed only halfway through the replay.
  for (let f = 0; f < fold; f++) features.countFromTop(f)
  const f = trainFold(ctx, features, hybridOptions(ctx), fold)
  const slices = ctx.training.folds[fold]!
  const tables = features.exportTables(fold),
    tokens = features.exportTokens(fold)
  const data: FoldData = {
    forest: f.forest ? f.forest.toJSON() : null,
    rows: f.rows,
    steps: f.steps.map(({ trace, step }) => [
      slices.findIndex((s) => s.trace === trace && s.from <= step && step < s.to),
      step
    ]),
    tables,
    tokens
  }
  const buffers = [...tables.blocks, tokens.popularity, ...tokens.byToken.map(([, row]) => row)]
  return { data, transfer: buffers.map((b) => b.buffer as ArrayBuffer) }
}

/** The fold another thread trained: its forest (a seeded one, rebuilt from its JSON), its tables and tokens. */
function adoptFold(ctx: PredictorContext, features: FeatureBuilder, fold: number, d: FoldData): TrainedFold {
  features.adoptTables(d.tables)
  features.adoptTokens(fold, d.tokens)
  const slices = ctx.training.folds[fold]!
  return {
    forest: d.forest ? RandomForestRegression.load(d.forest) : null,
    steps: d.steps.map(([i, step]) => ({ trace: slices[i]!.trace, step })),
    rows: d.rows,
    cache: new Map<number, number>()
  }
}

/** Fold `fold`'s forest, from its own training slices only. */
function trainFold(ctx: PredictorContext, features: FeatureBuilder, opt: Options, fold: number): TrainedFold {
  const E = ctx.stream.experts,
    L = ctx.stream.layers
  const slices = ctx.training.folds[fold]!
  // Training rows: (training step, current layer, distance, expert) → the truth's deviation
  // from the pre-gate share.
  // Indexed by packed key (every key < KEYS): typed arrays, not maps, on this hot path.
  const sum = new Float64Array(KEYS),
    count = new Int32Array(KEYS)
  // The training steps, each slice's spread evenly over it.
  const picked: Array<{ stream: AccessStream; trace: Trace; step: number; from: number }> = []
  for (const s of slices) {
    const n = s.to - s.from
    const take = Math.min(n, opt.steps)
    for (let j = 0; j < take; j++)
      picked.push({ stream: s.stream, trace: s.trace, step: s.from + Math.floor((j * n) / take), from: s.from })
  }
  features.levelTransitions(fold, picked)
  const mark = new Uint8Array(E)
  for (let r = 0; r < picked.length; r++) {
    const { stream, trace, step, from } = picked[r]!
    for (let cur = 0; cur < L - 1; cur++)
      for (let layer = cur + 1; layer < L && layer - cur <= DMAX; layer++) {
        features.build(stream, trace, fold, step, cur, layer, from, false, r)
        const truth = actualSet(stream, step, layer)
        for (let i = 0; i < truth.length; i++) mark[truth[i]!] = 1
        const keys = features.keys,
          pg = features.pg
        // Without a pre-gate share the deviation is the mark itself (x − 0 is x: the same sums).
        if (features.pgWritten)
          for (let e = 0; e < E; e++) {
            sum[keys[e]!]! += mark[e]! - pg[e]!
            count[keys[e]!]!++
          }
        else
          for (let e = 0; e < E; e++) {
            sum[keys[e]!]! += mark[e]!
            count[keys[e]!]!++
          }
        for (let i = 0; i < truth.length; i++) mark[truth[i]!] = 0
      }
  }
  features.dropLevels()
  // The most frequent feature vectors, each labelled with its mean deviation.
  const seen: number[] = []
  for (let k = 0; k < KEYS; k++) if (count[k]! > 0) seen.push(k)
  const keys = seen.sort((x, y) => count[y]! - count[x]! || x - y).slice(0, opt.rows)
  keys.sort((x, y) => x - y)
  let forest: RandomForestRegression | null = null
  if (keys.length >= 2) {
    forest = new RandomForestRegression({
      nEstimators: opt.trees,
      maxFeatures: FEATURES.length,
      replacement: true,
      useSampleBagging: true,
      noOOB: true,
      seed: opt.seed + fold,
      treeOptions: { maxDepth: opt.depth, minNumSamples: 3 }
    })
    forest.train(
      keys.map(unpack),
      keys.map((k) => sum[k]! / count[k]!)
    )
  }
  const steps = picked.map(({ trace, step }) => ({ trace, step }))
  return { forest, steps, rows: forest ? keys.length : 0, cache: new Map<number, number>() }
}

const hybridOptions = (ctx: PredictorContext): Options =>
  numericArgs(
    ctx.args,
    { trees: 16, depth: 6, steps: 192, rows: 1200, seed: 7 },
    "predictor=hybrid (RandomForest correction)"
  )

export function hybridForestPredictor(ctx: PredictorContext): ForestPredictor {
  const opt = hybridOptions(ctx)
  const a = ctx.stream,
    E = a.experts
  const features = new FeatureBuilder(ctx)
  // Forests are trained once per (trace, steps, training, options) in a process: a sweep or the
  // reproduction runs many policies on one workload, and training is the predictor's slow part.
  let sig = 0
  for (let s = 0; s <= a.steps; s++) sig = (sig * 31 + a.stepTokenOffsets[s]!) | 0
  const memoKey = JSON.stringify([ctx.training.description, a.steps, a.accesses, sig, opt])
  const byKey = trained.get(ctx.trace) ?? new Map<string, TrainedFold[]>()
  trained.set(ctx.trace, byKey)
  // Each fold is trained (or taken from the thread that trained it) when the replay first needs
  // it: the replay starts once fold 0 is ready, and the train-ahead thread's last fold is ready by
  // its turn instead of being waited for up front. Memoized once every fold is there.
  const folds: Array<TrainedFold | null> = byKey.get(memoKey) ?? ctx.training.folds.map(() => null)
  let missingFolds = folds.filter((f) => f === null).length
  const foldAt = (fold: number): TrainedFold => {
    let f = folds[fold]
    if (!f) {
      f = trainOrAdopt(ctx, features, opt, fold)
      folds[fold] = f
      if (--missingFolds === 0) byKey.set(memoKey, folds as TrainedFold[])
    }
    return f
  }
  const allFolds = () => folds.map((_, fold) => foldAt(fold))

  const scores = new Float64Array(E)
  const missing: number[] = []
  const score = (step: number, layer: number, curLayer: number): boolean => {
    const f = foldAt(ctx.training.foldOf(step))
    if (!f.forest) return false
    features.build(a, ctx.trace, ctx.training.foldOf(step), step, curLayer, layer, 0, true)
    missing.length = 0
    for (let e = 0; e < E; e++) if (!f.cache.has(features.keys[e]!)) missing.push(features.keys[e]!)
    if (missing.length > 0) {
      const unique = [...new Set(missing)]
      const delta = f.forest.predict(unique.map(unpack))
      for (let i = 0; i < unique.length; i++) f.cache.set(unique[i]!, delta[i]!)
    }
    for (let e = 0; e < E; e++) scores[e] = features.pg[e]! + f.cache.get(features.keys[e]!)! + 1e-6 * features.tie[e]!
    return true
  }
  const hasPregate = ctx.trace.lookahead !== null && ctx.trace.lookaheadDepth > 0
  return {
    name: "hybrid",
    get note() {
      return (
        `RandomForest correction of the pre-gate (ml-random-forest, ${opt.trees} trees, depth ${opt.depth}; ` +
        `${allFolds()
          .map((f) => f.rows)
          .join("/")} training rows per fold)` +
        (hasPregate ? "" : "; no pre-gate lookahead in the trace: the forest corrects an empty pre-gate (history only)")
      )
    },
    get trainedSteps() {
      return allFolds().map((f) => f.steps)
    },
    get trainingRows() {
      return allFolds().map((f) => f.rows)
    },
    correction: (fold, row) =>
      fold >= 0 && fold < folds.length ? (foldAt(fold).forest?.predict([[...row]])[0] ?? null) : null,
    predict(step, layer, curStep, curLayer, out) {
      if (step !== curStep) {
        const set = actualSet(a, curStep, layer)
        out.set(set)
        return set.length
      }
      if (!score(step, layer, curLayer)) return 0
      return topByScore(scores, defaultTop(ctx, step), out)
    },
    distribution(step, layer, curStep, curLayer, out) {
      if (step !== curStep || !score(step, layer, curLayer)) return false
      let sum = 0
      for (let e = 0; e < E; e++) sum += Math.max(0, scores[e]!)
      if (sum <= 0) return false
      for (let e = 0; e < E; e++) out[e] = Math.max(0, scores[e]!) / sum
      return true
    }
  }
}
