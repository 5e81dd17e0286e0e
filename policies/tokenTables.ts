import { GAP } from "../traces/trace.ts"
import type { PredictorContext } from "./predictor.ts"
import { sliceTokens } from "./training.ts"

/** A fold's tables as sent between threads. */
export interface TokenFold {
  readonly popularity: Float64Array
  readonly byToken: ReadonlyArray<readonly [number, Float64Array]>
}

interface Fold {
  readonly byToken: Map<number, Float64Array>
  readonly popularity: Float64Array
}

/**
 * Per-fold token statistics for route predictors: how often each (layer, expert) served a given
 * token id, and each layer's expert popularity, over the fold's training tokens. A fold's are
 * counted when first asked for, or adopted from the thread that counted them: a thread that
 * trains one fold counts only that fold's.
 */
export class TokenTables {
  private readonly folds: Array<Fold | undefined> = []
  constructor(private readonly ctx: PredictorContext) {}

  private fold(fold: number): Fold {
    let f = this.folds[fold]
    if (f) return f
    const { layers: L, experts: E, topK: K } = this.ctx.trace.model
    const tok = new Map<number, Float64Array>()
    const pop = new Float64Array(L * E)
    for (const slice of this.ctx.training.folds[fold]!) {
      const t = slice.trace
      for (const ti of sliceTokens(slice)) {
        const id = t.tokenId ? t.tokenId[ti]! : -1
        let row = id >= 0 ? tok.get(id) : undefined
        if (id >= 0 && !row) {
          row = new Float64Array(L * E)
          tok.set(id, row)
        }
        for (let l = 0; l < L; l++)
          for (let k = 0; k < K; k++) {
            const e = t.experts[(ti * L + l) * K + k]!
            if (e === GAP) continue
            pop[l * E + e]!++
            if (row) row[l * E + e]!++
          }
      }
    }
    // Stored normalized per layer: scoring adds them as probabilities.
    for (const row of [...tok.values(), pop])
      for (let l = 0; l < L; l++) normalizeInPlace(row.subarray(l * E, (l + 1) * E))
    f = { byToken: tok, popularity: pop }
    this.folds[fold] = f
    return f
  }

  /** Fold `fold`'s tables as another thread adopts them (adoptFold); their buffers are the rows'. */
  exportFold(fold: number): TokenFold {
    const f = this.fold(fold)
    return { popularity: f.popularity, byToken: [...f.byToken] }
  }

  /** Fold `fold`'s tables as another thread counted them (exportFold): the same counts, not counted again. */
  adoptFold(fold: number, f: TokenFold): void {
    this.folds[fold] = { popularity: f.popularity, byToken: new Map(f.byToken) }
  }

  /** The token's P(e | token id, ·) row (all layers), when the trace has token ids and the id was seen. */
  tokenRow(fold: number, token: number, trace = this.ctx.trace): Float64Array | undefined {
    const id = trace.tokenId ? trace.tokenId[token]! : -1
    return id >= 0 ? this.fold(fold).byToken.get(id) : undefined
  }

  /**
   * The layer's experts with w · P(e | layer) > 0, best first (ties: lower id first), for a
   * weight w > 0: the order in which addScores(…, 0, w) alone ranks them.
   */
  popularityOrder(fold: number, layer: number, w: number): Uint16Array {
    const E = this.ctx.stream.experts
    const pop = this.fold(fold).popularity
    const score = (e: number) => w * pop[layer * E + e]!
    const ids: number[] = []
    for (let e = 0; e < E; e++) if (score(e) > 0) ids.push(e)
    ids.sort((a, b) => score(b) - score(a) || a - b)
    return Uint16Array.from(ids)
  }

  /** Add w · P(e | layer) into scores for the experts cands[0, n) only (the same sums addScores makes). */
  addPopularity(fold: number, layer: number, scores: Float64Array, w: number, cands: Int32Array, n: number): void {
    const pop = this.fold(fold).popularity
    const base = layer * this.ctx.stream.experts
    for (let i = 0; i < n; i++) scores[cands[i]!]! += w * pop[base + cands[i]!]!
  }

  /** Add P(e | token id, layer) (when the trace has token ids and the id was seen) and P(e | layer) into scores. */
  addScores(
    fold: number,
    token: number,
    layer: number,
    scores: Float64Array,
    wToken: number,
    wPop: number,
    /** The trace `token` indexes (a training slice's may differ from the replayed one). */
    trace = this.ctx.trace
  ): void {
    const E = this.ctx.stream.experts
    const row = this.tokenRow(fold, token, trace)
    const base = layer * E
    if (row && wToken > 0) for (let e = 0; e < E; e++) scores[e]! += wToken * row[base + e]!
    if (wPop > 0) {
      const pop = this.fold(fold).popularity
      for (let e = 0; e < E; e++) scores[e]! += wPop * pop[base + e]!
    }
  }
}

function normalizeInPlace(counts: Float64Array): void {
  let sum = 0
  for (let e = 0; e < counts.length; e++) sum += counts[e]!
  if (sum > 0) for (let e = 0; e < counts.length; e++) counts[e]! /= sum
}
