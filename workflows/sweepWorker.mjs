// Worker bootstrap: worker threads start without the main thread's TypeScript loader.
import { register } from "tsx/esm/api"
register()
await import("./sweepWorker.ts")
