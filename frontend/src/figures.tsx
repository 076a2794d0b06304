// What the page shows of the API's answers: labels, values and their placeholders.
import type { CountSummary, Stats } from "./api";
import type { StatItem } from "./components/StatList";
import { asUnixTime, formatInt, formatLatency, formatRate, formatSeconds } from "./format";

const loading = <span className="placeholder">…</span>;

export function storeFigures(summary: CountSummary | null): StatItem[] {
  const lastValue = summary?.last_value;
  return [
    { label: "Stored rows", value: summary ? formatInt(summary.rows) : loading },
    {
      label: "Last value",
      value: summary ? (lastValue == null ? "none yet" : String(lastValue)) : loading,
      detail: lastValue == null ? undefined : asUnixTime(lastValue),
    },
    { label: "Served by", value: summary ? summary.hostname : loading },
  ];
}

/** The README section on `countq dead-letters` (GitHub's anchor for its heading). */
export const DEAD_LETTERS_SECTION = "#dead-letters-countq-dead-letters";

/** What to run about dead letters: a link to the README section when the page knows where the README is. */
function deadLettersHelp(docsUrl: string) {
  const command = <code>countq dead-letters</code>;
  if (!docsUrl) return <>inspect and replay: {command}</>;
  return (
    <a href={`${docsUrl}${DEAD_LETTERS_SECTION}`} target="_blank" rel="noreferrer">
      inspect and replay: {command}
    </a>
  );
}

export function pipelineFigures(stats: Stats | null, rate: number | undefined, docsUrl = ""): StatItem[] {
  return [
    { label: "Backlog", value: stats ? formatInt(stats.backlog) : loading },
    { label: "Pending", value: stats ? formatInt(stats.pending) : loading },
    {
      label: "Dead letters",
      value: stats ? formatInt(stats.dead_letters) : loading,
      warn: (stats?.dead_letters ?? 0) > 0,
      detail: deadLettersHelp(docsUrl),
    },
    { label: "Oldest waiting", value: stats ? formatSeconds(stats.oldest_age_seconds) : loading },
    { label: "Consumers", value: stats ? formatInt(stats.consumers) : loading },
    { label: "Store rate", value: rate === undefined ? "—" : formatRate(rate) },
    // POST to stored over the last minute, for every consumer (null: nothing stored in it).
    { label: "End-to-end p50", value: stats ? formatLatency(stats.end_to_end_p50_seconds) : loading },
    { label: "End-to-end p99", value: stats ? formatLatency(stats.end_to_end_p99_seconds) : loading },
  ];
}
