export declare const codeCacheOf: (file: string) => string
export declare function runCommonJs(file: string): void
