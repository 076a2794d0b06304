// Only correctness rules: layout is Prettier's job (`npm run format:check`),
// so no rule here may disagree with it.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig([
  // generated/ is written by `make frontend-types` from the producer's OpenAPI document.
  globalIgnores(["dist/", "coverage/", "generated/"]),
  js.configs.recommended,
  tseslint.configs.recommended,
  reactHooks.configs.flat.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      globals: globals.browser,
    },
  },
  {
    // Config files run in Node, not in the page.
    files: ["*.config.{js,ts}"],
    languageOptions: { globals: globals.node },
  },
]);
