#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx expertflow ...` works in the repo without a build.
import { register } from "tsx/esm/api"
register()
await import("../cli/main.ts")
