import { handleWhen, IterableBackoff, retry } from "cockatiel";
import { type ApprovalRequirements, type DelegateRequest, type HistoryMessage, MAX_HISTORY_MESSAGES, type RunAccepted, Text, Webhooks } from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";
import type { MappingRecord, SessionMapping } from "../mapping/session-mapping.js";
import type { Message, SessionStore } from "../sessions/sessions.js";
import type { SidecarClient } from "../sidecar/client.js";
import { SidecarRejected, SidecarUnavailable } from "../sidecar/errors.js";
import type { SidecarPool } from "../sidecar/pool.js";
import { bind } from "./binding.js";
import type { Placed } from "./ports.js";
import type { Ending, Run } from "./run.js";

export interface DispatchDeps {
  mapping: SessionMapping;
  sidecar: SidecarClient;
  /** The sidecars new sessions are placed on; follow-ups go to the one in the mapping. */
  pool: SidecarPool;
  /** Where a session's history is read when it moves to another sidecar. */
  sessions: SessionStore;
  tokenSecret: string;
  publicUrl: () => string;
  /** The longest a run may take; its callback token expires `TOKEN_MARGIN_SECONDS` after that. */
  runTimeoutMs: number;
  /** The tool calls of the organization's runs that wait for a person (its approval policy). */
  approvals?: (organizationId: string) => Promise<ApprovalRequirements | undefined>;
}

/** Time after a run's bound for its last callbacks (a queue ahead of it, the result's retries). */
export const TOKEN_MARGIN_SECONDS = 10 * 60;

/**
 * The most history a moved session carries, in bytes as sent: with a prompt of up to 100 000
 * characters it stays under the sidecar's 1 MiB body limit.
 */
const HISTORY_BYTES = 400_000;
/** A history message's longest content (the contract's bound); a longer answer keeps its end. */
const MESSAGE_CHARS = 100_000;

/** Where the sidecar runs it, or why it never started. */
export type Placement = { placed: Placed } | { refused: Ending };

type Common = Omit<DelegateRequest, "organizationId" | "session_id"> & { session_id: string; organizationId: string };

/**
 * Hands a claimed run to a sidecar and returns as soon as the sidecar accepted it. The first run
 * of a session creates its OpenCode session (`/delegate`) on a sidecar the pool picks and records
 * the mapping before answering; later ones prompt the mapped session on the sidecar that owns it.
 * When that sidecar is gone or drained, the session moves: a new OpenCode session on another
 * sidecar, seeded with the conversation's history. Runs of one session never dispatch
 * concurrently (the store starts one at a time), so no lock is needed here. `known`: the
 * session's mapping as admission read it from the database (`null`: none), when it did.
 */
export async function dispatch(deps: DispatchDeps, run: Run, log: Logger, newSession = false, known?: MappingRecord | null): Promise<Placement> {
  const ttlSeconds = Math.ceil(deps.runTimeoutMs / 1000) + TOKEN_MARGIN_SECONDS;
  const binding = bind(deps.publicUrl(), deps.tokenSecret, { id: run.sessionId, organizationId: run.organizationId }, ttlSeconds);
  const lookup = () => deps.mapping.bySession(run.organizationId, run.sessionId, log);
  // A session created with this run has no mapping, and one admission read needs no second look.
  const [mapped, approvals] = await Promise.all([
    newSession ? undefined : known !== undefined ? (known ?? undefined) : lookup(),
    deps.approvals?.(run.organizationId),
  ]);
  const common: Common = {
    prompt: run.prompt,
    session_id: run.sessionId,
    runId: run.id,
    timeoutMs: deps.runTimeoutMs,
    ...(run.userId ? { userId: run.userId } : {}),
    ...(approvals ? { approvals } : {}),
    ...binding,
  };
  try {
    if (!mapped) {
      const body = { ...common, ...(run.category ? { category: run.category } : {}), ...(run.skills ? { load_skills: run.skills } : {}) };
      const { accepted, sidecarUrl } = await create(deps, run, body, new Set(), log);
      const kept = await deps.mapping.record(
        { sessionId: run.sessionId, opencodeSessionId: accepted.opencodeSessionId, organizationId: run.organizationId, sidecarUrl },
        log,
      );
      // Only possible if two instances disagreed about which run comes first; the first is kept.
      dropIfOrphan(deps, kept, accepted, sidecarUrl, log);
      return { placed: { opencodeSessionId: accepted.opencodeSessionId, sidecarUrl } };
    }
    // Mappings written before URLs were normalized may end in a slash; the pool's do not.
    const sidecarUrl = mapped.sidecarUrl.replace(/\/+$/, "");
    // With nowhere else to go, the owner is tried even when it seemed gone: it may be back already.
    let why = deps.pool.isGone(sidecarUrl) && deps.pool.hasOtherReady(sidecarUrl) ? "the sidecar that held this conversation stopped answering" : undefined;
    if (!why) {
      try {
        const delivery = new Webhooks.Outgoing(`msg_${run.id}`);
        const accepted = await again(() => deps.sidecar.prompt(sidecarUrl, mapped.opencodeSessionId, common, log, delivery)).catch((err: unknown) =>
          acceptedAnyway(deps, sidecarUrl, run.id, err, log),
        );
        return { placed: { opencodeSessionId: accepted.opencodeSessionId, sidecarUrl } };
      } catch (err) {
        why = movable(deps, sidecarUrl, err);
        if (!why) throw err;
      }
    }
    return await move(deps, run, mapped, common, why, log);
  } catch (err) {
    return { refused: refusal(err, mapped) };
  }
}

/**
 * Creates the session's OpenCode session on the sidecar the pool picks (the organization's own
 * when it has room), trying the others when one is unreachable, draining or set up wrong (no
 * model: it refuses before creating anything).
 */
async function create(deps: DispatchDeps, run: Run, body: DelegateRequest, exclude: Set<string>, log: Logger): Promise<{ accepted: RunAccepted; sidecarUrl: string }> {
  const urls = deps.pool.urls;
  const preferred = urls.length > 1 ? await deps.mapping.latestSidecar(run.organizationId, urls) : undefined;
  for (let attempt = 1; ; attempt++) {
    const sidecarUrl = deps.pool.place(preferred, exclude);
    if (!sidecarUrl) throw new SidecarUnavailable(urls.join(", "), "no sidecar can take a new session");
    // One message across a sidecar's tries: the same webhook-id, each try signed a second later.
    const delivery = new Webhooks.Outgoing(attempt === 1 ? `msg_${run.id}` : `msg_${run.id}_${attempt}`);
    try {
      const accepted = await again(() => deps.sidecar.delegate(sidecarUrl, body, log, delivery)).catch((err: unknown) => acceptedAnyway(deps, sidecarUrl, run.id, err, log));
      return { accepted, sidecarUrl };
    } catch (err) {
      // A hand-over that timed out may have started the turn there: sending it elsewhere could run it twice.
      const elsewhere = err instanceof SidecarRejected ? err.misconfigured : err instanceof SidecarUnavailable && (err.draining || err.unreached);
      if (!elsewhere) throw err;
      if (err instanceof SidecarUnavailable && err.draining) deps.pool.sawDraining(sidecarUrl);
      exclude.add(sidecarUrl);
      if (urls.every((url) => exclude.has(url))) throw err;
      log.warn({ sidecarUrl, reason: err instanceof SidecarUnavailable ? err.data.reason : (err as Error).message }, "sidecar could not take the session; trying another");
    }
  }
}

/**
 * Why a follow-up that its sidecar refused may move to another one (it is draining, or gone),
 * or undefined when it must fail as before (nowhere else to go, or another kind of refusal).
 */
function movable(deps: DispatchDeps, sidecarUrl: string, err: unknown): string | undefined {
  if (!(err instanceof SidecarUnavailable) || !deps.pool.hasOtherReady(sidecarUrl)) return undefined;
  if (err.draining) {
    deps.pool.sawDraining(sidecarUrl);
    return "the sidecar that held this conversation was drained";
  }
  // One outside the pool that cannot be reached was most likely taken out of SIDECAR_URLS. (One
  // that timed out may be running the turn: it is not sent again elsewhere.)
  const lost = err.unreached && (deps.pool.isGone(sidecarUrl) || !deps.pool.knows(sidecarUrl));
  return lost ? "the sidecar that held this conversation stopped answering" : undefined;
}

/**
 * Moves the session to a new OpenCode session on another sidecar, seeded with the conversation's
 * latest messages from Nubabel's database, so the person keeps their context; the run says so
 * (`contextRestored`). The first run's category and skills carry over.
 */
async function move(deps: DispatchDeps, run: Run, mapped: MappingRecord, common: Common, reason: string, log: Logger): Promise<Placement> {
  const messages = await deps.sessions.messages(run.organizationId, run.sessionId);
  const history = latest(messages);
  const first = messages.find((m) => m.role === "user")?.metadata ?? {};
  const category = run.category ?? (typeof first.category === "string" ? first.category : undefined);
  const skills = run.skills ?? (Array.isArray(first.load_skills) ? (first.load_skills as string[]) : undefined);
  const body: DelegateRequest = { ...common, history, ...(category ? { category } : {}), ...(skills ? { load_skills: skills } : {}) };
  log.warn({ from: mapped.sidecarUrl, messages: history.length, reason }, "moving the session to another sidecar, seeded with its history");
  const { accepted, sidecarUrl } = await create(deps, run, body, new Set([mapped.sidecarUrl]), log);
  const kept = await deps.mapping.move(
    { sessionId: run.sessionId, opencodeSessionId: accepted.opencodeSessionId, organizationId: run.organizationId, sidecarUrl },
    mapped.opencodeSessionId,
    log,
  );
  dropIfOrphan(deps, kept, accepted, sidecarUrl, log);
  return {
    placed: {
      opencodeSessionId: accepted.opencodeSessionId,
      sidecarUrl,
      contextRestored: { from: "history", messages: history.length, reason: `${reason}; this run continues in a new session seeded with the conversation's history` },
    },
  };
}

/** Aborts the OpenCode session just created when the mapping in force names another one. */
function dropIfOrphan(deps: DispatchDeps, kept: MappingRecord, accepted: RunAccepted, sidecarUrl: string, log: Logger): void {
  if (kept.opencodeSessionId === accepted.opencodeSessionId) return;
  log.warn({ orphan: accepted.opencodeSessionId, kept: kept.opencodeSessionId }, "the session is mapped to another OpenCode session; aborting the new one");
  void deps.sidecar.abort(sidecarUrl, accepted.opencodeSessionId, log).catch(() => undefined);
}

/**
 * The conversation's latest messages that fit one request, oldest first, as the contract takes
 * them: empty answers left out, terminal escapes removed, a very long answer cut to its end.
 */
export function latest(messages: Message[]): HistoryMessage[] {
  const out: HistoryMessage[] = [];
  let bytes = 0;
  for (let i = messages.length - 1; i >= 0 && out.length < MAX_HISTORY_MESSAGES; i--) {
    const { role } = messages[i]!;
    const content = Text.printable(messages[i]!.content).slice(-MESSAGE_CHARS);
    if (!content.trim()) continue;
    const size = Buffer.byteLength(JSON.stringify(content));
    if (bytes + size > HISTORY_BYTES) break;
    bytes += size;
    out.push({ role, content });
  }
  return out.reverse();
}

/**
 * A hand-over that timed out may still have been accepted (the sidecar was only slow to say so):
 * asking for the run by its id tells, so a turn that is running is followed, not reported as never
 * started. Anything else rethrows the original error.
 */
async function acceptedAnyway(deps: DispatchDeps, sidecarUrl: string, runId: string, err: unknown, log: Logger): Promise<RunAccepted> {
  if (!(err instanceof SidecarUnavailable)) throw err;
  const known = await deps.sidecar.run(sidecarUrl, runId, log).catch(() => undefined);
  if (!known) throw err;
  log.info({ status: known.status }, "the sidecar had accepted the run after all");
  return { runId: known.runId, opencodeSessionId: known.opencodeSessionId, status: known.status };
}

/**
 * A few tries on an unreachable or slow sidecar: the run id makes a repeat safe (a sidecar that
 * did accept the first answers with that same run), and a first session in a new workspace or an
 * engine restarting may take longer than one request's bound.
 */
const handOverRetry = retry(
  // A draining sidecar will not take it in a moment either (the caller places it elsewhere), nor
  // will one whose circuit is open.
  handleWhen((err) => err instanceof SidecarUnavailable && !err.draining && !err.data.reason.includes("circuit open")),
  { maxAttempts: 2, backoff: new IterableBackoff([250, 500]) },
);

function again<T>(call: () => Promise<T>): Promise<T> {
  return handOverRetry.execute(() => call());
}

function refusal(err: unknown, mapped: { opencodeSessionId: string } | undefined): Ending {
  if (err instanceof SidecarRejected) {
    if (mapped && err.data.status === 404) {
      return {
        status: "failed",
        // The session had an agent context (now lost): its history and state say the run failed.
        opencodeSessionId: mapped.opencodeSessionId,
        reason: "the OpenCode session behind this conversation is gone from its sidecar; start a new session",
        error: { code: "opencode_session_lost", message: "the OpenCode session behind this conversation is gone from its sidecar; start a new session" },
      };
    }
    return {
      status: "failed",
      reason: `the sidecar refused the run: ${err.message}`,
      error: { code: err.data.code, message: err.message, status: err.data.status, ...(err.data.details !== undefined ? { details: err.data.details } : {}) },
    };
  }
  if (err instanceof SidecarUnavailable) {
    const reason = `the sidecar could not be reached (${err.data.reason}); nothing ran, send the prompt again`;
    return { status: "failed", reason, error: { code: "sidecar_unavailable", message: reason } };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { status: "failed", reason: `the run could not be started: ${message}`, error: { code: "dispatch_failed", message } };
}
