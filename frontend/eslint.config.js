// Only correctness rules: layout is Prettier's job (`npm run format:check`),
// so no rule here may disagree with it.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig([
  globalIgnores(["dist/", "coverage/"]),
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
