// Lint rules: the recommended sets, plus the few that catch release-path bugs (floating promises).
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'dist/', 'coverage/', '*.js', '*.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The release page's script runs in the browser as an ES module (no build step); these are
    // the browser globals it uses, named one by one rather than pulling in every browser global.
    files: ['local/page/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { document: 'readonly', location: 'readonly', fetch: 'readonly', URLSearchParams: 'readonly', setTimeout: 'readonly', Chart: 'readonly' },
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
);
