import { useCallback, useEffect, useRef, useState } from "react";
import type { ApiClient, CountSummary, Stats } from "../api";
import { errorText } from "../errors";
import { addSample, type Sample } from "../history";

// The consumer stores a message within milliseconds; look again soon after a
// POST rather than waiting for the next regular refresh.
const REFRESH_AFTER_POST_MS = 400;

export interface Pipeline {
  summary: CountSummary | null;
  stats: Stats | null;
  history: Sample[];
  /** One line per failed request of the last refresh. */
  errors: string[];
  /** The last refresh failed, but figures from an earlier one are shown. */
  stale: boolean;
  refreshing: boolean;
  updatedAt: number | null;
  refresh: () => void;
  refreshSoon: () => void;
}

/** GET /count and /stats every `refreshMs`, and on demand; the /stats samples feed the chart. */
export function usePipeline(client: ApiClient, refreshMs: number, now: () => number): Pipeline {
  const [summary, setSummary] = useState<CountSummary | null>(null);
  const [stats, setStats] = useState<Stats | null>(null);
  const [history, setHistory] = useState<Sample[]>([]);
  const [errors, setErrors] = useState<string[]>([]);
  // True from the start: the mount effect begins the first load at once.
  const [refreshing, setRefreshing] = useState(true);
  const [updatedAt, setUpdatedAt] = useState<number | null>(null);
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
    else failures.push(errorText(count.reason));
    if (pipeline.status === "fulfilled") {
      setStats(pipeline.value);
      setHistory((h) => addSample(h, { t: now(), rows: pipeline.value.stored_rows, backlog: pipeline.value.backlog }));
    } else {
      failures.push(errorText(pipeline.reason));
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

  const refreshSoon = useCallback(() => void setTimeout(refresh, REFRESH_AFTER_POST_MS), [refresh]);
  const stale = errors.length > 0 && (summary !== null || stats !== null);
  return { summary, stats, history, errors, stale, refreshing, updatedAt, refresh, refreshSoon };
}
