/**
 * Node-only half of the kernel loader: reads file: URLs (build/*.wasm next to the package) with
 * node:fs. Imported for its side effect by the Node entry (src/node.ts), so the universal loader
 * (src/wasm.ts) never references a Node module and bundles cleanly for browsers.
 */
import { readFile } from 'node:fs/promises';
import { setUrlReader } from './wasm.js';

setUrlReader((url) => (url.protocol === 'file:' ? readFile(url) : null));

export {};
