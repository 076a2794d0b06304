// Client for the countq producer API. Every failure becomes an ApiError whose
// message a person can act on: the page shows it as is.

export interface CountSummary {
  rows: number;
  last_value: number | null;
  last_id: string | null;
  updated_at: string | null;
  hostname: string;
}

export interface Stats {
  backlog: number;
  pending: number;
  dead_letters: number;
  stored_rows: number;
  oldest_age_seconds: number;
  consumers: number;
  hostname: string;
}

export interface Queued {
  id: string;
  status: string;
}

export type ApiErrorKind = "unreachable" | "timeout" | "http" | "invalid";

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  readonly status: number | undefined;

  constructor(kind: ApiErrorKind, message: string, status?: number) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
  }
}

export interface ApiClientOptions {
  /** Base URL of the API; "" means the page's own origin. */
  baseUrl?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const DEFAULT_TIMEOUT_MS = 8000;

export class ApiClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ApiClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // Bound late so tests that replace globalThis.fetch are honoured.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  getCount(): Promise<CountSummary> {
    return this.request<CountSummary>("GET", "/count");
  }

  getStats(): Promise<Stats> {
    return this.request<Stats>("GET", "/stats");
  }

  postCount(count: number): Promise<Queued> {
    return this.request<Queued>("POST", "/count", { count });
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const what = `${method} ${path}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let response: Response;
    try {
      const init: RequestInit = {
        method,
        headers: { Accept: "application/json" },
        signal: controller.signal,
        cache: "no-store",
      };
      if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers = { Accept: "application/json", "Content-Type": "application/json" };
      }
      response = await this.fetchImpl(`${this.baseUrl}${path}`, init);
    } catch (err) {
      if (controller.signal.aborted) {
        throw new ApiError("timeout", `${what}: no answer from the API within ${this.timeoutMs / 1000} s`);
      }
      // fetch rejects only when no HTTP answer came back at all: server down,
      // DNS, TLS, CORS. The browser hides which, so name the address tried.
      throw new ApiError("unreachable", `${what}: cannot reach the API at ${this.describeBase()} (${errorText(err)})`);
    } finally {
      clearTimeout(timer);
    }

    const text = await response.text().catch(() => "");
    if (!response.ok) {
      const reason = detailFrom(text) ?? (response.statusText || "no message from the server");
      throw new ApiError("http", `${what} failed: HTTP ${response.status}: ${reason}`, response.status);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(
        "invalid",
        `${what}: the server answered HTTP ${response.status} but not with JSON`,
        response.status,
      );
    }
  }

  private describeBase(): string {
    if (this.baseUrl) return this.baseUrl;
    return typeof location === "undefined" ? "this site" : location.origin;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The server's own explanation: {"detail": "..."} or FastAPI's list of validation errors. */
export function detailFrom(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // A proxy's HTML error page says nothing useful; a short plain text might.
    const plain = text.trim();
    return plain && !plain.startsWith("<") && plain.length <= 200 ? plain : undefined;
  }
  if (typeof parsed !== "object" || parsed === null || !("detail" in parsed)) return undefined;
  const detail = (parsed as { detail: unknown }).detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    const messages = detail
      .map((item: unknown) =>
        typeof item === "object" && item !== null && "msg" in item ? String((item as { msg: unknown }).msg) : undefined,
      )
      .filter((msg): msg is string => Boolean(msg));
    return messages.length ? messages.join("; ") : undefined;
  }
  return undefined;
}
