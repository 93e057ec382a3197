// Runs the longest test files first (longest-processing-time-first scheduling), so the suite does
// not end with its few long files, most of them local-world releases that wait on bakes, running
// one after another while the other workers sit idle. Jest's own order needs durations from an
// earlier run on the same path; a fresh clone (CI) has none and falls back to file size, which
// puts exactly those small, long files last. Durations are seconds measured with `npm test` on the
// 2-core machine (expected-durations.json; refresh it with
// `npx jest --json --outputFile=/tmp/jest.json` when the suite changes shape); a file not listed
// is estimated from its size.
/* global require, module, __dirname */
/* eslint-disable @typescript-eslint/no-require-imports -- jest loads this CommonJS file itself */
'use strict';
const { statSync } = require('node:fs');
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;
const EXPECTED_SECONDS = require('./expected-durations.json');

const ROOT = path.join(__dirname, '..', '..');
/** About one second per 10 KB of test source: what the unlisted, unit-test files take. */
const BYTES_PER_SECOND = 10_000;

function expectedSeconds(test) {
  const listed = EXPECTED_SECONDS[path.relative(ROOT, test.path).split(path.sep).join('/')];
  return listed ?? statSync(test.path).size / BYTES_PER_SECOND;
}

class LongestFirstSequencer extends Sequencer {
  sort(tests) {
    return [...tests].sort((a, b) => expectedSeconds(b) - expectedSeconds(a) || a.path.localeCompare(b.path));
  }
}

module.exports = LongestFirstSequencer;
