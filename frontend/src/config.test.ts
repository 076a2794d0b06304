import { DEFAULT_CONFIG, loadConfig, parseConfig } from "./config";

describe("loadConfig", () => {
  it("uses the page's own origin when there is no config.json", async () => {
    const fetch = vi.fn().mockResolvedValue(new Response("not found", { status: 404 }));
    expect(await loadConfig(fetch)).toEqual({ config: DEFAULT_CONFIG });
    expect(fetch).toHaveBeenCalledWith("config.json", expect.anything());
  });

  it("takes a single-page fallback's index.html for no config.json", async () => {
    const html = new Response("<!doctype html>", {
      status: 200,
      headers: { "Content-Type": "text/html; charset=utf-8" },
    });
    expect(await loadConfig(vi.fn().mockResolvedValue(html))).toEqual({ config: DEFAULT_CONFIG });
  });

  it("reads apiBaseUrl, refreshSeconds and docsUrl", async () => {
    const body = JSON.stringify({
      apiBaseUrl: "https://api.example.test",
      refreshSeconds: 10,
      docsUrl: "https://docs.example.test/countq/",
    });
    const fetch = vi.fn().mockResolvedValue(new Response(body, { status: 200 }));
    expect(await loadConfig(fetch)).toEqual({
      config: {
        apiBaseUrl: "https://api.example.test",
        refreshSeconds: 10,
        docsUrl: "https://docs.example.test/countq/",
      },
    });
  });

  it("warns and falls back when config.json is unusable", async () => {
    const fetch = vi.fn().mockResolvedValue(new Response('{"apiBaseUrl": "ftp://x"}', { status: 200 }));
    expect(await loadConfig(fetch)).toEqual({
      config: DEFAULT_CONFIG,
      warning: "config.json ignored: apiBaseUrl must start with http:// or https://",
    });
  });

  it("warns on a server error for config.json", async () => {
    const fetch = vi.fn().mockResolvedValue(new Response("", { status: 500 }));
    expect((await loadConfig(fetch)).warning).toBe("config.json: HTTP 500; using this site's API");
  });

  it("falls back quietly when config.json cannot be fetched", async () => {
    const fetch = vi.fn().mockRejectedValue(new TypeError("Failed to fetch"));
    expect(await loadConfig(fetch)).toEqual({ config: DEFAULT_CONFIG });
  });
});

describe("parseConfig", () => {
  it.each([
    [[], "not a JSON object"],
    [{ apiBaseUrl: 3 }, "apiBaseUrl must be a string"],
    [{ refreshSeconds: 0 }, "refreshSeconds must be a number from 1 to 300"],
    [{ refreshSeconds: "5" }, "refreshSeconds must be a number from 1 to 300"],
    [{ docsUrl: "javascript:alert(1)" }, "docsUrl must start with http:// or https://"],
  ])("rejects %j", (raw, reason) => {
    expect(() => parseConfig(raw)).toThrow(reason);
  });

  it("keeps defaults for absent keys", () => {
    expect(parseConfig({})).toEqual(DEFAULT_CONFIG);
  });
});
