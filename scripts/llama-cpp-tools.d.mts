/** The per-user cache llama.cpp's tools are built into. */
export function llamaCppCacheDir(): string;
/** llama.cpp's source at node-llama-cpp's commit. */
export function llamaCppSourceDir(): string;
/** Where a built tool lives (it may not exist yet). */
export function llamaToolPath(tool: string): string;
/** Clones llama.cpp's source from node-llama-cpp's bundle when missing; returns its folder. */
export function ensureLlamaCppSource(): string;
/** Builds the tools missing from the cache; returns their paths in the order asked. */
export function ensureLlamaCppTools(tools?: readonly string[]): string[];
