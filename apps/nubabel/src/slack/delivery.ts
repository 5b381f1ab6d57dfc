import { randomBytes } from "node:crypto";
import type { Logger } from "../log/logger.js";
import { replaceWith } from "./live-message.js";
import type { NubabelPort, SlackOrigin, TurnRun } from "./ports.js";
import { answerMessages, failureMessage, Replies } from "./replies.js";
import type { SlackApi } from "./web-api.js";

/**
 * The messages that end a finished run in its thread: the answer (split to fit Slack), why it
 * stopped or failed, or, for a run refused before it reached the agent, that error in plain words.
 */
export async function answerFor(port: NubabelPort, run: TurnRun, log: Logger): Promise<string[]> {
  if (run.status === "aborted" && !run.startedAt) return [Replies.cancelledQueued];
  try {
    return answerMessages(await port.answer(run));
  } catch (err) {
    const ref = `slk_${randomBytes(4).toString("hex")}`;
    const { name, message, data } = err as Error & { data?: unknown };
    log.error({ ref, runId: run.id, err: { name, message, data } }, "turn failed");
    return [failureMessage(err, ref)];
  }
}

/**
 * Hands a finished run's answer to the thread it came from, when no turn on this instance waited
 * for it (Nubabel restarted mid-turn, or the run ended on another instance): claims it, so it is
 * handed over once whichever instances try, then edits the stored progress message into the
 * answer, or posts it when no progress message was stored. False when someone else had claimed it.
 */
export async function handOver(deps: { port: NubabelPort; api: SlackApi; log: Logger }, run: TurnRun & { origin: SlackOrigin }): Promise<boolean> {
  const { port, api } = deps;
  const log = deps.log.child({ runId: run.id, sessionId: run.sessionId, channelId: run.origin.channelId, threadTs: run.origin.threadTs });
  if (!(await port.claimDelivery(run.id))) return false;
  const chunks = await answerFor(port, run, log);
  const { channelId, threadTs, progressTs } = run.origin;
  await replaceWith(
    { post: (text) => api.post(channelId, threadTs, text), update: (ts, text) => api.update(channelId, ts, text) },
    progressTs,
    chunks,
    log,
  );
  log.info({ status: run.status, edited: Boolean(progressTs) }, "answer handed over to its thread");
  return true;
}
