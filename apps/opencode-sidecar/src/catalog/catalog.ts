import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { DEFAULT_CATEGORIES, DEFAULT_CATEGORY } from "./defaults.js";

const Category = z.object({
  description: z.string().default(""),
  prompt: z.string().default(""),
  model: z.string().regex(/^[^/]+\/.+$/, "must be provider/model").optional(),
  agent: z.string().optional(),
});

/** The sidecar's configuration file (`SIDECAR_CONFIG`): merged over the built-in defaults. */
export const SidecarFile = z.object({
  defaultCategory: z.string().optional(),
  categories: z.record(z.string(), Category).default({}),
  /** Extra folders holding skills (`<folder>/<name>/SKILL.md`). */
  skillDirs: z.array(z.string()).default([]),
  /** Skills added to every prompt. */
  defaultSkills: z.array(z.string()).default([]),
});
export type SidecarFile = z.infer<typeof SidecarFile>;

export interface Skill {
  name: string;
  description: string;
  body: string;
  /** Its folder (the one holding SKILL.md). */
  dir?: string;
}

/** A category or skill that does not exist; the message lists the ones that do. */
export class UnknownSelectionError extends Error {
  override readonly name = "UnknownSelectionError";
  constructor(
    readonly field: "category" | "load_skills",
    readonly unknown: string[],
    readonly known: string[],
  ) {
    super(`unknown ${field === "category" ? "category" : "skill"} ${unknown.map((u) => `"${u}"`).join(", ")}; known: ${known.join(", ")}`);
  }
}

/** What a prompt runs with, once category and skills are resolved. */
export interface Selection {
  category: string;
  model?: string;
  agent?: string;
  system: string;
}

/** Reads `SKILL.md` (front matter `name`, `description`, then the body). */
export function readSkill(file: string): Skill {
  const text = readFileSync(file, "utf8");
  const match = text.match(/^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/);
  if (!match) throw new Error(`${file}: missing front matter (---)`);
  const meta = z
    .object({ name: z.string().min(1), description: z.string().min(1) })
    .parse(parseYaml(match[1] ?? ""));
  return { name: meta.name, description: meta.description, body: (match[2] ?? "").trim() };
}

function loadSkills(dirs: string[]): Map<string, Skill> {
  const skills = new Map<string, Skill>();
  for (const dir of dirs) {
    if (!existsSync(dir)) throw new Error(`skill folder ${dir} does not exist`);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name, "SKILL.md");
      if (entry.isDirectory() && existsSync(file)) {
        const skill = readSkill(file);
        skills.set(skill.name, { ...skill, dir: path.join(dir, entry.name) });
      }
    }
  }
  return skills;
}

/** Categories and skills, loaded once at start. */
export class Catalog {
  private constructor(
    readonly categories: Map<string, z.infer<typeof Category>>,
    readonly skills: Map<string, Skill>,
    readonly defaultCategory: string,
    private readonly defaultSkills: string[],
    private readonly defaultAgent: string | undefined,
    private readonly agentPrompts: Record<string, string>,
  ) {}

  /**
   * `defaultAgent`: the agent of a named category that names none (OhMyOpenCode's, when it is on);
   * `agentPrompts`: what that agent gets first for a category (OhMyOpenCode's category prompts).
   */
  static load(opts: { file?: string; shippedSkillsDir: string; defaultAgent?: string; agentPrompts?: Record<string, string> }): Catalog {
    let file: SidecarFile = SidecarFile.parse({});
    if (opts.file) {
      const raw = readFileSync(opts.file, "utf8");
      const parsed = SidecarFile.safeParse(opts.file.endsWith(".json") ? JSON.parse(raw) : parseYaml(raw));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(`SIDECAR_CONFIG (${opts.file}): ${issue?.path.join(".")}: ${issue?.message}`);
      }
      file = parsed.data;
      const base = path.dirname(opts.file);
      file.skillDirs = file.skillDirs.map((d) => path.resolve(base, d));
    }
    const categories = new Map(Object.entries({ ...DEFAULT_CATEGORIES, ...file.categories }));
    const skills = loadSkills([opts.shippedSkillsDir, ...file.skillDirs]);
    const catalog = new Catalog(categories, skills, file.defaultCategory ?? DEFAULT_CATEGORY, file.defaultSkills, opts.defaultAgent, opts.agentPrompts ?? {});
    catalog.select(undefined, []); // fail at start, not at the first request, on a bad default
    return catalog;
  }

  /** Each category's model, where the operator set one. */
  categoryModels(): Record<string, { model?: string }> {
    return Object.fromEntries([...this.categories].map(([name, c]) => [name, c.model ? { model: c.model } : {}]));
  }

  /** Resolves a request's category and skills; throws `UnknownSelectionError` for unknown names. */
  select(category: string | undefined, skillNames: string[] | undefined): Selection {
    const name = category ?? this.defaultCategory;
    const cat = this.categories.get(name);
    if (!cat) throw new UnknownSelectionError("category", [name], [...this.categories.keys()]);
    const wanted = [...new Set([...this.defaultSkills, ...(skillNames ?? [])])];
    const missing = wanted.filter((s) => !this.skills.has(s));
    if (missing.length) throw new UnknownSelectionError("load_skills", missing, [...this.skills.keys()]);
    const byDefaultAgent = !cat.agent && category !== undefined && this.defaultAgent !== undefined;
    const parts = [
      byDefaultAgent ? this.agentPrompts[name] : undefined,
      cat.prompt,
      ...wanted.map((s) => `<skill name="${s}">\n${this.skills.get(s)?.body}\n</skill>`),
    ];
    return {
      category: name,
      system: parts.filter(Boolean).join("\n\n"),
      ...(cat.model ? { model: cat.model } : {}),
      // A category the caller names runs with `defaultAgent`; with none named, the engine's own
      // default agent runs (OhMyOpenCode's Sisyphus, which may delegate to categories itself).
      ...(cat.agent ? { agent: cat.agent } : byDefaultAgent ? { agent: this.defaultAgent } : {}),
    };
  }
}
