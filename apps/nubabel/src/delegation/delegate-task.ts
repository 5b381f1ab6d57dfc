import { setTimeout as sleep } from "node:timers/promises";
import type { DelegateResponse, RunStatus, SessionState } from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";
import type { MappingRecord, SessionMapping } from "../mapping/session-mapping.js";
import { Sessions, type Session, type SessionStore } from "../sessions/index.js";
import type { SidecarClient } from "../sidecar/client.js";
import { bind, type Binding } from "./binding.js";
import { SidecarRejected } from "../sidecar/errors.js";
import { DelegationBusy, OpencodeSessionLost } from "./errors.js";
import type { Lock } from "./lock.js";

export interface DelegateInput {
  organizationId: string;
  prompt: string;
  sessionId?: string;
  category?: string;
  load_skills?: string[];
  userId?: string;
}

export interface DelegationDeps {
  sessions: SessionStore;
  mapping: SessionMapping;
  sidecar: SidecarClient;
  lock: Lock;
  logger: Logger;
  tokenSecret: string;
  /** Read per call: with port 0 the public URL is known only once the server listens. */
  publicUrl: () => string;
  /** Where new OpenCode sessions are created; follow-ups go to the sidecar in the mapping. */
  sidecarUrl: string;
  callbackTtlSeconds: number;
  /** How long a first run may hold its session's lock, and how long others wait for it. */
  firstRunTimeoutMs: number;
}

const STATUS: Record<RunStatus, SessionState> = { success: "completed", error: "failed", aborted: "aborted" };

/**
 * Runs a prompt in a Nubabel session. The first prompt of a session creates its OpenCode session
 * through the sidecar's `/delegate`; later ones resume it with `/sessions/:id/prompt`. Concurrent
 * first prompts are serialised by a lock per session (with the mapping's primary key as the
 * backstop when the lock backend is down): one creates, the others wait and follow up on it.
 */
export class Delegation {
  constructor(private readonly deps: DelegationDeps) {}

  /** `logger` is the request's, so these lines carry its request id. */
  async run(input: DelegateInput, logger?: Logger): Promise<DelegateResponse> {
    const { sessions, mapping } = this.deps;
    const session = await Sessions.open(sessions, input.organizationId, input.sessionId, input.userId);
    // A request's logger already names the organization.
    const log = logger
      ? logger.child({ module: "delegation", sessionId: session.id })
      : this.deps.logger.child({ module: "delegation", sessionId: session.id, organizationId: session.organizationId });
    const binding = bind(this.deps.publicUrl(), this.deps.tokenSecret, session, this.deps.callbackTtlSeconds);
    // Stored once the sidecar has taken the prompt (or failed running it): a prompt it refused
    // (say, an unknown category) never ran and stays out of the history.
    const prompt = {
      id: Sessions.messageId(),
      role: "user" as const,
      content: input.prompt,
      metadata: strip({ userId: input.userId, category: input.category, load_skills: input.load_skills }),
      createdAt: new Date(),
    };

    let response: DelegateResponse;
    let opencodeSessionId = session.state.opencodeSessionId;
    try {
      const existing = await mapping.bySession(session.id, log);
      await sessions.setState(session.id, { opencodeSessionId: existing?.opencodeSessionId ?? opencodeSessionId, status: "running" });
      const first = existing ? undefined : await this.firstRun(session, input, binding, log);
      if (first?.response) {
        response = first.response;
      } else {
        const target = existing ?? first!.mapping!;
        log.info({ opencodeSessionId: target.opencodeSessionId, sidecarUrl: target.sidecarUrl }, "following up");
        response = await this.deps.sidecar
          .prompt(
            target.sidecarUrl,
            target.opencodeSessionId,
            { prompt: input.prompt, session_id: session.id, userId: input.userId, ...binding },
            log,
          )
          .catch((err: unknown) => {
            if (err instanceof SidecarRejected && err.data.status === 404) {
              throw new OpencodeSessionLost(session.id, target.opencodeSessionId, target.sidecarUrl);
            }
            throw err;
          });
      }
      opencodeSessionId = response.metadata.opencodeSessionId;
    } catch (err) {
      if (err instanceof SidecarRejected) {
        await sessions.setState(session.id, session.state).catch(() => undefined);
      } else {
        await sessions.addMessage(session.id, prompt).catch(() => undefined);
        await sessions.setState(session.id, { opencodeSessionId, status: "failed" }).catch(() => undefined);
      }
      throw err;
    }

    await sessions.addMessage(session.id, prompt);
    await sessions.addMessage(session.id, {
      id: Sessions.messageId(),
      role: "assistant",
      content: response.output,
      metadata: strip({ status: response.status, error: response.error, ...response.metadata }),
    });
    await sessions.setState(session.id, { opencodeSessionId, status: STATUS[response.status] });
    log.info({ opencodeSessionId, status: response.status }, "delegation done");
    return { ...response, metadata: { ...response.metadata, nubabelSessionId: session.id } };
  }

  /**
   * Either runs `/delegate` (this request won the session's lock and no mapping exists) and returns
   * its response, or returns the mapping another request created while this one waited.
   */
  private async firstRun(
    session: Session,
    input: DelegateInput,
    binding: Binding,
    log: Logger,
  ): Promise<{ response?: DelegateResponse; mapping?: MappingRecord }> {
    const { lock, mapping, sidecar } = this.deps;
    const key = `delegate:${session.id}`;
    const deadline = Date.now() + this.deps.firstRunTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      let token: string | undefined;
      let lockDown = false;
      try {
        token = await lock.acquire(key, this.deps.firstRunTimeoutMs + 30_000);
      } catch (err) {
        // Without the lock two requests may both create an OpenCode session; the mapping's primary
        // key still keeps exactly one, and the loser's is aborted below.
        lockDown = true;
        log.warn({ err: (err as Error).message }, "session lock unavailable; relying on the database constraint");
      }
      if (token || lockDown) {
        try {
          const raced = await mapping.bySession(session.id, log);
          if (raced) return { mapping: raced };
          log.info({ sidecarUrl: this.deps.sidecarUrl }, "creating the OpenCode session");
          const response = await sidecar.delegate(this.deps.sidecarUrl, {
            prompt: input.prompt,
            session_id: session.id,
            category: input.category,
            load_skills: input.load_skills,
            userId: input.userId,
            ...binding,
          }, log);
          const created = response.metadata.opencodeSessionId;
          const kept = await mapping.record(
            { sessionId: session.id, opencodeSessionId: created, organizationId: session.organizationId, sidecarUrl: this.deps.sidecarUrl },
            log,
          );
          if (kept.opencodeSessionId !== created) {
            log.warn({ orphan: created, kept: kept.opencodeSessionId }, "another instance mapped this session first; aborting ours");
            void sidecar.abort(this.deps.sidecarUrl, created, log).catch(() => undefined);
          }
          return { response };
        } finally {
          if (token) await lock.release(key, token).catch((err: Error) => log.warn({ err: err.message }, "lock release failed"));
        }
      }
      const found = await mapping.bySession(session.id, log);
      if (found) return { mapping: found };
      if (Date.now() > deadline) throw new DelegationBusy(session.id);
      await sleep(Math.min(25 * 2 ** Math.min(attempt, 4), 400));
    }
  }
}

function strip(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
