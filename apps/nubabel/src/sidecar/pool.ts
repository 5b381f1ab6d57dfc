import { Http, Periodic, type SidecarHealth } from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";

/**
 * - `ready`: answered its last heartbeat healthy, not draining: takes new sessions.
 * - `unready`: answers but cannot take new sessions now (engine restarting, drained), or missed
 *   heartbeats for less than the timeout; its sessions stay with it.
 * - `gone`: refused connections for the heartbeat timeout (nothing listens: the process is dead),
 *   or no answer at all for the longer `slowTimeoutMs` (a sidecar only slow under load, or cut
 *   off from this instance alone, is not taken for dead so soon). Its running runs fail, its
 *   sessions move on their next follow-up.
 * - `unknown`: not asked yet (just started).
 */
export type MemberState = "unknown" | "ready" | "unready" | "gone";

/** One sidecar as the pool sees it (`/health` lists these). */
export interface PoolMember {
  url: string;
  state: MemberState;
  draining: boolean;
  /** Runs there at its last heartbeat plus sessions placed there since. */
  runs: number;
  capacity: number;
  /** Why it is not `ready`, for a person. */
  problem?: string;
  lastSeenAt?: Date;
}

export interface SidecarPoolOptions {
  urls: string[];
  /** How often each sidecar's `/health` is asked. */
  heartbeatMs: number;
  /** Connections refused for this long: the sidecar is gone. */
  timeoutMs: number;
  /** Requests unanswered (timing out) for this long: the sidecar is gone. At least `timeoutMs`. */
  slowTimeoutMs?: number;
  health: (url: string) => Promise<SidecarHealth>;
  logger: Logger;
}

interface Member {
  url: string;
  state: MemberState;
  health?: SidecarHealth;
  problem?: string;
  lastSeenAt?: number;
  /** New sessions placed here since its last heartbeat, so a burst spreads before the next one. */
  placed: number;
  /** New sessions ever placed here: equal loads take turns. */
  assigned: number;
  /** Whether its last heartbeat got an answer. */
  answering: boolean;
}

const DEFAULT_CAPACITY = 100;

/**
 * The sidecars Nubabel knows (`SIDECAR_URLS`), each asked for its health every heartbeat. New
 * sessions go to a ready one: the organization's own (where its workspace is) unless it is full,
 * else the least loaded. A sidecar silent for the heartbeat timeout is `gone`: listeners hear it
 * once (its running runs fail), and it is ready again as soon as it answers healthy.
 */
export class SidecarPool {
  private readonly members: Member[];
  private readonly goneListeners: Array<(url: string, reason: string) => void> = [];
  private beats: Periodic.Periodic | undefined;
  private readonly startedAt = Date.now();
  private readonly log: Logger;

  constructor(private readonly o: SidecarPoolOptions) {
    if (!o.urls.length) throw new Error("a sidecar pool needs at least one URL");
    this.members = o.urls.map((url) => ({ url, state: "unknown", placed: 0, assigned: 0, answering: false }));
    this.log = o.logger.child({ module: "sidecar-pool" });
  }

  get urls(): string[] {
    return this.members.map((m) => m.url);
  }

  start(): void {
    this.beats = Periodic.every(
      { everyMs: this.o.heartbeatMs, firstAfterMs: 0, onError: (err) => this.log.warn({ err: err.message }, "heartbeat failed") },
      () => this.heartbeat(),
    );
  }

  stop(): void {
    void this.beats?.stop(0);
  }

  /** Asks every sidecar now (tests, and the first heartbeat). */
  async heartbeat(): Promise<void> {
    await Promise.all(this.members.map((m) => this.ask(m)));
  }

  onGone(listener: (url: string, reason: string) => void): void {
    this.goneListeners.push(listener);
  }

  /**
   * Where a new session goes: `preferred` (the organization's sidecar) when it is ready and not
   * full, else the ready one with the least load for its capacity; `exclude` is skipped (it just
   * refused). With none ready, the least bad one that is not excluded, so a lone sidecar is still
   * tried and its own error reaches the caller; undefined only when everything is excluded.
   */
  place(preferred?: string, exclude: ReadonlySet<string> = new Set()): string | undefined {
    const excluded = new Set([...exclude].map(plain));
    const candidates = this.members.filter((m) => !excluded.has(m.url));
    const ready = candidates.filter((m) => m.state === "ready");
    const own = preferred === undefined ? undefined : ready.find((m) => m.url === plain(preferred));
    let chosen: Member | undefined;
    if (own && loadOf(own) < 1) chosen = own;
    else if (ready.length) chosen = ready.reduce((best, m) => (lighter(m, best) ? m : best));
    else chosen = [...candidates].sort((a, b) => RANK[a.state] - RANK[b.state] || Number(b.answering) - Number(a.answering))[0];
    if (chosen) {
      chosen.placed++;
      chosen.assigned++;
    }
    return chosen?.url;
  }

  /** True when `url` is in the pool and has not answered for the heartbeat timeout. */
  isGone(url: string): boolean {
    return this.member(url)?.state === "gone";
  }

  /**
   * Whether `url` is in the pool. A mapping may name one that is not (another instance's, or one
   * taken out of `SIDECAR_URLS`): it is still tried, and its sessions move only if it fails.
   */
  knows(url: string): boolean {
    return this.member(url) !== undefined;
  }

  /** True when some sidecar other than `url` is ready for new sessions. */
  hasOtherReady(url: string): boolean {
    const own = this.member(url);
    return this.members.some((m) => m !== own && m.state === "ready");
  }

  /** Records a draining refusal at once (the next heartbeat would say so too). */
  sawDraining(url: string): void {
    const member = this.member(url);
    if (member?.health && !member.health.draining) {
      member.health = { ...member.health, draining: true };
      member.state = "unready";
      member.problem = "draining";
    }
  }

  snapshot(): PoolMember[] {
    return this.members.map((m) => ({
      url: m.url,
      state: m.state,
      draining: Boolean(m.health?.draining),
      runs: (m.health?.load?.runs ?? 0) + m.placed,
      capacity: m.health?.load?.capacity ?? DEFAULT_CAPACITY,
      ...(m.problem ? { problem: m.problem } : {}),
      ...(m.lastSeenAt ? { lastSeenAt: new Date(m.lastSeenAt) } : {}),
    }));
  }

  /** A mapping recorded before the URL was written without its trailing slash still finds its sidecar. */
  private member(url: string): Member | undefined {
    return this.members.find((m) => m.url === plain(url));
  }

  private async ask(member: Member): Promise<void> {
    const before = member.state;
    try {
      const health = await this.o.health(member.url);
      member.health = health;
      member.answering = true;
      member.lastSeenAt = Date.now();
      member.placed = 0;
      const ready = health.status === "healthy" && !health.draining;
      member.state = ready ? "ready" : "unready";
      member.problem = ready ? undefined : health.draining ? "draining" : (health.problems?.join("; ") ?? `its engine is ${health.opencode.state}`);
    } catch (err) {
      member.answering = false;
      const silentMs = Date.now() - (member.lastSeenAt ?? this.startedAt);
      const refused = isRefused(err);
      const limit = refused ? this.o.timeoutMs : Math.max(this.o.timeoutMs, this.o.slowTimeoutMs ?? 0);
      member.problem = `no answer: ${refused ? "connection refused" : err instanceof Error ? err.message : String(err)}`;
      member.state = silentMs >= limit || member.state === "gone" ? "gone" : "unready";
    }
    if (member.state === before) return;
    const log = member.state === "ready" ? this.log.info.bind(this.log) : this.log.warn.bind(this.log);
    log({ sidecarUrl: member.url, from: before, to: member.state, problem: member.problem }, "sidecar state changed");
    if (member.state === "gone") {
      const silentS = Math.round((Date.now() - (member.lastSeenAt ?? this.startedAt)) / 1000);
      const reason = `the sidecar at ${member.url} has not answered for ${silentS} s`;
      for (const listener of this.goneListeners) listener(member.url, reason);
    }
  }
}

/** Which sidecar to try when none is ready: one that answers (though unready) first, a gone one last. */
const RANK: Record<MemberState, number> = { ready: 0, unready: 1, unknown: 2, gone: 3 };

/** Nothing listens there. */
function isRefused(err: unknown): boolean {
  return Http.errorCode(err) === "ECONNREFUSED";
}

function plain(url: string): string {
  return url.replace(/\/+$/, "");
}

function lighter(a: Member, b: Member): boolean {
  const [la, lb] = [loadOf(a), loadOf(b)];
  return la < lb || (la === lb && a.assigned < b.assigned);
}

function loadOf(m: Member): number {
  const capacity = m.health?.load?.capacity ?? DEFAULT_CAPACITY;
  return ((m.health?.load?.runs ?? 0) + m.placed) / capacity;
}
