import type { ApiRun, ApiRunAccepted, ApiRunList, Approval, StreamEvent } from "@nubabel/contracts";
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { Problem } from "../components.js";
import { cost, duration, tokens, when } from "../format.js";
import { useLoad } from "../hooks.js";
import { useProgress, type RunProgress } from "../live.js";

const ACTIVE = new Set<ApiRun["status"]>(["queued", "running", "waiting_approval"]);
/** Events after which the runs are read again: one started, waits for a person, or ended. */
const RELOAD = new Set<StreamEvent["type"]>(["status", "approval_requested", "approval_resolved", "completed", "session_error"]);

/** One session: its runs (status, duration, tokens, cost), their live progress, Stop and approvals. */
export function SessionPage(props: { sessionId: string }) {
  const { sessionId } = props;
  const runs = useLoad(() => api<ApiRunList>(`/api/sessions/${encodeURIComponent(sessionId)}/runs`), [sessionId]);
  const list = runs.data?.runs ?? [];
  const known = useRef(new Set<string>());
  known.current = new Set(list.map((r) => r.id));
  // A run this page has not listed yet (started elsewhere: the API, Slack) shows up at its first event.
  const live = useProgress(sessionId, (event) => (RELOAD.has(event.type) || (event.runId !== undefined && !known.current.has(event.runId))) && runs.reload());
  const active = list.some((r) => ACTIVE.has(r.status));
  // A light poll while something runs keeps durations and queue positions current.
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(runs.reload, 3_000);
    return () => clearInterval(timer);
  }, [active, runs.reload]);

  return (
    <>
      <p>
        <a href="#/sessions">← Sessions</a>
      </p>
      <h1>
        Session <code>{sessionId}</code>
      </h1>
      <p class="hint" aria-live="polite">
        Live progress: <span class={`live ${live.connection}`}>{live.connection}</span>
      </p>
      <Problem error={runs.error} />
      {list.length === 0 && !runs.loading && <p>No runs in this session yet.</p>}
      <ol class="runs" reversed>
        {[...list].reverse().map((run) => (
          <li key={run.id}>
            <RunCard run={run} progress={live.runs.get(run.id)} onChange={runs.reload} />
          </li>
        ))}
      </ol>
      <FollowUp sessionId={sessionId} onSent={runs.reload} />
    </>
  );
}

function RunCard(props: { run: ApiRun; progress: RunProgress | undefined; onChange: () => void }) {
  const { run, progress } = props;
  const [error, setError] = useState<unknown>();
  const [stopping, setStopping] = useState(false);
  const active = ACTIVE.has(run.status);
  const text = active ? progress?.text : (run.output ?? progress?.text);

  async function stop() {
    setStopping(true);
    try {
      await api(`/api/runs/${run.id}/abort`, { method: "POST" });
      props.onChange();
    } catch (err) {
      setError(err);
    } finally {
      setStopping(false);
    }
  }

  return (
    <article class="card run" aria-labelledby={`run-${run.id}`}>
      <header class="run-head">
        <h2 id={`run-${run.id}`}>
          Run <code>{run.id}</code>
        </h2>
        <span class={`status ${run.status}`} data-testid="run-status">
          {run.status.replace("_", " ")}
        </span>
        {active && (
          <button type="button" class="danger" onClick={stop} disabled={stopping} aria-label={`Stop run ${run.id}`}>
            Stop
          </button>
        )}
      </header>
      <dl class="facts">
        <dt>Started</dt>
        <dd>{when(run.startedAt ?? run.createdAt)}</dd>
        <dt>Duration</dt>
        <dd>{duration(run.startedAt, run.finishedAt) || "–"}</dd>
        <dt>Tokens</dt>
        <dd>{tokens(run.usage) || "–"}</dd>
        <dt>Cost</dt>
        <dd>{cost(run.usage?.cost) || "–"}</dd>
        {run.queuePosition !== undefined && (
          <>
            <dt>Queue position</dt>
            <dd>{run.queuePosition}</dd>
          </>
        )}
      </dl>
      {run.reason && <p class="hint">{run.reason}</p>}
      <Problem error={error} />
      {run.status === "waiting_approval" && <Approvals runId={run.id} onDecided={props.onChange} />}
      {progress && progress.tools.length > 0 && (
        <ul class="tools" aria-label="Tools">
          {progress.tools.map((t) => (
            <li key={t.callId} class={`tool ${t.state}`}>
              <code>{t.tool}</code> {t.state === "running" ? "running…" : t.state}
              {t.error && `: ${t.error}`}
            </li>
          ))}
        </ul>
      )}
      {text && (
        <div class="output" aria-live={active ? "polite" : undefined} data-testid="run-output">
          {text}
        </div>
      )}
    </article>
  );
}

/** The run's pending approvals, each with Approve and Deny. */
function Approvals(props: { runId: string; onDecided: () => void }) {
  const detail = useLoad(() => api<ApiRun>(`/api/runs/${props.runId}`), [props.runId]);
  const [error, setError] = useState<unknown>();
  const pending = (detail.data?.approvals ?? []).filter((a) => a.status === "pending");

  async function decide(approval: Approval, decision: "approve" | "deny") {
    try {
      await api(`/api/runs/${props.runId}/approvals/${approval.id}`, { body: { decision } });
      detail.reload();
      props.onDecided();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section class="approvals" aria-label="Waiting for approval">
      <Problem error={detail.error ?? error} />
      {pending.map((a) => (
        <div key={a.id} class="approval">
          <p>
            The agent wants to use <code>{a.provider ? `${a.provider} / ${a.tool}` : a.tool}</code> (until {when(a.expiresAt)}).
          </p>
          <pre>{JSON.stringify(a.arguments, null, 2)}</pre>
          <button type="button" onClick={() => decide(a, "approve")}>
            Approve
          </button>{" "}
          <button type="button" class="danger" onClick={() => decide(a, "deny")}>
            Deny
          </button>
        </div>
      ))}
    </section>
  );
}

/** Another prompt in this session (the conversation goes on). */
function FollowUp(props: { sessionId: string; onSent: () => void }) {
  const [error, setError] = useState<unknown>();
  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const field = form.elements.namedItem("followUp") as HTMLTextAreaElement;
    const prompt = field.value.trim();
    if (!prompt) return;
    try {
      await api<ApiRunAccepted>("/api/delegate", { body: { prompt, sessionId: props.sessionId }, headers: { prefer: "respond-async" } });
      field.value = "";
      setError(undefined);
      props.onSent();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <form class="card" onSubmit={submit}>
      <label for="followUp">Follow up in this session</label>
      <textarea id="followUp" name="followUp" rows={2} required />
      <Problem error={error} />
      <button type="submit">Send</button>
    </form>
  );
}
