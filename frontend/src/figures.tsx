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

/** The documentation site's page on `countq dead-letters` (docs/operations/dead-letters.md, as mkdocs publishes it). */
export const DEAD_LETTERS_PAGE = "operations/dead-letters/";

/** What to run about dead letters: a link to the docs page when the page knows where the docs site is. */
function deadLettersHelp(docsUrl: string) {
  const command = <code>countq dead-letters</code>;
  if (!docsUrl) return <>inspect and replay: {command}</>;
  return (
    <a href={`${docsUrl.replace(/\/*$/, "/")}${DEAD_LETTERS_PAGE}`} target="_blank" rel="noreferrer">
      inspect and replay: {command}
    </a>
  );
}

/** With QUEUE_PARTITIONS > 1 the backlog is a sum: each partition's share, in stream order. */
function backlogByPartition(stats: Stats | null) {
  const partitions = stats?.partitions ?? [];
  if (partitions.length < 2) return undefined;
  return `${partitions.length} partitions: ${partitions.map((p) => formatInt(p.backlog)).join(" + ")}`;
}

export function pipelineFigures(stats: Stats | null, rate: number | undefined, docsUrl = ""): StatItem[] {
  return [
    { label: "Backlog", value: stats ? formatInt(stats.backlog) : loading, detail: backlogByPartition(stats) },
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
