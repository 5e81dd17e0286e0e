export declare function writeViaTemp(path: string, write: (fd: number) => void): void
export declare function writeViaTempAsync(path: string, write: (fd: number) => Promise<void>): Promise<void>
export declare function writeFileAtomic(path: string, data: string | Uint8Array | ReadonlyArray<Uint8Array>): void
