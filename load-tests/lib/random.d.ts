/** Types of random.js, for the TypeScript tools that import it. */
export declare function prng(seed: number): () => number;
export declare function zipfPicker(n: number, s: number, random: () => number): () => number;
