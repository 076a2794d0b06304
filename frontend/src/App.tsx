import { useCallback, useEffect, useRef, useState } from "react";
import type { ApiClient, CountSummary, Stats } from "./api";
import { RowsChart } from "./components/RowsChart";
import { StatList, type StatItem } from "./components/StatList";
import { asUnixTime, clockTime, formatInt, formatRate, formatSeconds } from "./format";
import { addSample, storeRate, type Sample } from "./history";

export interface AppProps {
  client: ApiClient;
  refreshMs: number;
  configWarning?: string | undefined;
  now?: () => number;
}

type Feedback =
  { kind: "idle" } | { kind: "busy"; text: string } | { kind: "ok"; text: string } | { kind: "error"; text: string };

const MAX_SEND = 10_000;
const SEND_CONCURRENCY = 8;
// The consumer stores a message within milliseconds; look again soon after a
// POST rather than waiting for the next regular refresh.
const REFRESH_AFTER_POST_MS = 400;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function App({ client, refreshMs, configWarning, now = Date.now }: AppProps) {
  const [summary, setSummary] = useState<CountSummary | null>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const [history, setHistory] = useState<Sample[]>([]);
  const [errors, setErrors] = useState<string[]>([]);
  // True from the start: the mount effect begins the first load at once.
  const [refreshing, setRefreshing] = useState(true);
  const [updatedAt, setUpdatedAt] = useState<number | null>(null);
  const [post, setPost] = useState<Feedback>({ kind: "idle" });
  const [send, setSend] = useState<Feedback>({ kind: "idle" });
  const [sendCount, setSendCount] = useState("100");
  const inFlight = useRef(false);
  const mounted = useRef(true);

  // Sets state only after the answers are in, so the mount effect can start the
  // first load without a render of its own; later loads go through refresh().
  const load = useCallback(async () => {
    // Slow answers must not pile up behind the timer.
    if (inFlight.current) return;
    inFlight.current = true;
    const [count, pipeline] = await Promise.allSettled([client.getCount(), client.getStats()]);
    inFlight.current = false;
    if (!mounted.current) return;
    setRefreshing(false);
    const failures: string[] = [];
    if (count.status === "fulfilled") setSummary(count.value);
    else failures.push(message(count.reason));
    if (pipeline.status === "fulfilled") {
      setStats(pipeline.value);
      setHistory((h) => addSample(h, { t: now(), rows: pipeline.value.stored_rows, backlog: pipeline.value.backlog }));
    } else {
      failures.push(message(pipeline.reason));
    }
    if (failures.length === 0) setUpdatedAt(now());
    setErrors(failures);
  }, [client, now]);

  const refresh = useCallback(() => {
    setRefreshing(true);
    void load();
  }, [load]);

  useEffect(() => {
    mounted.current = true;
    // load() sets state only after its first await; the rule does not yet see
    // past an await (react/react#34905), so this is a known false positive.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    void load();
    const timer = setInterval(refresh, refreshMs);
    return () => {
      mounted.current = false;
      clearInterval(timer);
    };
  }, [load, refresh, refreshMs]);

  const refreshSoon = () => setTimeout(refresh, REFRESH_AFTER_POST_MS);

  const postNow = async () => {
    const value = Math.floor(now() / 1000);
    setPost({ kind: "busy", text: `Posting ${value}…` });
    try {
      const queued = await client.postCount(value);
      setPost({ kind: "ok", text: `Queued ${value} as message ${queued.id}` });
      refreshSoon();
    } catch (err) {
      setPost({ kind: "error", text: message(err) });
    }
  };

  const sendMany = async () => {
    const total = Number(sendCount);
    if (!Number.isInteger(total) || total < 1 || total > MAX_SEND) {
      setSend({ kind: "error", text: `Enter a whole number from 1 to ${formatInt(MAX_SEND)}` });
      return;
    }
    let next = 0;
    let done = 0;
    let failed = 0;
    let firstError = "";
    setSend({ kind: "busy", text: `Sending 0 of ${formatInt(total)}…` });
    const worker = async () => {
      while (next < total) {
        next += 1;
        try {
          await client.postCount(Math.floor(now() / 1000));
        } catch (err) {
          failed += 1;
          firstError ||= message(err);
        }
        done += 1;
        if (done % 25 === 0) setSend({ kind: "busy", text: `Sending ${formatInt(done)} of ${formatInt(total)}…` });
      }
    };
    await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, total) }, worker));
    const queued = total - failed;
    setSend(
      failed === 0
        ? { kind: "ok", text: `Queued ${formatInt(queued)} of ${formatInt(total)} messages` }
        : {
            kind: "error",
            text: `Queued ${formatInt(queued)} of ${formatInt(total)}; ${formatInt(failed)} failed: ${firstError}`,
          },
    );
    refreshSoon();
  };

  const loading = <span className="placeholder">…</span>;
  const lastValue = summary?.last_value;
  const lastTime = lastValue == null ? undefined : asUnixTime(lastValue);
  const rate = storeRate(history);

  const storeItems: StatItem[] = [
    { label: "Stored rows", value: summary ? formatInt(summary.rows) : loading },
    {
      label: "Last value",
      value: summary ? (lastValue == null ? "none yet" : String(lastValue)) : loading,
      detail: lastTime,
    },
    { label: "Served by", value: summary ? summary.hostname : loading },
  ];
  const pipelineItems: StatItem[] = [
    { label: "Backlog", value: stats ? formatInt(stats.backlog) : loading },
    { label: "Pending", value: stats ? formatInt(stats.pending) : loading },
    {
      label: "Dead letters",
      value: stats ? formatInt(stats.dead_letters) : loading,
      warn: (stats?.dead_letters ?? 0) > 0,
    },
    { label: "Oldest waiting", value: stats ? formatSeconds(stats.oldest_age_seconds) : loading },
    { label: "Consumers", value: stats ? formatInt(stats.consumers) : loading },
    { label: "Store rate", value: rate === undefined ? "—" : formatRate(rate) },
  ];
  const stale = errors.length > 0 && (summary !== null || stats !== null);

  return (
    <main className="app">
      <header>
        <h1>countq</h1>
        <p className="tagline">POST a count, watch it cross the queue into the database.</p>
      </header>

      {configWarning && (
        <p className="banner warn" role="status">
          {configWarning}
        </p>
      )}
      {errors.length > 0 && (
        <div className="banner error" role="alert">
          <strong>The API is not answering as it should.</strong>
          <ul>
            {[...new Set(errors)].map((e) => (
              <li key={e}>{e}</li>
            ))}
          </ul>
          {stale && updatedAt !== null && <p>Figures below are from {clockTime(updatedAt)} UTC.</p>}
        </div>
      )}

      <section aria-labelledby="store-heading" className={stale ? "card stale" : "card"}>
        <h2 id="store-heading">Database</h2>
        <StatList items={storeItems} busy={summary === null && errors.length === 0} />
      </section>

      <section aria-labelledby="actions-heading" className="card">
        <h2 id="actions-heading">Try it</h2>
        <div className="actions">
          <button type="button" onClick={() => void postNow()} disabled={post.kind === "busy"}>
            {post.kind === "busy" ? "Posting…" : "POST current timestamp"}
          </button>
          {/* Never disabled: the timer refreshes every few seconds and a button that
              flickers is hard to press; a click during a refresh is simply absorbed. */}
          <button type="button" onClick={refresh} aria-busy={refreshing} aria-label="GET: refresh now">
            GET
          </button>
        </div>
        <FeedbackLine feedback={post} label="POST result" />
        <form
          className="send"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void sendMany();
          }}
        >
          <label htmlFor="send-count">Messages to send</label>
          <input
            id="send-count"
            type="number"
            inputMode="numeric"
            min={1}
            max={MAX_SEND}
            value={sendCount}
            onChange={(e) => setSendCount(e.target.value)}
          />
          <button type="submit" disabled={send.kind === "busy"}>
            Send
          </button>
        </form>
        <FeedbackLine feedback={send} label="Send result" />
      </section>

      <section aria-labelledby="pipeline-heading" className={stale ? "card stale" : "card"}>
        <h2 id="pipeline-heading">Pipeline</h2>
        <StatList items={pipelineItems} busy={stats === null && errors.length === 0} />
        <RowsChart samples={history} />
      </section>

      <footer>
        {refreshing ? "Refreshing… " : ""}
        {updatedAt === null ? "Waiting for the first answer…" : `Updated ${clockTime(updatedAt)} UTC`} · every{" "}
        {refreshMs / 1000} s · API: {client.baseUrl || "this site"}
      </footer>
    </main>
  );
}

function FeedbackLine({ feedback, label }: { feedback: Feedback; label: string }) {
  // Always rendered, so screen readers announce changes to a live region they already know.
  return (
    <p className={`feedback ${feedback.kind}`} role="status" aria-label={label}>
      {feedback.kind === "idle" ? "" : feedback.text}
    </p>
  );
}
