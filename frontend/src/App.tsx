// The page, composed: the hooks hold the state, the components draw it.
import type { ApiClient } from "./api";
import { Actions } from "./components/Actions";
import { ErrorBanner } from "./components/ErrorBanner";
import { RowsChart } from "./components/RowsChart";
import { StatList } from "./components/StatList";
import { pipelineFigures, storeFigures } from "./figures";
import { clockTime } from "./format";
import { storeRate } from "./history";
import { usePipeline } from "./hooks/usePipeline";
import { usePostNow } from "./hooks/usePostNow";
import { useSendMany } from "./hooks/useSendMany";

export interface AppProps {
  client: ApiClient;
  refreshMs: number;
  configWarning?: string | undefined;
  now?: () => number;
  /** The documentation site's root; the dead-letter figure links to its dead-letters page (config.json). */
  docsUrl?: string;
}

export function App({ client, refreshMs, configWarning, now = Date.now, docsUrl = "" }: AppProps) {
  const pipeline = usePipeline(client, refreshMs, now);
  const post = usePostNow(client, now, pipeline.refreshSoon);
  const sendMany = useSendMany(client, now, pipeline.refreshSoon);
  const { summary, stats, errors, stale, updatedAt } = pipeline;
  const card = stale ? "card stale" : "card";

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
      <ErrorBanner errors={errors} staleSince={stale ? updatedAt : null} />

      <section aria-labelledby="store-heading" className={card}>
        <h2 id="store-heading">Database</h2>
        <StatList items={storeFigures(summary)} busy={summary === null && errors.length === 0} />
      </section>

      <Actions post={post} sendMany={sendMany} refresh={pipeline.refresh} refreshing={pipeline.refreshing} />

      <section aria-labelledby="pipeline-heading" className={card}>
        <h2 id="pipeline-heading">Pipeline</h2>
        <StatList
          items={pipelineFigures(stats, storeRate(pipeline.history), docsUrl)}
          busy={stats === null && errors.length === 0}
        />
        <RowsChart samples={pipeline.history} />
      </section>

      <footer>
        {pipeline.refreshing ? "Refreshing… " : ""}
        {updatedAt === null ? "Waiting for the first answer…" : `Updated ${clockTime(updatedAt)} UTC`} · every{" "}
        {refreshMs / 1000} s · API: {client.baseUrl || "this site"}
      </footer>
    </main>
  );
}
