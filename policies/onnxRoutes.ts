/** The ONNX model's decisions for every query of a trace (workflows/runOnnxPredictor.ts computes them). */
export interface OnnxRoutes {
  readonly file: string
  readonly inputs: ReadonlyArray<string>
  /** Queried once per (token, current layer −1..L−2) when true; once per token before its first layer when false. */
  readonly perLayer: boolean
  /** Experts kept per (token, query, target layer), best first. */
  readonly picks: number
  /** tokens × queries × layers × picks expert ids (GAP where the model named fewer). */
  readonly ids: Uint16Array
  /** Mean measured inference time per query (wall clock of the batched runs). */
  readonly nsPerQuery: number
}
