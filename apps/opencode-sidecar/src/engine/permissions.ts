/**
 * Permission blocks of the engine's config, merged so that whoever comes later (the operator's
 * file, an agent's own rules, a plugin's agents) may tighten the sidecar's rules but not loosen
 * them. Also used by the nubabel-bridge plugin inside the engine: no imports.
 */
export type Action = "allow" | "ask" | "deny";
const STRICTNESS: Record<Action, number> = { allow: 0, ask: 1, deny: 2 };

const isAction = (v: unknown): v is Action => v === "allow" || v === "ask" || v === "deny";

/**
 * Their value for a permission where ours is `ours`: it may tighten (an "ask" of ours may become
 * "deny") but never loosen, and an "ask" of theirs, which nobody would answer, becomes "deny".
 * An object (pattern → action) is judged pattern by pattern.
 */
function tighten(ours: Action, theirs: unknown): unknown {
  if (theirs && typeof theirs === "object" && !Array.isArray(theirs)) {
    return Object.fromEntries(Object.entries(theirs as Record<string, unknown>).map(([pattern, value]) => [pattern, tighten(ours, value)]));
  }
  if (!isAction(theirs)) return ours;
  const wanted: Action = theirs === "ask" ? "deny" : theirs;
  return STRICTNESS[wanted] >= STRICTNESS[ours] ? wanted : ours;
}

/** Our action for a key of `base`: its own, or its strictest pattern's, or that of `"*"`. */
function actionOf(base: Record<string, unknown>, key: string): Action {
  const value = base[key] ?? base["*"];
  if (isAction(value)) return value;
  if (value && typeof value === "object") {
    const actions = Object.values(value).filter(isAction);
    return actions.reduce<Action>((a, b) => (STRICTNESS[b] > STRICTNESS[a] ? b : a), "allow");
  }
  return "allow";
}

/**
 * How to read their block: `ours-kept` when it may hold our own rules, unchanged (a config another
 * plugin edited, or one already merged): a value equal to ours is ours, and stays as it is.
 */
export type MergeMode = "theirs" | "ours-kept";

/** Their permission block over ours (`base`), tightened key by key. */
export function mergePermissions(base: Record<string, unknown>, theirs: Record<string, unknown>, mode: MergeMode = "theirs"): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(theirs)) {
    if (mode === "ours-kept" && key in base && JSON.stringify(value) === JSON.stringify(base[key])) continue;
    merged[key] = tighten(actionOf(base, key), value);
  }
  // Our own keys come after "*": a stricter "*" of theirs must still hold for them.
  const all = merged["*"];
  if (isAction(all) && "*" in theirs) {
    for (const key of Object.keys(base)) if (!(key in theirs)) merged[key] = tighten(actionOf(base, key), all);
  }
  return merged;
}

/** Agents (name → definition) whose own `permission` is tightened against the top-level `base`. */
export function tightenAgents(base: Record<string, unknown>, agents: Record<string, unknown>, mode: MergeMode = "theirs"): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(agents).map(([name, agent]) => {
      const a = agent as Record<string, unknown> | null;
      if (!a || typeof a !== "object" || !a.permission || typeof a.permission !== "object") return [name, agent];
      const own = a.permission as Record<string, unknown>;
      const tightened = mergePermissions(base, own, mode);
      // An agent's "*" comes after our specific rules in the engine: ours are repeated after it.
      return [name, { ...a, permission: "*" in own ? tightened : Object.fromEntries(Object.keys(own).map((k) => [k, tightened[k]])) }];
    }),
  );
}
