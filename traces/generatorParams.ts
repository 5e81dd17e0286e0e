/**
 * Parameters of the realistic trace generator (traces/generator.ts), as JSON: written by
 * `trace fit`, shipped per model preset in traces/generator-presets/, or written by hand.
 */
import { Schema } from "effect"
import { readInput } from "../base/readInput.ts"
import { InputError } from "../base/errors.ts"
import { decodeOrThrow } from "../base/schemaDecode.ts"
import { loadModel } from "../base/profiles.ts"
import { generatorPresets } from "./generator-presets/index.ts"

const Prob = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(1))
const NonNeg = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
/** A layer's popularity: explicit weights per expert, or a Zipf law over a seeded random ranking. */
const Popularity = Schema.Union([Schema.Struct({ weights: Schema.Array(NonNeg) }), Schema.Struct({ zipf: NonNeg })])

export const GeneratorParamsSchema = Schema.Struct({
  model: Schema.Struct({ name: Schema.String, layers: Schema.Int, experts: Schema.Int, topK: Schema.Int }),
  source: Schema.String,
  layers: Schema.Array(
    Schema.Struct({
      /** Per domain (same order as `domains`), or one entry for all. */
      popularity: Schema.Array(Popularity),
      /** Probability that a pick reuses an expert of the request's previous token at this layer. */
      reuse: Prob,
      /** Probability that a pick follows the transition from the previous layer's first expert. */
      affinity: Prob,
      /** Row e: weights of this layer's experts after expert e at the previous layer (E × E), or omitted: seeded
       * sparse successors. */
      transition: Schema.optionalKey(Schema.Array(Schema.Array(NonNeg)))
    })
  ),
  domains: Schema.Array(Schema.Struct({ name: Schema.String, weight: NonNeg })),
  /** Gate weights: sorted Gamma(shape) draws, normalized. */
  weightShape: NonNeg,
  /** Share of each request's tokens that are prefill (0 = decode-only). */
  prefillFraction: Prob,
  lookahead: Schema.optionalKey(
    Schema.Struct({ depth: Schema.Int, a: Schema.Finite, b: Schema.Finite, c: Schema.Finite })
  )
})
export type GeneratorParams = typeof GeneratorParamsSchema.Type

export function loadGeneratorParams(pathOrPreset: string): GeneratorParams {
  const preset = generatorPresets[pathOrPreset]
  if (preset !== undefined) return decodeOrThrow(GeneratorParamsSchema, preset, `generator preset ${pathOrPreset}`)
  let json: unknown
  try {
    json = JSON.parse(readInput(pathOrPreset, "utf8"))
  } catch (e) {
    throw new InputError(pathOrPreset, "document", "(json)", (e as Error).message)
  }
  return decodeOrThrow(GeneratorParamsSchema, json, pathOrPreset)
}

/** Defaults for a model preset without a fitted parameter file: moderate skew, reuse and affinity. */
export function defaultParams(modelId: string): GeneratorParams {
  const m = loadModel(modelId)
  return {
    model: { name: m.id, layers: m.layers, experts: m.experts, topK: m.topK },
    source: `defaults for ${m.id} (not fitted to a trace)`,
    layers: Array.from({ length: m.layers }, () => ({ popularity: [{ zipf: 0.6 }], reuse: 0.3, affinity: 0.2 })),
    domains: [{ name: "default", weight: 1 }],
    weightShape: 2,
    prefillFraction: 0,
    lookahead: { depth: Math.min(8, m.layers - 1), a: 0.5, b: 0.35, c: 0.3 }
  }
}

/** The same parameters recording pre-gate lookahead for d = 1..depth (0: none), same accuracy curve. */
export function withLookahead(p: GeneratorParams, depth: number): GeneratorParams {
  const { lookahead, ...rest } = p
  const curve = lookahead ?? { depth: 0, a: 0.5, b: 0.35, c: 0.3 }
  return depth > 0 ? { ...rest, lookahead: { ...curve, depth: Math.min(depth, p.model.layers - 1) } } : rest
}

/** Lookahead depth a generated trace will have. */
export const lookaheadDepthOf = (p: GeneratorParams): number =>
  p.lookahead ? Math.min(p.lookahead.depth, p.model.layers - 1) : 0

/** Parameters for --preset MODEL: the shipped fitted file if there is one, else defaults. */
export function presetParams(modelId: string): GeneratorParams {
  // A quantized variant (id@format) routes as its base model does.
  const id = modelId.includes("@") ? modelId.slice(0, modelId.lastIndexOf("@")) : modelId
  return generatorPresets[id] !== undefined ? loadGeneratorParams(id) : defaultParams(id)
}
