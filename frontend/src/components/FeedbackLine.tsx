import type { Feedback } from "../feedback";

export function FeedbackLine({ feedback, label }: { feedback: Feedback; label: string }) {
  // Always rendered, so screen readers announce changes to a live region they already know.
  return (
    <p className={`feedback ${feedback.kind}`} role="status" aria-label={label}>
      {feedback.kind === "idle" ? "" : feedback.text}
    </p>
  );
}
