import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // child processes, so the relaxed-SIMD build can be tested too: Node 20 accepts this flag on
    // the command line (not in NODE_OPTIONS or worker_threads execArgv)
    pool: 'forks',
    execArgv: ['--experimental-wasm-relaxed-simd'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
