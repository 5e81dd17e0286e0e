import { readFileSync, existsSync } from "node:fs"
import { Schema } from "effect"
import { InputError } from "./errors.ts"
import { decodeOrThrow } from "./schemaDecode.ts"
import { hardwarePresets, modelsPresets } from "./profiles/presets.ts"

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
      json = JSON.parse(readFileSync(file, "utf8"))
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
  memo("models", nameOrFile, nameOrFile in modelsPresets, () => {
    const m = loadProfile(ModelProfileSchema, "models", nameOrFile)
    if (m.topK > m.experts)
      throw new InputError(nameOrFile, "document", "topK", `topK ${m.topK} > experts ${m.experts}`)
    return m
  })
export const loadHardware = (nameOrFile: string): HardwareProfile =>
  memo("hardware", nameOrFile, nameOrFile in hardwarePresets, () =>
    loadProfile(HardwareProfileSchema, "hardware", nameOrFile)
  )

export const expertParams = (m: ModelProfile): number => m.expertMatrices * m.hiddenSize * m.expertIntermediateSize
export const expertBytes = (m: ModelProfile): number => Math.round(expertParams(m) * m.bytesPerParam)
export const sharedExpertParams = (m: ModelProfile): number =>
  m.sharedExperts === 0 ? 0 : m.expertMatrices * m.hiddenSize * m.sharedExpertIntermediateSize
/** Bytes that stay on the GPU whatever the policy: embeddings, attention, routers, shared experts. */
export const residentBytes = (m: ModelProfile): number => Math.round(m.residentParams * m.bytesPerParam)

/** Expert slots that fit in `gpuBytes` after the resident weights. */
export function slotsForMemory(m: ModelProfile, gpuBytes: number): number {
  return Math.floor((gpuBytes - residentBytes(m)) / expertBytes(m))
}
