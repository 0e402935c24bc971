// Types for scripts/dist-fresh.mjs (imported by the vitest globalSetup in test/helpers/worker-build.ts).
export declare function sourceDigests(): { typescript: string; wasm: string };
export declare function staleParts(): ('typescript' | 'wasm')[];
export declare function recordDigests(parts?: ('typescript' | 'wasm')[], now?: { typescript: string; wasm: string }): void;
export declare function ensureFreshDist(): Promise<('typescript' | 'wasm')[]>;
