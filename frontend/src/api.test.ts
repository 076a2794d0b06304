import { ApiClient, ApiError, detailFrom, type CountSummary, type Queued, type Stats } from "./api";

const SUMMARY = {
  rows: 3,
  stored_total: 5,
  last_value: 7,
  last_id: "a",
  updated_at: null,
  hostname: "h1",
} satisfies CountSummary;
const STATS = {
  backlog: 0,
  pending: 0,
  dead_letters: 0,
  stored_rows: 3,
  oldest_age_seconds: 0,
  consumers: 1,
  partitions: [],
  hostname: "h1",
} satisfies Stats;

function json(status: number, body: unknown, statusText = ""): Response {
  return new Response(JSON.stringify(body), { status, statusText, headers: { "Content-Type": "application/json" } });
}

describe("ApiClient", () => {
  it("calls the page's own origin with relative paths by default", async () => {
    const fetch = vi.fn().mockResolvedValue(json(200, SUMMARY));
    const summary = await new ApiClient({ fetch }).getCount();
    expect(fetch).toHaveBeenCalledWith("/count", expect.objectContaining({ method: "GET" }));
    expect(summary).toEqual(SUMMARY);
  });

  it("prefixes a configured base URL, without doubling its slash", async () => {
    const fetch = vi.fn().mockResolvedValue(json(200, STATS));
    await new ApiClient({ baseUrl: "https://api.example.test/", fetch }).getStats();
    expect(fetch).toHaveBeenCalledWith("https://api.example.test/stats", expect.anything());
  });

  it("posts the count as JSON and returns the queued id", async () => {
    const fetch = vi.fn().mockResolvedValue(json(202, { id: "0190-abc", status: "queued" } satisfies Queued));
    const queued = await new ApiClient({ fetch }).postCount(1764283281);
    expect(queued).toEqual({ id: "0190-abc", status: "queued" });
    const [url, init] = fetch.mock.calls[0] as [string, RequestInit];
    expect(url).toBe("/count");
    expect(init.method).toBe("POST");
    expect(init.body).toBe('{"count":1764283281}');
    expect(init.headers).toMatchObject({ "Content-Type": "application/json" });
  });

  it("reports the server's detail with the status on a 5xx", async () => {
    const fetch = vi
      .fn()
      .mockResolvedValue(json(503, { detail: "Redis unavailable: connection refused" }, "Service Unavailable"));
    const err = await new ApiClient({ fetch }).postCount(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ kind: "http", status: 503 });
    expect((err as ApiError).message).toBe("POST /count failed: HTTP 503: Redis unavailable: connection refused");
  });

  it("joins FastAPI's validation messages on a 422", async () => {
    const body = { detail: [{ loc: ["body", "count"], msg: "Input should be a valid integer", type: "int_type" }] };
    const fetch = vi.fn().mockResolvedValue(json(422, body));
    await expect(new ApiClient({ fetch }).postCount(1)).rejects.toThrow("HTTP 422: Input should be a valid integer");
  });

  it("falls back to the status text when a proxy answers with HTML", async () => {
    const fetch = vi
      .fn()
      .mockResolvedValue(new Response("<html><body>502</body></html>", { status: 502, statusText: "Bad Gateway" }));
    await expect(new ApiClient({ fetch }).getCount()).rejects.toThrow("GET /count failed: HTTP 502: Bad Gateway");
  });

  it("says the API cannot be reached when fetch itself fails", async () => {
    const fetch = vi.fn().mockRejectedValue(new TypeError("Failed to fetch"));
    const err = await new ApiClient({ baseUrl: "http://127.0.0.1:9", fetch }).getStats().catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "unreachable" });
    expect((err as ApiError).message).toBe("GET /stats: cannot reach the API at http://127.0.0.1:9 (Failed to fetch)");
  });

  it("names the page's origin when no base URL is set", async () => {
    const fetch = vi.fn().mockRejectedValue(new TypeError("Failed to fetch"));
    await expect(new ApiClient({ fetch }).getCount()).rejects.toThrow(`cannot reach the API at ${location.origin}`);
  });

  it("gives up after the timeout and says so", async () => {
    const fetch = vi.fn(
      (_url: RequestInfo | URL, init?: RequestInit) =>
        new Promise<Response>((_resolve, reject) => {
          init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        }),
    );
    const err = await new ApiClient({ fetch, timeoutMs: 20 }).getCount().catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "timeout", message: "GET /count: no answer from the API within 0.02 s" });
  });

  it("rejects a 200 that is not JSON", async () => {
    const fetch = vi.fn().mockResolvedValue(new Response("<!doctype html><title>index</title>", { status: 200 }));
    await expect(new ApiClient({ fetch }).getCount()).rejects.toMatchObject({ kind: "invalid", status: 200 });
  });
});

describe("detailFrom", () => {
  it.each([
    ['{"detail":"bad"}', "bad"],
    ['{"detail":[{"msg":"a"},{"msg":"b"}]}', "a; b"],
    ['{"error":"x"}', undefined],
    ["upstream timed out", "upstream timed out"],
    ["<html>oops</html>", undefined],
    ["", undefined],
  ])("%s -> %s", (text, expected) => {
    expect(detailFrom(text)).toBe(expected);
  });
});
