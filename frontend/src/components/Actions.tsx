import { useState } from "react";
import type { Feedback } from "../feedback";
import { MAX_SEND } from "../hooks/useSendMany";
import { FeedbackLine } from "./FeedbackLine";

interface Props {
  post: { feedback: Feedback; post: () => Promise<void> };
  sendMany: { feedback: Feedback; send: (requested: string) => Promise<void> };
  refresh: () => void;
  refreshing: boolean;
}

/** POST now, GET now, and send N: the buttons and the lines that say how each went. */
export function Actions({ post, sendMany, refresh, refreshing }: Props) {
  const [sendCount, setSendCount] = useState("100");
  return (
    <section aria-labelledby="actions-heading" className="card">
      <h2 id="actions-heading">Try it</h2>
      <div className="actions">
        <button type="button" onClick={() => void post.post()} disabled={post.feedback.kind === "busy"}>
          {post.feedback.kind === "busy" ? "Posting…" : "POST current timestamp"}
        </button>
        {/* Never disabled: the timer refreshes every few seconds and a button that
            flickers is hard to press; a click during a refresh is simply absorbed. */}
        <button type="button" onClick={refresh} aria-busy={refreshing} aria-label="GET: refresh now">
          GET
        </button>
      </div>
      <FeedbackLine feedback={post.feedback} label="POST result" />
      <form
        className="send"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void sendMany.send(sendCount);
        }}
      >
        <label htmlFor="send-count">Messages to send</label>
        <input
          id="send-count"
          type="number"
          inputMode="numeric"
          min={1}
          max={MAX_SEND}
          value={sendCount}
          onChange={(e) => setSendCount(e.target.value)}
        />
        <button type="submit" disabled={sendMany.feedback.kind === "busy"}>
          Send
        </button>
      </form>
      <FeedbackLine feedback={sendMany.feedback} label="Send result" />
    </section>
  );
}
