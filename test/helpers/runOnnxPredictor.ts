/**
 * Runs workflows/runOnnxPredictor.ts outside jest (onnxruntime-node's tensors do not cross jest's VM
 * realm): `node --import tsx test/helpers/runOnnxPredictor.ts MODEL TRACE PROFILE [--no-token-ids]`
 * prints {inputs, perLayer, ids} or {error, kind} as JSON.
 */
import { InputError } from "../../base/errors.ts"
import { loadModel } from "../../base/profiles.ts"
import { loadTrace } from "../../traces/load.ts"
import { computeOnnxRoutes } from "../../workflows/runOnnxPredictor.ts"

const [model, tracePath, profile, flag] = process.argv.slice(2)
const loaded = loadTrace(tracePath!, loadModel(profile!))
const trace = flag === "--no-token-ids" ? { ...loaded, tokenId: null } : loaded
try {
  const r = await computeOnnxRoutes(model!, trace, tracePath!)
  process.stdout.write(JSON.stringify({ inputs: r.inputs, perLayer: r.perLayer, ids: Array.from(r.ids) }))
} catch (e) {
  process.stdout.write(
    JSON.stringify({ error: (e as Error).message, kind: e instanceof InputError ? "input" : "other" })
  )
}
