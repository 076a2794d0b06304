import { clockTime } from "../format";

/** What failed in the last refresh; when older figures are still shown, from when. */
export function ErrorBanner({ errors, staleSince }: { errors: readonly string[]; staleSince: number | null }) {
  if (errors.length === 0) return null;
  return (
    <div className="banner error" role="alert">
      <strong>The API is not answering as it should.</strong>
      <ul>
        {[...new Set(errors)].map((e) => (
          <li key={e}>{e}</li>
        ))}
      </ul>
      {staleSince !== null && <p>Figures below are from {clockTime(staleSince)} UTC.</p>}
    </div>
  );
}
