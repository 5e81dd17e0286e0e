/**
 * The realistic trace generator. Per token and layer it picks k distinct experts; each pick:
 *   1. with probability `reuse`, an expert of the request's previous token at this layer
 *      (temporal locality);
 *   2. else with probability `affinity` (layers > 0), a draw from the transition out of this
 *      token's first expert at the previous layer (cross-layer affinity; without a fitted table,
 *      the layer's popularity with 4 seeded preferred successors per expert boosted, so
 *      affinity adds structure without changing the layer's skew much);
 *   3. else a draw from the layer's popularity for the request's domain (skew; drift across
 *      requests and domains: each request belongs to one domain, drawn by domain weight).
 * Gate weights are sorted, normalized Gamma(weightShape) draws (4096 such vectors are drawn once
 * and each (token, layer) takes one at random: a Gamma draw per pick would cost more than the
 * routing itself on DeepSeek-V3-sized traces); prefill tokens (the first
 * `prefillFraction` of each request) are marked as such; pre-gate lookahead for d = 1..D picks
 * the true expert of layer l + d with probability a·e^(−b·d) + c, else a popularity draw.
 * Tokens are produced in chunks, so a 1 M-token trace is written without holding it in memory.
 * Same parameters and seed → the same trace, byte for byte.
 */
import { Rng } from "../base/rng.ts"
import { AliasTable } from "./alias.ts"
import type { GeneratorParams } from "./generatorParams.ts"
import type { RequestLength } from "./requestLengths.ts"
import type { Trace } from "./trace.ts"

export interface Chunk {
  readonly from: number
  readonly tokens: number
  readonly request: Int32Array
  readonly position: Int32Array
  readonly phase: Uint8Array
  readonly experts: Uint16Array
  readonly weights: Float32Array
  readonly lookahead: Uint16Array | null
}

export interface GenerateOptions {
  readonly tokens: number
  readonly requests: number
  readonly seed: number
  readonly chunkTokens?: number
  /**
   * Per request, its prompt (prefill) and output (decode) tokens; `tokens` and `requests` must
   * match their sums. Without it, tokens are split evenly and `prefillFraction` marks the prefill.
   */
  readonly requestLengths?: ReadonlyArray<RequestLength>
}

/** Gamma(shape, 1) draw (Marsaglia–Tsang; shape < 1 boosted). */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * (rng.float() || 1e-12) ** (1 / shape)
  const d = shape - 1 / 3,
    c = 1 / Math.sqrt(9 * d)
  for (;;) {
    let x: number, v: number
    do {
      const u1 = rng.float() || 1e-12,
        u2 = rng.float()
      x = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
      v = 1 + c * x
    } while (v <= 0)
    v = v * v * v
    const u = rng.float()
    if (u < 1 - 0.0331 * x * x * x * x || Math.log(u || 1e-12) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v
  }
}

export function* generateChunks(p: GeneratorParams, o: GenerateOptions): Generator<Chunk> {
  const { layers: L, experts: E, topK: K } = p.model
  const rng = new Rng(o.seed)
  const D = p.lookahead ? Math.min(p.lookahead.depth, L - 1) : 0
  // Popularity weights per layer and domain.
  const popWeights: Float64Array[][] = p.layers.map((layer) =>
    p.domains.map((_, d) => {
      const spec = layer.popularity[Math.min(d, layer.popularity.length - 1)]!
      if ("weights" in spec) return Float64Array.from(spec.weights, (w) => w + 1e-9)
      const rank = rng.shuffle(Array.from({ length: E }, (_, i) => i))
      const w = new Float64Array(E)
      for (let r = 0; r < E; r++) w[rank[r]!] = 1 / (r + 1) ** spec.zipf
      return w
    })
  )
  const pop: AliasTable[][] = popWeights.map((byDomain) => byDomain.map((w) => new AliasTable(w)))
  // Transitions (row = previous layer's first expert): fitted rows as tables; otherwise the
  // layer's popularity with each expert's 4 seeded preferred successors boosted by 4·mean/(j+1),
  // sampled as the exact mixture it is — a boosted successor with probability BOOST, else a
  // popularity draw — so no E × E tables are built (45 MB of them on DeepSeek-V3, all cache misses).
  const fittedTrans: AliasTable[][] = p.layers.map((layer) =>
    layer.transition ? layer.transition.map((row) => new AliasTable(row.map((w) => w + 1e-9))) : []
  )
  const preferred: Int32Array[] = p.layers.map(() => Int32Array.from({ length: E * 4 }, () => rng.int(E)))
  const boostMass = (4 * (1 + 1 / 2 + 1 / 3 + 1 / 4)) / E
  const BOOST = boostMass / (1 + boostMass)
  const reuseOf = Float64Array.from(p.layers, (x) => x.reuse)
  const affinityOf = Float64Array.from(p.layers, (x) => x.affinity)
  const domainTable = new AliasTable(p.domains.map((d) => d.weight + 1e-12))
  const WEIGHT_VECTORS = 4096
  const weightTable = new Float32Array(WEIGHT_VECTORS * K)
  for (let v = 0; v < WEIGHT_VECTORS; v++) {
    let sum = 0
    const w = Array.from({ length: K }, () => {
      const x = gamma(rng, p.weightShape)
      sum += x
      return x
    }).sort((a, b) => b - a)
    for (let k = 0; k < K; k++) weightTable[v * K + k] = w[k]! / sum
  }
  const given = o.requestLengths
  if (given && (given.length !== o.requests || given.reduce((a, r) => a + r.prompt + r.output, 0) !== o.tokens))
    throw new Error("generator: requestLengths must list `requests` requests whose lengths sum to `tokens`")
  const R = Math.max(1, Math.min(o.requests, o.tokens))
  const lengths = given
    ? given.map((r) => r.prompt + r.output)
    : Array.from({ length: R }, (_, r) => Math.floor(o.tokens / R) + (r < o.tokens % R ? 1 : 0))
  const prefillOf = (r: number) => (given ? given[r]!.prompt : Math.floor(p.prefillFraction * lengths[r]!))
  const chunkTokens = o.chunkTokens ?? 8192
  const prevSet = new Uint16Array(L * K)
  const stamp = new Int32Array(E).fill(-1)
  let req = 0,
    pos = 0,
    domain = domainTable.draw(rng),
    cellId = 0
  for (let from = 0; from < o.tokens; from += chunkTokens) {
    const n = Math.min(chunkTokens, o.tokens - from)
    const c = {
      from,
      tokens: n,
      request: new Int32Array(n),
      position: new Int32Array(n),
      phase: new Uint8Array(n),
      experts: new Uint16Array(n * L * K),
      weights: new Float32Array(n * L * K),
      lookahead: D > 0 ? new Uint16Array(n * L * D * K).fill(0xffff) : null
    }
    for (let i = 0; i < n; i++) {
      if (pos >= lengths[req]!) {
        req++
        pos = 0
        domain = domainTable.draw(rng)
      }
      c.request[i] = req
      c.position[i] = pos
      c.phase[i] = pos < prefillOf(req) ? 1 : 0
      const hasPrev = pos > 0
      for (let l = 0; l < L; l++) {
        const base = (i * L + l) * K
        const reuse = reuseOf[l]!,
          follow = reuse + (1 - reuse) * affinityOf[l]!
        const popTable = pop[l]![domain]!,
          fitted = fittedTrans[l]!,
          pref = preferred[l]!
        cellId++
        for (let k = 0; k < K; k++) {
          let e = -1
          for (let attempt = 0; e < 0 || stamp[e] === cellId; attempt++) {
            const u = rng.float()
            if (attempt < 8 && hasPrev && u < reuse) e = prevSet[l * K + rng.int(K)]!
            else if (attempt < 8 && l > 0 && u < follow) {
              const from = c.experts[base - K]!
              if (fitted.length > 0) e = fitted[from]!.draw(rng)
              else if (rng.float() < BOOST) {
                const v = rng.float()
                e = pref[from * 4 + (v < 0.48 ? 0 : v < 0.72 ? 1 : v < 0.88 ? 2 : 3)]!
              } else e = popTable.draw(rng)
            } else e = popTable.draw(rng)
          }
          stamp[e] = cellId
          c.experts[base + k] = e
        }
        const v = rng.int(WEIGHT_VECTORS) * K
        c.weights.set(weightTable.subarray(v, v + K), base)
      }
      for (let j = 0, off = i * L * K; j < L * K; j++) prevSet[j] = c.experts[off + j]!
      if (c.lookahead && p.lookahead) {
        const { a, b, c: floor } = p.lookahead
        for (let l = 0; l < L; l++)
          for (let d = 1; d <= D && l + d < L; d++) {
            const acc = Math.min(1, Math.max(0, a * Math.exp(-b * d) + floor))
            const truth = (i * L + l + d) * K,
              out = ((i * L + l) * D + d - 1) * K
            cellId++
            for (let k = 0; k < K; k++) {
              let e = rng.float() < acc ? c.experts[truth + k]! : pop[l + d]![domain]!.draw(rng)
              while (stamp[e] === cellId) e = pop[l + d]![domain]!.draw(rng)
              stamp[e] = cellId
              c.lookahead[out + k] = e
            }
          }
      }
      pos++
    }
    yield c
  }
}

/** The whole trace in memory (tests, sweeps). */
export function generateTrace(p: GeneratorParams, o: GenerateOptions): Trace {
  const { layers: L, topK: K } = p.model
  const T = o.tokens
  const D = p.lookahead ? Math.min(p.lookahead.depth, L - 1) : 0
  const t = {
    model: p.model,
    tokens: T,
    request: new Int32Array(T),
    position: new Int32Array(T),
    phase: new Uint8Array(T),
    tokenId: null,
    present: new Uint8Array(T * L).fill(1),
    experts: new Uint16Array(T * L * K),
    weights: new Float32Array(T * L * K),
    routerProbs: null,
    lookaheadDepth: D,
    lookahead: D > 0 ? new Uint16Array(T * L * D * K) : null,
    predictionDepth: 0,
    predicted: null,
    source: {
      kind: "synthetic",
      description: describe(p, o),
      recording: `generated by traces/generator.ts from ${p.source}`
    }
  }
  for (const c of generateChunks(p, o)) {
    t.request.set(c.request, c.from)
    t.position.set(c.position, c.from)
    t.phase.set(c.phase, c.from)
    t.experts.set(c.experts, c.from * L * K)
    t.weights.set(c.weights, c.from * L * K)
    if (c.lookahead) t.lookahead!.set(c.lookahead, c.from * L * D * K)
  }
  return { ...t, phase: p.prefillFraction > 0 || o.requestLengths ? t.phase : null }
}

export const describe = (p: GeneratorParams, o: GenerateOptions) =>
  `synthetic ${p.model.name}: ${o.tokens} tokens, ${o.requests} requests, seed ${o.seed}; parameters: ${p.source}`
