/**
 * The `action_id`s of the bot's buttons. Slack sends them back with each press, also for messages
 * posted before a restart, so they never change.
 */
export const ActionIds = {
  /** On the progress message: stops the thread's runs, as `stop` does. Value: the run id. */
  stop: "run_stop",
  /** On an approval message. Value: `ApprovalButton` (JSON). */
  approve: "approval_approve",
  deny: "approval_deny",
} as const;
