export declare const packageRoot: string
export declare const defaultCacheDir: string
export declare function cachedBundle(entry: string, cacheDir?: string, format?: "esm" | "cjs"): string
