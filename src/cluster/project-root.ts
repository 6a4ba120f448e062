import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (where package.json is): two levels above this file, in src/ and in dist/. */
export const PROJECT_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
