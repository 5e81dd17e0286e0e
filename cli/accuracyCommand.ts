import { Command, Flag } from "effect/cli"
import { accuracyCurve } from "../workflows/accuracy.ts"
import { UsageError } from "../base/errors.ts"
import { loadModel } from "../base/profiles.ts"
import { buildAccessStream } from "../traces/batching.ts"
import { loadTrace } from "../traces/load.ts"
import { predictors } from "../policies/registry.ts"
import { crossFit, separateTrace } from "../policies/training.ts"
import { action, opt } from "./action.ts"

export const accuracyCommand = Command.make(
  "accuracy",
  {
    trace: Flag.String("trace"),
    model: Flag.String("model"),
    predictors: Flag.String("predictors").pipe(Flag.withDefault("prev-token,transition,hybrid")),
    maxDistance: Flag.Int("max-distance").pipe(Flag.withDefault(8)),
    batch: Flag.Int("batch").pipe(Flag.withDefault(1)),
    train: Flag.optional(Flag.String("train")),
    format: Flag.Literals("format", ["table", "json"] as const).pipe(Flag.withDefault("table" as const))
  },
  (f) =>
    action(() => {
      const model = loadModel(f.model)
      const trace = loadTrace(f.trace, model)
      const stream = buildAccessStream(trace, f.batch)
      const trainPath = opt(f.train)
      const training = trainPath
        ? separateTrace(buildAccessStream(loadTrace(trainPath, model), f.batch), loadTrace(trainPath, model), trainPath)
        : crossFit(stream, trace)
      const names = f.predictors.split(",").map((s) => s.trim())
      for (const n of names)
        if (!(n in predictors))
          throw new UsageError(`unknown predictor '${n}' (known: ${Object.keys(predictors).join(", ")})`)
      const curves = names.map((n) => accuracyCurve(n, trace, f.trace, stream, training, f.maxDistance))
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
).pipe(Command.withDescription("prediction accuracy against lookahead distance, with the EF-A exponential fit"))
