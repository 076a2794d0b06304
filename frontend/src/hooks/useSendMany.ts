import { useState } from "react";
import type { ApiClient } from "../api";
import { errorText } from "../errors";
import { IDLE, type Feedback } from "../feedback";
import { formatInt } from "../format";

export const MAX_SEND = 10_000;
const SEND_CONCURRENCY = 8;

/** POST the current unix time `requested` times, a few at a time; `onSent` runs at the end. */
export function useSendMany(client: ApiClient, now: () => number, onSent: () => void) {
  const [feedback, setFeedback] = useState<Feedback>(IDLE);

  const send = async (requested: string) => {
    const total = Number(requested);
    if (!Number.isInteger(total) || total < 1 || total > MAX_SEND) {
      setFeedback({ kind: "error", text: `Enter a whole number from 1 to ${formatInt(MAX_SEND)}` });
      return;
    }
    let next = 0;
    let done = 0;
    let failed = 0;
    let firstError = "";
    setFeedback({ kind: "busy", text: `Sending 0 of ${formatInt(total)}…` });
    const worker = async () => {
      while (next < total) {
        next += 1;
        try {
          await client.postCount(Math.floor(now() / 1000));
        } catch (err) {
          failed += 1;
          firstError ||= errorText(err);
        }
        done += 1;
        if (done % 25 === 0) setFeedback({ kind: "busy", text: `Sending ${formatInt(done)} of ${formatInt(total)}…` });
      }
    };
    await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, total) }, worker));
    setFeedback(result(total, failed, firstError));
    onSent();
  };

  return { feedback, send };
}

function result(total: number, failed: number, firstError: string): Feedback {
  const queued = `Queued ${formatInt(total - failed)} of ${formatInt(total)}`;
  if (failed === 0) return { kind: "ok", text: `${queued} messages` };
  return { kind: "error", text: `${queued}; ${formatInt(failed)} failed: ${firstError}` };
}
