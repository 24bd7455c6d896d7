import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const SQL_ONLY_IN_DB =
  "SQL lives in src/db/, one module per aggregate (STYLE.md rule 13): call a named function of the aggregate's module.";

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'migrations/**', 'coverage/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(node:|fs|net|http|https|crypto|postgres|drizzle-orm|express|pino|pg)',
              message: 'Workflow code must be deterministic: import only @temporalio/workflow and pure modules.',
            },
            {
              regex: '^\\.\\./(src/(?!domain/|temporal/search-attributes)|activities/(?!types))',
              message: 'Workflows import only pure src/domain modules and `import type` from activities.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    // STYLE.md rule 13: SQL lives in src/db/, one module per aggregate; everything else calls its named functions.
    // Tests and benchmarks may look at the database directly.
    files: ['src/**/*.ts', 'activities/**/*.ts'],
    ignores: ['src/db/**', '**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(postgres|drizzle-orm)(/|$)',
              message: SQL_ONLY_IN_DB,
            },
            {
              regex: '/db/client(\\.js)?$',
              importNames: ['Sql', 'Orm'],
              message: SQL_ONLY_IN_DB,
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "TaggedTemplateExpression[tag.type='Identifier'][tag.name=/^(sql|tx)$/]",
          message: SQL_ONLY_IN_DB,
        },
        {
          selector: "TaggedTemplateExpression[tag.type='MemberExpression'][tag.property.name='sql']",
          message: SQL_ONLY_IN_DB,
        },
        {
          selector: "CallExpression[callee.property.name='unsafe']",
          message: SQL_ONLY_IN_DB,
        },
        {
          selector: "MemberExpression[property.name='orm']",
          message: SQL_ONLY_IN_DB,
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
