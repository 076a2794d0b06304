import { useId, type ReactNode } from "react";

export interface StatItem {
  label: string;
  value: ReactNode;
  detail?: ReactNode;
  /** Draws the eye, e.g. to dead letters above zero. */
  warn?: boolean;
}

/** A labelled list of figures; each value is named by its label for screen readers and tests. */
export function StatList({ items, busy }: { items: readonly StatItem[]; busy: boolean }) {
  const id = useId();
  return (
    <dl className="stats" aria-busy={busy}>
      {items.map((item, i) => (
        <div key={item.label} className={item.warn ? "stat warn" : "stat"}>
          <dt id={`${id}-${i}`}>{item.label}</dt>
          <dd aria-labelledby={`${id}-${i}`}>{item.value}</dd>
          {item.detail !== undefined && <dd className="stat-detail">{item.detail}</dd>}
        </div>
      ))}
    </dl>
  );
}
