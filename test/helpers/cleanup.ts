// Every test file's temporary folders go when it ends (jest setupFilesAfterEnv).
import { afterAll } from "@jest/globals"
import { removeTempDirs } from "./fixtures.ts"

afterAll(removeTempDirs)
