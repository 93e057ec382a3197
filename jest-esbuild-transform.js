// Jest transform: TypeScript to CommonJS with esbuild, one file at a time. Type-checking is
// `npm test`'s own `tsc --noEmit` step (tsconfig has isolatedModules, so per-file transpiling is
// exact); esbuild does it many times faster than ts-jest on a cold cache, as CI always has.
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: 'ts',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'external',
      sourcefile: filename,
      // As tsc's CommonJS output does: import() becomes require(), which jest's runtime supports.
      supported: { 'dynamic-import': false },
    });
    return { code, map };
  },
};
