import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { components } from "../generated/api-types";
import { ApiClient, type CountSummary, type Queued, type Stats } from "./api";
import { App } from "./App";

type ErrorOut = components["schemas"]["ErrorOut"];

const NOW_MS = 1_764_283_281_500;

/** A promise the test settles by hand: a request held in flight. */
function held() {
  let release = () => {};
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release: () => release() };
}

/**
 * A stand-in API in memory: POSTs are "consumed" at once, as a drained pipeline would.
 * Every body is typed with the API's generated schema, so a field the API adds
 * or renames fails `tsc` here rather than passing unnoticed.
 */
function fakeApi() {
  const state = {
    rows: 41,
    storedTotal: 41,
    last: 1_700_000_000 as number | null,
    posted: [] as number[],
    down: false,
    postStatus: 202,
    /** While set, each request of that kind waits for it to be released. */
    holdPosts: null as Promise<void> | null,
    holdCounts: null as Promise<void> | null,
    /** POSTs started and not yet answered, now and at most. */
    postsInFlight: 0,
    maxPostsInFlight: 0,
  };
  const stats = { backlog: 2, pending: 1, dead_letters: 3, oldest_age_seconds: 4.5, consumers: 1, partitions: [] };
  const reply = (status: number, body: CountSummary | Stats | Queued | ErrorOut) =>
    new Response(JSON.stringify(body), { status });
  const post = async (init: RequestInit) => {
    if (state.holdPosts) await state.holdPosts;
    if (state.postStatus !== 202)
      return reply(state.postStatus, {
        detail: "backlog over MAX_BACKLOG (1000000); try again later",
      } satisfies ErrorOut);
    const { count } = JSON.parse(String(init.body)) as { count: number };
    state.posted.push(count);
    state.rows += 1;
    state.storedTotal += 1;
    state.last = count;
    return reply(202, { id: `id-${state.posted.length}`, status: "queued" } satisfies Queued);
  };
  const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    if (state.down) throw new TypeError("Failed to fetch");
    const path = String(url);
    if (path === "/count" && init?.method === "POST") {
      state.postsInFlight += 1;
      state.maxPostsInFlight = Math.max(state.maxPostsInFlight, state.postsInFlight);
      try {
        return await post(init);
      } finally {
        state.postsInFlight -= 1;
      }
    }
    if (path === "/count") {
      if (state.holdCounts) await state.holdCounts;
      return reply(200, {
        rows: state.rows,
        stored_total: state.storedTotal,

        last_value: state.last,
        last_id: null,
        updated_at: null,
        hostname: "web-1",
      } satisfies CountSummary);
    }
    if (path === "/stats") return reply(200, { ...stats, stored_rows: state.rows, hostname: "web-1" } satisfies Stats);
    return reply(404, { detail: "Not Found" } satisfies ErrorOut);
  });
  const calls = (method: string, path: string) =>
    fetch.mock.calls.filter(([url, init]) => String(url) === path && (init?.method ?? "GET") === method).length;
  return { state, client: new ApiClient({ fetch }), fetch, calls };
}

function figure(label: string) {
  return screen.getByLabelText(label, { selector: "dd" });
}

/** Types `n` into "Messages to send" and presses Send. */
async function send(n: string) {
  const input = screen.getByLabelText("Messages to send");
  await userEvent.clear(input);
  await userEvent.type(input, n);
  await userEvent.click(screen.getByRole("button", { name: "Send" }));
}

function renderApp(api: ReturnType<typeof fakeApi>) {
  // A long refresh period keeps the timer out of the way; tests press GET.
  return render(<App client={api.client} refreshMs={60_000} now={() => NOW_MS} />);
}

describe("App", () => {
  it("shows placeholders while loading, then the figures", async () => {
    const api = fakeApi();
    renderApp(api);
    expect(figure("Stored rows")).toHaveTextContent("…");
    await waitFor(() => expect(figure("Stored rows")).toHaveTextContent("41"));
    expect(figure("Last value")).toHaveTextContent("1700000000");
    expect(screen.getByText("2023-11-14 22:13:20 UTC")).toBeInTheDocument();
    expect(figure("Served by")).toHaveTextContent("web-1");
    expect(figure("Backlog")).toHaveTextContent("2");
    expect(figure("Pending")).toHaveTextContent("1");
    expect(figure("Dead letters")).toHaveTextContent("3");
    expect(figure("Oldest waiting")).toHaveTextContent("4.5 s");
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("links the dead-letter figure to the docs site's page on countq dead-letters", async () => {
    const api = fakeApi();
    const docs = "https://docs.example.test/countq";
    render(<App client={api.client} refreshMs={60_000} now={() => NOW_MS} docsUrl={docs} />);
    await waitFor(() => expect(figure("Dead letters")).toHaveTextContent("3"));
    const link = screen.getByRole("link", { name: "inspect and replay: countq dead-letters" });
    expect(link).toHaveAttribute("href", `${docs}/operations/dead-letters/`);
  });

  it("names the command without a link when no docsUrl is configured", async () => {
    renderApp(fakeApi());
    await waitFor(() => expect(figure("Dead letters")).toHaveTextContent("3"));
    expect(screen.getByText("countq dead-letters")).toBeInTheDocument();
    expect(screen.queryByRole("link")).not.toBeInTheDocument();
  });

  it("POSTs the current unix timestamp and shows it stored", async () => {
    const api = fakeApi();
    renderApp(api);
    await waitFor(() => expect(figure("Stored rows")).toHaveTextContent("41"));
    await userEvent.click(screen.getByRole("button", { name: "POST current timestamp" }));
    expect(api.state.posted).toEqual([1_764_283_281]);
    expect(screen.getByRole("status", { name: "POST result" })).toHaveTextContent("Queued 1764283281 as message id-1");
    // The page looks again shortly after a POST, without waiting for its timer.
    await waitFor(() => expect(figure("Stored rows")).toHaveTextContent("42"));
    expect(figure("Last value")).toHaveTextContent("1764283281");
  });

  it("refreshes on GET", async () => {
    const api = fakeApi();
    renderApp(api);
    await waitFor(() => expect(figure("Stored rows")).toHaveTextContent("41"));
    api.state.rows = 1234567;
    await userEvent.click(screen.getByRole("button", { name: /GET/ }));
    await waitFor(() => expect(figure("Stored rows")).toHaveTextContent("1,234,567"));
  });

  it("says clearly when the API cannot be reached", async () => {
    const api = fakeApi();
    api.state.down = true;
    renderApp(api);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The API is not answering as it should.");
    expect(alert).toHaveTextContent(`GET /count: cannot reach the API at ${location.origin} (Failed to fetch)`);
    expect(alert).toHaveTextContent("GET /stats: cannot reach the API");
  });

  it("keeps the last figures, marked stale, when the API goes away", async () => {
    const api = fakeApi();
    renderApp(api);
    await waitFor(() => expect(figure("Stored rows")).toHaveTextContent("41"));
    api.state.down = true;
    await userEvent.click(screen.getByRole("button", { name: /GET/ }));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Figures below are from 22:41:21 UTC.");
    expect(figure("Stored rows")).toHaveTextContent("41");
    api.state.down = false;
    await userEvent.click(screen.getByRole("button", { name: /GET/ }));
    await waitFor(() => expect(screen.queryByRole("alert")).not.toBeInTheDocument());
  });

  it("shows the server's message when a POST is refused", async () => {
    const api = fakeApi();
    api.state.postStatus = 503;
    renderApp(api);
    await userEvent.click(screen.getByRole("button", { name: "POST current timestamp" }));
    expect(screen.getByRole("status", { name: "POST result" })).toHaveTextContent(
      "POST /count failed: HTTP 503: backlog over MAX_BACKLOG (1000000); try again later",
    );
  });

  it("sends N messages and reports how many were queued", async () => {
    const api = fakeApi();
    renderApp(api);
    await send("30");
    await waitFor(() =>
      expect(screen.getByRole("status", { name: "Send result" })).toHaveTextContent("Queued 30 of 30 messages"),
    );
    expect(api.state.posted).toHaveLength(30);
    expect(new Set(api.state.posted)).toEqual(new Set([1_764_283_281]));
  });

  it("reports failures among the N messages", async () => {
    const api = fakeApi();
    api.state.postStatus = 503;
    renderApp(api);
    await send("3");
    await waitFor(() =>
      expect(screen.getByRole("status", { name: "Send result" })).toHaveTextContent(
        "Queued 0 of 3; 3 failed: POST /count failed: HTTP 503",
      ),
    );
  });

  it.each(["0", "1.5", "10001"])("refuses to send %s messages", async (n) => {
    const api = fakeApi();
    renderApp(api);
    await send(n);
    expect(screen.getByRole("status", { name: "Send result" })).toHaveTextContent(
      "Enter a whole number from 1 to 10,000",
    );
    expect(api.fetch.mock.calls.filter(([, init]) => init?.method === "POST")).toHaveLength(0);
  });

  it("sends N messages at most 8 at a time", async () => {
    const api = fakeApi();
    const gate = held();
    api.state.holdPosts = gate.promise;
    renderApp(api);
    await send("30");
    await waitFor(() => expect(api.state.postsInFlight).toBe(8));
    expect(api.calls("POST", "/count")).toBe(8); // the other 22 wait their turn
    gate.release();
    await waitFor(() =>
      expect(screen.getByRole("status", { name: "Send result" })).toHaveTextContent("Queued 30 of 30 messages"),
    );
    expect(api.state.maxPostsInFlight).toBe(8);
    expect(api.calls("POST", "/count")).toBe(30);
  });

  it("takes no second POST while one is in flight", async () => {
    const api = fakeApi();
    const gate = held();
    api.state.holdPosts = gate.promise;
    renderApp(api);
    const button = screen.getByRole("button", { name: "POST current timestamp" });
    await userEvent.click(button);
    await waitFor(() => expect(api.state.postsInFlight).toBe(1));
    const posting = screen.getByRole("button", { name: "Posting…" });
    expect(posting).toBeDisabled();
    await userEvent.click(posting);
    await userEvent.click(posting);
    expect(api.calls("POST", "/count")).toBe(1);
    gate.release();
    await waitFor(() =>
      expect(screen.getByRole("status", { name: "POST result" })).toHaveTextContent(
        "Queued 1764283281 as message id-1",
      ),
    );
    expect(api.state.posted).toEqual([1_764_283_281]);
  });

  it("does not pile up GETs behind one still in flight", async () => {
    const api = fakeApi();
    renderApp(api);
    await waitFor(() => expect(figure("Stored rows")).toHaveTextContent("41"));
    expect(api.calls("GET", "/count")).toBe(1);
    const gate = held();
    api.state.holdCounts = gate.promise;
    const refresh = screen.getByRole("button", { name: "GET: refresh now" });
    await userEvent.click(refresh);
    await userEvent.click(refresh);
    await userEvent.click(refresh);
    expect(api.calls("GET", "/count")).toBe(2); // the first press; the others found it in flight
    api.state.rows = 45;
    gate.release();
    await waitFor(() => expect(figure("Stored rows")).toHaveTextContent("45"));
    expect(api.calls("GET", "/count")).toBe(2);
  });

  it("refreshes on its own timer", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const api = fakeApi();
      render(<App client={api.client} refreshMs={3000} />);
      await waitFor(() => expect(figure("Stored rows")).toHaveTextContent("41"));
      api.state.rows = 50;
      await act(() => vi.advanceTimersByTimeAsync(3000));
      await waitFor(() => expect(figure("Stored rows")).toHaveTextContent("50"));
      const pipeline = screen.getByRole("region", { name: "Pipeline" });
      expect(
        within(pipeline).getByRole("img", { name: /Stored rows over the last minute: from 41 to 50/ }),
      ).toBeInTheDocument();
    } finally {
      vi.useRealTimers();
    }
  });
});
