/** What went wrong, as text a person can act on: an Error's message, else the value itself. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
