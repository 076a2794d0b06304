const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

export function formatInt(value: number): string {
  return integer.format(value);
}

export function formatRate(perSecond: number): string {
  return `${decimal.format(perSecond)}/s`;
}

export function formatSeconds(seconds: number): string {
  if (seconds <= 0) return "0 s";
  if (seconds < 120) return `${decimal.format(seconds)} s`;
  return `${decimal.format(seconds / 60)} min`;
}

/** A latency: milliseconds below a second, seconds above; "—" when there is none. */
export function formatLatency(seconds: number | null | undefined): string {
  if (seconds == null) return "—";
  if (seconds < 1) return `${integer.format(seconds * 1000)} ms`;
  return formatSeconds(seconds);
}

/** "2026-11-27 22:41:21 UTC" when value looks like unix seconds, else undefined. */
export function asUnixTime(value: number): string | undefined {
  // 2001..2286: a bare integer in this range is almost surely a timestamp.
  if (!Number.isInteger(value) || value < 1_000_000_000 || value >= 10_000_000_000) return undefined;
  return new Date(value * 1000)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
}

export function clockTime(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(11, 19);
}
