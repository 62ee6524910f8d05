export declare function engineCmakeOptions(arch?: string): Record<string, string>;
