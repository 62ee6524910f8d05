import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

const NO_TEST = { group: ["**/test/**"], message: "src/, bench/ and scripts/ never import test/." };

export default tseslint.config(
  { ignores: ["node_modules/", ".cache/", "scratch/", "web/vendor/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ["web/**/*.js"], languageOptions: { globals: globals.browser } },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
    },
  },
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // The bugs that matter in an async server: promises nobody awaits or catches.
      "@typescript-eslint/no-floating-promises": [
        "error",
        // node:test's describe/it return promises the runner itself tracks.
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["describe", "it", "test", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
    },
  },
  // A function a newcomer can read in one screen; longer ones say why, in the disable comment.
  {
    files: ["src/**/*.ts"],
    rules: { "max-lines-per-function": ["error", { max: 60, skipBlankLines: true, skipComments: true }] },
  },
  // The layers, enforced (one no-restricted-imports per file: ESLint does not merge its options):
  // only the in-process engine touches node-llama-cpp; the HTTP layer sees the engine only
  // through its types and errors (a remote engine implements the same); tests depend on the
  // product, never the other way round.
  {
    files: ["bench/**/*.ts", "scripts/**/*.mjs", "src/engine/llama/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [NO_TEST] }] },
  },
  {
    files: ["src/**/*.ts"],
    ignores: ["src/engine/llama/**", "src/api/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [{ name: "node-llama-cpp", message: "Only src/engine/llama/ imports node-llama-cpp." }],
          patterns: [NO_TEST],
        },
      ],
    },
  },
  {
    files: ["src/api/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [{ name: "node-llama-cpp", message: "api/ never imports node-llama-cpp." }],
          patterns: [
            {
              group: ["**/engine/*", "!**/engine/types.js", "!**/engine/errors.js", "**/engine/*/**"],
              message: "api/ imports only engine/types and engine/errors: the engine behind it may be remote.",
            },
            NO_TEST,
          ],
        },
      ],
    },
  },
);
