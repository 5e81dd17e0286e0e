/** Fitted generator parameters shipped with the tool (rebuilt by build.ts from ../shared). */
import mixtral from "./mixtral-8x7b.json" with { type: "json" }
import olmoe from "./olmoe-1b-7b.json" with { type: "json" }

export const generatorPresets: Record<string, unknown> = { "mixtral-8x7b": mixtral, "olmoe-1b-7b": olmoe }
