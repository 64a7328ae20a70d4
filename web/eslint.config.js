import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["static/app/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser, L: "readonly" },
    },
    rules: { "no-unused-vars": ["error", { args: "none" }], eqeqeq: "error", "no-var": "error", "prefer-const": "error" },
  },
  {
    files: ["test/**/*.mjs", "scripts/**/*.mjs", "bench/**/*.mjs"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node, document: "readonly" } },
  },
];
