import { Command, Flag } from "effect/cli"
import { type AccuracyCurve, accuracyCurve } from "../workflows/accuracy.ts"
import { onnxRoutesFor } from "../workflows/runOnnxPredictor.ts"
import { UsageError } from "../base/errors.ts"
import { loadModel } from "../base/profiles.ts"
import { buildAccessStream } from "../traces/batching.ts"
import { carriesModel, loadTrace } from "../traces/load.ts"
import { predictors } from "../policies/registry.ts"
import { crossFit, separateTrace } from "../policies/training.ts"
import { action, opt } from "./action.ts"
import { defaulted, modelFlag, outputFormatFlag } from "./flags.ts"

export const accuracyCommand = Command.make(
  "accuracy",
  {
    trace: Flag.String("trace").pipe(Flag.withDescription("trace file (required)")),
    model: modelFlag("optional-for-self-describing"),
    predictors: Flag.String("predictors").pipe(
      defaulted("prev-token,transition,hybrid", "predictors to score, comma-separated")
    ),
    maxDistance: Flag.Int("max-distance").pipe(defaulted(8, "largest lookahead distance d, in layers")),
    batch: Flag.Int("batch").pipe(defaulted(1, "continuous-batching width")),
    train: Flag.optional(Flag.String("train")).pipe(
      Flag.withDescription("training trace (default: 2-fold cross-fitting on this trace)")
    ),
    format: outputFormatFlag
  },
  (f) =>
    action(async () => {
      const modelName = opt(f.model)
      if (modelName === undefined && !carriesModel(f.trace))
        throw new UsageError(`--model is needed: ${f.trace} does not say its model's shape`)
      const model = modelName === undefined ? null : loadModel(modelName)
      const load = (path: string) => loadTrace(path, model, undefined, { weights: false })
      const trace = load(f.trace)
      const stream = buildAccessStream(trace, f.batch)
      const trainPath = opt(f.train)
      const train = trainPath === undefined ? null : { path: trainPath, trace: load(trainPath) }
      const training = train
        ? separateTrace(buildAccessStream(train.trace, f.batch), train.trace, train.path)
        : crossFit(stream, trace)
      // NAME or NAME:ARG:ARG (onnx:FILE), as in a policy spec's predictor=.
      const named = f.predictors.split(",").map((s) => {
        const [name, ...args] = s.trim().split(":")
        return { name: name!, args }
      })
      for (const { name } of named)
        if (!(name in predictors))
          throw new UsageError(`unknown predictor '${name}' (known: ${Object.keys(predictors).join(", ")})`)
      const curves: AccuracyCurve[] = []
      for (const { name, args } of named) {
        const onnx = name === "onnx" && args[0] ? await onnxRoutesFor(args[0], trace, f.trace) : undefined
        curves.push(
          accuracyCurve(name, trace, f.trace, stream, training, f.maxDistance, 0, { args, ...(onnx ? { onnx } : {}) })
        )
      }
      if (f.format === "json") {
        process.stdout.write(`${JSON.stringify({ trace: f.trace, training: training.description, curves })}\n`)
        return
      }
      process.stdout.write(`recall (B_acc per target layer) against lookahead distance d; ${training.description}\n\n`)
      process.stdout.write(
        `${"predictor".padEnd(12)} ${curves[0]!.distances.map((d) => `d=${d}`.padStart(7)).join("")}   fit ` +
          `a·e^(−b·d)+c\n`
      )
      for (const c of curves) {
        const recall = c.recall.map((r) => `${(r * 100).toFixed(1)}%`.padStart(7)).join("")
        const fit = c.fit ? `a=${c.fit.a} b=${c.fit.b} c=${c.fit.c} (rmse ${c.fit.rmse})` : ""
        process.stdout.write(`${c.predictor.padEnd(12)} ${recall}   ${fit}${c.note ? `  [${c.note}]` : ""}\n`)
      }
    })
).pipe(
  Command.withDescription("prediction accuracy against lookahead distance, with the EF-A exponential fit"),
  Command.withExamples([
    {
      command:
        "expertflow accuracy --trace ../shared/traces/mixtral-8x7b-vllm/humaneval_2_routing.jsonl " +
        "--model mixtral-8x7b --predictors prev-token,transition",
      description: "recall at d = 1..8 layers ahead"
    }
  ])
)
