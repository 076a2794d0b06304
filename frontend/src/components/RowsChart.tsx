import type { Sample } from "../history";
import { formatInt, formatSeconds } from "../format";

const WIDTH = 300;
const HEIGHT = 80;

interface Props {
  samples: readonly Sample[];
}

/** Stored rows over the samples kept in the page, as a line. */
export function RowsChart({ samples }: Props) {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last || samples.length < 2) {
    return (
      <p className="chart-empty" role="status">
        The chart fills in as the page samples the pipeline.
      </p>
    );
  }
  const minRows = Math.min(...samples.map((s) => s.rows));
  const maxRows = Math.max(...samples.map((s) => s.rows));
  const span = Math.max(1, last.t - first.t);
  // A flat series sits mid-height instead of on an edge.
  const range = maxRows - minRows;
  const y = (rows: number) => (range === 0 ? HEIGHT / 2 : HEIGHT - ((rows - minRows) / range) * (HEIGHT - 4) - 2);
  const points = samples.map((s) => `${(((s.t - first.t) / span) * WIDTH).toFixed(1)},${y(s.rows).toFixed(1)}`);
  const minutes = Math.max(1, Math.round(span / 60000));
  const label = `Stored rows over the last ${minutes === 1 ? "minute" : `${minutes} minutes`}: from ${formatInt(first.rows)} to ${formatInt(last.rows)}`;

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label={label}>
        <polygon className="chart-area" points={`0,${HEIGHT} ${points.join(" ")} ${WIDTH},${HEIGHT}`} />
        <polyline className="chart-line" points={points.join(" ")} />
      </svg>
      <figcaption>
        <span>{formatInt(minRows)}</span>
        <span>stored rows over {formatSeconds(span / 1000)}</span>
        <span>{formatInt(maxRows)}</span>
      </figcaption>
    </figure>
  );
}
