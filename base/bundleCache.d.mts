export declare const packageRoot: string
export declare const defaultCacheDir: string
export declare function cachedBundle(esbuild: typeof import("esbuild"), entry: string, cacheDir?: string): string
