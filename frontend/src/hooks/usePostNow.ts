import { useState } from "react";
import type { ApiClient } from "../api";
import { errorText } from "../errors";
import { IDLE, type Feedback } from "../feedback";

/** POST the current unix time once; `onQueued` runs after the producer took it. */
export function usePostNow(client: ApiClient, now: () => number, onQueued: () => void) {
  const [feedback, setFeedback] = useState<Feedback>(IDLE);

  const post = async () => {
    const value = Math.floor(now() / 1000);
    setFeedback({ kind: "busy", text: `Posting ${value}…` });
    try {
      const queued = await client.postCount(value);
      setFeedback({ kind: "ok", text: `Queued ${value} as message ${queued.id}` });
      onQueued();
    } catch (err) {
      setFeedback({ kind: "error", text: errorText(err) });
    }
  };

  return { feedback, post };
}
