import { existsSync } from "node:fs"
import { readInput } from "./readInput.ts"
import { Schema } from "effect"
import { InputError } from "./errors.ts"
import { decodeOrThrow } from "./schemaDecode.ts"
import { hardwarePresets, modelsPresets } from "./profiles/presets.ts"
import { expertBytesIn, parseWeightFormat } from "./weightFormats.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Positive = Schema.Finite.check(Schema.isGreaterThan(0))
const Sources = Schema.Record(Schema.String, Schema.String)

/** An MoE model as the simulator sees it: sizes only, every number with its public source. */
export const ModelProfileSchema = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  layers: PositiveInt,
  experts: PositiveInt,
  topK: PositiveInt,
  sharedExperts: NonNegativeInt,
  hiddenSize: PositiveInt,
  expertIntermediateSize: PositiveInt,
  expertMatrices: PositiveInt,
  sharedExpertIntermediateSize: NonNegativeInt,
  bytesPerParam: Positive,
  nonExpertParamsPerLayer: NonNegativeInt,
  residentParams: NonNegativeInt,
  /** Expert weight format (base/weightFormats.ts); absent: `bytesPerParam` per weight. */
  expertFormat: Schema.optionalKey(Schema.String),
  /** One expert's bytes per layer, as a GGUF mix or an engine's trace header gives them. */
  expertBytesPerLayer: Schema.optionalKey(Schema.Array(PositiveInt)),
  sources: Sources
})
export type ModelProfile = typeof ModelProfileSchema.Type

/** A measured time table: tokens → ns, interpolated linearly, extrapolated from the last two points. */
const TimeTable = Schema.Array(Schema.Struct({ tokens: PositiveInt, ns: Positive }))

/** A GPU + host link. Datasheet presets, or a profile written by `hw calibrate`. */
export const HardwareProfileSchema = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  h2dBandwidthGBps: Positive,
  h2dLatencyNs: NonNegativeInt,
  copyEngines: PositiveInt,
  hbmBandwidthGBps: Positive,
  bf16Tflops: Positive,
  expertLaunchNs: NonNegativeInt,
  nonExpertLaunchNs: NonNegativeInt,
  gpuMemoryBytes: PositiveInt,
  /** Measured expert FFN time against tokens routed to the expert (replaces the roofline). */
  expertFfnTable: Schema.optionalKey(TimeTable),
  /** Measured non-expert layer time against tokens in the step (replaces the roofline). */
  nonExpertTable: Schema.optionalKey(TimeTable),
  /** Measured H2D time against transfer size; replaces latency + bytes/bandwidth when present. */
  h2dTable: Schema.optionalKey(Schema.Array(Schema.Struct({ bytes: PositiveInt, ns: Positive }))),
  sources: Sources
})
export type HardwareProfile = typeof HardwareProfileSchema.Type

const presets = (kind: "models" | "hardware") => (kind === "models" ? modelsPresets : hardwarePresets)
export const modelPresetIds = (): string[] => Object.keys(modelsPresets)
export const hardwarePresetIds = (): string[] => Object.keys(hardwarePresets)
const listPresets = (kind: "models" | "hardware"): string[] => Object.keys(presets(kind))

/** Every numeric field must say where its number comes from. */
function requireSources(p: Record<string, unknown>, sources: Record<string, string>, file: string): void {
  const missing = Object.keys(p).filter((k) => typeof p[k] === "number" && !(k in sources))
  if (missing.length > 0)
    throw new InputError(file, "document", `sources.${missing[0]}`, `no source given for ${missing.join(", ")}`)
}

function loadProfile<S extends Schema.ConstraintDecoder<unknown>>(
  schema: S,
  kind: "models" | "hardware",
  nameOrFile: string
): S["Type"] {
  const preset = presets(kind)[nameOrFile]
  const file = preset !== undefined ? `preset ${nameOrFile}` : nameOrFile
  if (preset === undefined && !existsSync(file)) {
    throw new InputError(
      nameOrFile,
      kind === "models" ? "--model" : "--hw",
      "name",
      `unknown ${kind === "models" ? "model" : "hardware"} preset or missing file; presets: ` +
        `${listPresets(kind).join(", ")}`
    )
  }
  let json: unknown = preset
  if (preset === undefined) {
    try {
      json = JSON.parse(readInput(file, "utf8"))
    } catch (e) {
      throw new InputError(file, "document", "(json)", (e as Error).message)
    }
  }
  const profile = decodeOrThrow(schema, json, file) as S["Type"] & { sources: Record<string, string> }
  requireSources(profile as Record<string, unknown>, profile.sources, file)
  return profile
}

/** Presets are decoded once per process (sweeps load them for every cell); files are read each time. */
const decoded = new Map<string, ModelProfile | HardwareProfile>()
function memo<T extends ModelProfile | HardwareProfile>(
  kind: string,
  name: string,
  isPreset: boolean,
  load: () => T
): T {
  if (!isPreset) return load()
  const key = `${kind}:${name}`
  let v = decoded.get(key) as T | undefined
  if (!v) {
    v = load()
    decoded.set(key, v)
  }
  return v
}

export const loadModel = (nameOrFile: string): ModelProfile =>
  memo("models", nameOrFile, presetPart(nameOrFile) in modelsPresets, () => {
    const at = nameOrFile.lastIndexOf("@")
    const base = at > 0 && presetPart(nameOrFile) in modelsPresets ? nameOrFile.slice(0, at) : nameOrFile
    const m = loadProfile(ModelProfileSchema, "models", base)
    if (m.topK > m.experts)
      throw new InputError(nameOrFile, "document", "topK", `topK ${m.topK} > experts ${m.experts}`)
    if (m.expertBytesPerLayer && m.expertBytesPerLayer.length !== m.layers)
      throw new InputError(
        nameOrFile,
        "document",
        "expertBytesPerLayer",
        `${m.expertBytesPerLayer.length} entries for ${m.layers} layers`
      )
    if (m.expertFormat !== undefined) checkFormat(m.expertFormat, nameOrFile)
    return base === nameOrFile ? m : quantized(m, nameOrFile.slice(at + 1))
  })

/** "mixtral-8x7b@hqq-4/3" → "mixtral-8x7b": the preset a quantized variant starts from. */
const presetPart = (name: string): string => (name.includes("@") ? name.slice(0, name.lastIndexOf("@")) : name)

function checkFormat(format: string, file: string): void {
  try {
    parseWeightFormat(format)
  } catch (e) {
    throw new InputError(file, "document", "expertFormat", (e as Error).message)
  }
}

/**
 * A preset's quantized variant (`id@FORMAT`). The suffix quantizes the experts; the resident
 * weights keep the base precision (an upper bound on their size), except `hqq-A/E`:
 * mixtral-offloading's mix, attention at A bits and experts at E bits, both HQQ with group 64
 * (fp16 scale and zero per group, no meta-quantization).
 */
function quantized(m: ModelProfile, suffix: string): ModelProfile {
  const mix = /^hqq-([2348])\/([2348])$/.exec(suffix)
  const format = mix ? `hqq${mix[2]}-g64` : suffix
  const f = parseWeightFormat(format)
  const residentBytesPerParam = mix ? Number(mix[1]) / 8 + 4 / 64 : m.bytesPerParam
  return {
    ...m,
    id: `${m.id}@${suffix}`,
    name: `${m.name} (${suffix})`,
    bytesPerParam: residentBytesPerParam,
    expertFormat: format,
    sources: {
      ...m.sources,
      expertFormat:
        `${f.formula}; expert = ${m.expertMatrices} matrices of ` + `${m.hiddenSize} × ${m.expertIntermediateSize}`,
      ...(mix
        ? {
            bytesPerParam:
              `HQQ ${mix[1]}-bit attention, group 64: ${mix[1]}/8 B + 4 B per 64 weights ` +
              "(mixtral-offloading's mix)"
          }
        : {})
    }
  }
}
export const loadHardware = (nameOrFile: string): HardwareProfile =>
  memo("hardware", nameOrFile, nameOrFile in hardwarePresets, () =>
    loadProfile(HardwareProfileSchema, "hardware", nameOrFile)
  )

export const expertParams = (m: ModelProfile): number => m.expertMatrices * m.hiddenSize * m.expertIntermediateSize

/** One expert's bytes at each layer: the explicit list, else the weight format, else bytesPerParam. */
export function expertBytesByLayer(m: ModelProfile): Float64Array {
  if (m.expertBytesPerLayer) return Float64Array.from(m.expertBytesPerLayer)
  const one =
    m.expertFormat !== undefined
      ? expertBytesIn(parseWeightFormat(m.expertFormat), m.hiddenSize, m.expertIntermediateSize, m.expertMatrices)
      : Math.round(expertParams(m) * m.bytesPerParam)
  return new Float64Array(m.layers).fill(one)
}
/** The largest expert's bytes (every expert when sizes are uniform): a uniform slot's size. */
export const expertBytes = (m: ModelProfile): number => Math.max(...expertBytesByLayer(m))
export const sharedExpertParams = (m: ModelProfile): number =>
  m.sharedExperts === 0 ? 0 : m.expertMatrices * m.hiddenSize * m.sharedExpertIntermediateSize
/** Bytes that stay on the GPU whatever the policy: embeddings, attention, routers, shared experts. */
export const residentBytes = (m: ModelProfile): number => Math.round(m.residentParams * m.bytesPerParam)

/** Expert slots that fit in `gpuBytes` after the resident weights. */
export function slotsForMemory(m: ModelProfile, gpuBytes: number): number {
  return Math.floor((gpuBytes - residentBytes(m)) / expertBytes(m))
}
