// Runtime settings from an optional config.json served beside index.html, so
// one build serves every environment. Without it the API is the page's origin.
import { errorText } from "./errors";

export interface AppConfig {
  apiBaseUrl: string;
  refreshSeconds: number;
  /** The root of the documentation site (mkdocs.yml, e.g. https://<owner>.github.io/<repo>/);
   * the dead-letter figure links to its operations/dead-letters/ page. Empty: no link. */
  docsUrl: string;
}

export interface LoadedConfig {
  config: AppConfig;
  /** Set when a config.json exists but could not be used. */
  warning?: string;
}

export const DEFAULT_CONFIG: AppConfig = { apiBaseUrl: "", refreshSeconds: 3, docsUrl: "" };

export async function loadConfig(
  fetchImpl: typeof fetch = (i, init) => globalThis.fetch(i, init),
): Promise<LoadedConfig> {
  let response: Response;
  try {
    response = await fetchImpl("config.json", { cache: "no-store" });
  } catch {
    return { config: DEFAULT_CONFIG };
  }
  // Hosts with a single-page fallback (nginx try_files, CloudFront error
  // pages) answer a missing config.json with index.html: that means "none".
  if (response.status === 404 || (response.headers.get("Content-Type") ?? "").includes("html")) {
    return { config: DEFAULT_CONFIG };
  }
  if (!response.ok) {
    return { config: DEFAULT_CONFIG, warning: `config.json: HTTP ${response.status}; using this site's API` };
  }
  try {
    return { config: parseConfig(await response.json()) };
  } catch (err) {
    return { config: DEFAULT_CONFIG, warning: `config.json ignored: ${errorText(err)}` };
  }
}

export function parseConfig(raw: unknown): AppConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error("not a JSON object");
  }
  const { apiBaseUrl, refreshSeconds, docsUrl } = raw as Record<string, unknown>;
  const config = { ...DEFAULT_CONFIG };
  if (apiBaseUrl !== undefined) {
    if (typeof apiBaseUrl !== "string") throw new Error("apiBaseUrl must be a string");
    if (apiBaseUrl && !/^https?:\/\//.test(apiBaseUrl))
      throw new Error("apiBaseUrl must start with http:// or https://");
    config.apiBaseUrl = apiBaseUrl;
  }
  if (refreshSeconds !== undefined) {
    if (typeof refreshSeconds !== "number" || !(refreshSeconds >= 1 && refreshSeconds <= 300)) {
      throw new Error("refreshSeconds must be a number from 1 to 300");
    }
    config.refreshSeconds = refreshSeconds;
  }
  if (docsUrl !== undefined) {
    if (typeof docsUrl !== "string" || !/^https?:\/\//.test(docsUrl))
      throw new Error("docsUrl must start with http:// or https://");
    config.docsUrl = docsUrl;
  }
  return config;
}
