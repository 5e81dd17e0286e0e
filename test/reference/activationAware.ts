// FROZEN REFERENCE (test only): the EAM predictor as it was before its exact-integer match
// filter, matching every library EAM by a full float dot product. The oracle of
// test/predictors.test.ts; never edit it to follow policies/.
/**
 * MoE-Infinity-style activation-aware prediction (arXiv 2401.14361): each training request
 * leaves an expert activation matrix (EAM: layers × experts, how often each expert served the
 * request). At run time, each request in the step keeps its own EAM of what it used so far; the
 * library EAM with the highest cosine similarity to it is taken as the request's likely future,
 * and its most used experts at the target layer are predicted (top-k per request, union over
 * the step). A request with no history yet matches the library's average.
 */
import { GAP } from "../../traces/trace.ts"
import { topByScore, type Predictor, type PredictorContext } from "../../policies/predictor.ts"
import { sliceTokens } from "../../policies/training.ts"
import { stepOfToken } from "../../policies/routePath.ts"

export function activationAwarePredictorFull(ctx: PredictorContext): Predictor {
  const t = ctx.trace,
    a = ctx.stream
  const { layers: L, experts: E, topK: K } = t.model
  const LE = L * E
  const n = ctx.top > 0 ? ctx.top : K
  // The library, per fold: one normalized EAM per training request, plus their mean.
  const libraries = ctx.training.folds.map((slices) => {
    const byRequest = new Map<string, Float64Array>()
    for (const slice of slices)
      for (const ti of sliceTokens(slice)) {
        const id = `${slice.trace === t ? "self" : "train"}:${slice.trace.request[ti]}`
        let m = byRequest.get(id)
        if (!m) {
          m = new Float64Array(LE)
          byRequest.set(id, m)
        }
        addToken(slice.trace, ti, m)
      }
    const eams = [...byRequest.values()].map(unit)
    const mean = new Float64Array(LE)
    for (const m of eams) for (let i = 0; i < LE; i++) mean[i]! += m[i]!
    return { eams, mean }
  })
  const stepOf = stepOfToken(ctx)
  // Each request's own EAM, built from its tokens in steps before the current one.
  const own = new Map<number, Float64Array>()
  let builtUpTo = 0
  let maxRequest = 0
  for (let i = 0; i < t.request.length; i++) maxRequest = Math.max(maxRequest, t.request[i]!)
  /** By step · (maxRequest + 1) + request: the library EAM the request matched at that step. */
  const match = new Map<number, Float64Array>()
  // A library EAM's top-n experts per layer, listed once: a prediction is then a union of lists.
  const tops = new Map<Float64Array, { picks: Uint16Array; counts: Uint16Array }>()
  const mark = new Uint8Array(E)

  function addToken(tr: typeof t, ti: number, m: Float64Array): void {
    for (let l = 0; l < L; l++)
      for (let k = 0; k < K; k++) {
        const e = tr.experts[(ti * L + l) * K + k]!
        if (e !== GAP) m[l * E + e]!++
      }
  }
  function unit(m: Float64Array): Float64Array {
    let norm = 0
    for (let i = 0; i < m.length; i++) norm += m[i]! * m[i]!
    norm = Math.sqrt(norm) || 1
    return m.map((x) => x / norm)
  }
  const matched = (step: number, request: number): Float64Array => {
    const key = step * (maxRequest + 1) + request
    let m = match.get(key)
    if (m) return m
    const lib = libraries[ctx.training.foldOf(step)]!
    const mine = own.get(request)
    m = lib.mean
    if (mine && lib.eams.length > 0) {
      const dots = dotProducts(lib.eams, mine)
      let best = -1
      for (let c = 0; c < dots.length; c++)
        if (dots[c]! > best) {
          best = dots[c]!
          m = lib.eams[c]!
        }
    }
    match.set(key, m)
    return m
  }
  const topsOf = (m: Float64Array) => {
    let top = tops.get(m)
    if (!top) {
      top = { picks: new Uint16Array(L * n), counts: new Uint16Array(L) }
      for (let l = 0; l < L; l++)
        top.counts[l] = topByScore(m.subarray(l * E, (l + 1) * E), n, top.picks.subarray(l * n, (l + 1) * n))
      tops.set(m, top)
    }
    return top
  }
  return {
    name: "eam",
    predict(step, layer, curStep, _cl, out) {
      for (; builtUpTo < curStep; builtUpTo++) {
        for (let i = a.stepTokenOffsets[builtUpTo]!; i < a.stepTokenOffsets[builtUpTo + 1]!; i++) {
          const ti = a.stepTokens[i]!
          let m = own.get(t.request[ti]!)
          if (!m) {
            m = new Float64Array(LE)
            own.set(t.request[ti]!, m)
          }
          addToken(t, ti, m)
        }
      }
      let count = 0
      for (let i = a.stepTokenOffsets[step]!; i < a.stepTokenOffsets[step + 1]!; i++) {
        const ti = a.stepTokens[i]!
        if (stepOf[ti]! !== step) continue
        const { picks, counts } = topsOf(matched(step, t.request[ti]!))
        for (let j = layer * n; j < layer * n + counts[layer]!; j++)
          if (!mark[picks[j]!]) {
            mark[picks[j]!] = 1
            out[count++] = picks[j]!
          }
      }
      for (let j = 0; j < count; j++) mark[out[j]!] = 0
      return count
    }
  }
}

/**
 * Each candidate's dot product with `mine` (unit candidates: the cosine up to |mine|), summed in
 * index order as a plain loop would; four candidates share a pass, so four independent sums run
 * side by side instead of one chain of adds.
 */
function dotProducts(cands: ReadonlyArray<Float64Array>, mine: Float64Array): Float64Array {
  const dots = new Float64Array(cands.length)
  const n = mine.length
  let c = 0
  for (; c + 3 < cands.length; c += 4) {
    const a = cands[c]!,
      b = cands[c + 1]!,
      x = cands[c + 2]!,
      y = cands[c + 3]!
    let da = 0,
      db = 0,
      dx = 0,
      dy = 0
    for (let i = 0; i < n; i++) {
      const v = mine[i]!
      da += a[i]! * v
      db += b[i]! * v
      dx += x[i]! * v
      dy += y[i]! * v
    }
    dots[c] = da
    dots[c + 1] = db
    dots[c + 2] = dx
    dots[c + 3] = dy
  }
  for (; c < cands.length; c++) {
    const a = cands[c]!
    let d = 0
    for (let i = 0; i < n; i++) d += a[i]! * mine[i]!
    dots[c] = d
  }
  return dots
}
