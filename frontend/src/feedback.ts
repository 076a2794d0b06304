/** The state of an action the page runs for the user, and the line that says so. */
export type Feedback =
  { kind: "idle" } | { kind: "busy"; text: string } | { kind: "ok"; text: string } | { kind: "error"; text: string };

export const IDLE: Feedback = { kind: "idle" };
