// Samples of /stats kept in the page, so the chart needs no history endpoint.

export interface Sample {
  /** Milliseconds since the epoch, when the answer arrived. */
  t: number;
  rows: number;
  backlog: number;
}

export const HISTORY_WINDOW_MS = 5 * 60 * 1000;
const RATE_WINDOW_MS = 15 * 1000;

export function addSample(history: readonly Sample[], sample: Sample, windowMs = HISTORY_WINDOW_MS): Sample[] {
  const since = sample.t - windowMs;
  return [...history.filter((s) => s.t >= since && s.t < sample.t), sample];
}

/** Rows stored per second over the last few samples; undefined until two exist. */
export function storeRate(history: readonly Sample[], windowMs = RATE_WINDOW_MS): number | undefined {
  const last = history[history.length - 1];
  if (!last) return undefined;
  const first = history.find((s) => s.t >= last.t - windowMs);
  if (!first || first === last) return undefined;
  // A reset database (fewer rows than before) has no meaningful rate.
  return Math.max(0, (last.rows - first.rows) / ((last.t - first.t) / 1000));
}
