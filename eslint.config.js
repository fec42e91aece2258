// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".vigil/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "no-restricted-properties": ["error", { object: "Math", property: "random", message: "Use node:crypto for identifiers and secrets." }],
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/explicit-function-return-type": ["error", { allowExpressions: true, allowTypedFunctionExpressions: true }],
      // @kubernetes/client-node models are classes, but its documented API takes plain object literals.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
      complexity: ["warn", 15],
      "max-depth": ["error", 4],
    },
  },
  {
    // Caps in the spirit of pepr: small functions, short parameter lists, files with one job.
    files: ["lib/**/*.ts", "operator/**/*.ts", "sidecar/**/*.ts", "cli/**/*.ts", "console/**/*.ts"],
    rules: {
      "max-params": ["error", 5],
      "max-lines-per-function": ["error", { max: 80, skipBlankLines: true, skipComments: true }],
      "max-lines": ["error", { max: 400, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/explicit-function-return-type": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
      complexity: "off",
    },
  },
  { files: ["**/*.js", "**/*.mjs"], ...tseslint.configs.disableTypeChecked },
  {
    // Plain Node programs shipped in test images (test/cluster/images/*): no type information, Node's globals.
    files: ["**/*.mjs"],
    languageOptions: {
      globals: { process: "readonly", Buffer: "readonly", console: "readonly", fetch: "readonly", AbortSignal: "readonly", URL: "readonly" },
    },
    rules: { "@typescript-eslint/explicit-function-return-type": "off" },
  },
);
