/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Transpile only: `npm test` runs `tsc --noEmit` as its own step.
  transform: { '^.+\\.ts$': '<rootDir>/jest-esbuild-transform.js' },
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
  testTimeout: 30000,
  // The local-world suites spend much of their time waiting on bakes: a third worker keeps both
  // cores busy meanwhile (jest's default here would be one). The longest files start first, so no
  // long file is left to run alone at the end (see the sequencer).
  maxWorkers: 3,
  testSequencer: '<rootDir>/test/support/longest-first-sequencer.js',
};
