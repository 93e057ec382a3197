/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Transpile only: `npm test` runs `tsc --noEmit` as its own step.
  transform: { '^.+\\.ts$': '<rootDir>/jest-esbuild-transform.js' },
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
  testTimeout: 30000,
  // Most suites wait on timers and sockets rather than the CPU: two workers on two cores keep
  // `npm test` within its 3-minute budget (jest's default here would be one).
  maxWorkers: 2,
};
