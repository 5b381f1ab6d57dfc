import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { SandboxHealth } from "@nubabel/contracts";

const run = promisify(execFile);

/** The engine's shell: a wrapper named `bash` that runs each command in bubblewrap. */
export const SANDBOX_SHELL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "sandbox", "bash");

export interface SandboxSettings {
  mode: "bwrap" | "off";
  bwrap: string;
  /** Folders no command may see even if a system folder holds them (the data folder, the code). */
  hide: string[];
  network: "none" | "host";
  timeoutMs: number;
  memoryMb: number;
  outputBytes: number;
}

/**
 * What the agent's shell commands run in, decided once at start. `bwrap` is used only after a
 * trial run proves it works here (installed, and namespaces allowed); otherwise commands are
 * refused with the reason, never run unsandboxed unless the operator chose `SANDBOX=off`.
 */
export class Sandbox {
  private constructor(
    readonly settings: SandboxSettings,
    readonly shell: SandboxHealth["shell"],
    readonly reason: string | undefined,
  ) {}

  static async prepare(settings: SandboxSettings): Promise<Sandbox> {
    if (settings.mode === "off") {
      return new Sandbox(settings, "unsandboxed", "SANDBOX=off: the agent's shell commands run as the engine's own user, without isolation");
    }
    const problem = await probe(settings.bwrap);
    return problem ? new Sandbox(settings, "refused", problem) : new Sandbox(settings, "sandboxed", undefined);
  }

  /** Engine settings: its `shell` (the wrapper) and the wrapper's variables. None when off. */
  engine(): { shell?: string; env: Record<string, string> } {
    if (this.settings.mode === "off") return { env: {} };
    return {
      shell: SANDBOX_SHELL,
      env: {
        SHELL: SANDBOX_SHELL,
        NUBABEL_SANDBOX: this.shell === "sandboxed" ? "bwrap" : "refuse",
        NUBABEL_SANDBOX_BWRAP: this.settings.bwrap,
        NUBABEL_SANDBOX_HIDE: this.settings.hide.join(":"),
        ...(this.reason ? { NUBABEL_SANDBOX_REASON: this.reason } : {}),
        NUBABEL_SANDBOX_NETWORK: this.settings.network,
        NUBABEL_SANDBOX_TIMEOUT_S: String(Math.ceil(this.settings.timeoutMs / 1000)),
        NUBABEL_SANDBOX_MEMORY_KB: String(this.settings.memoryMb * 1024),
        NUBABEL_SANDBOX_OUTPUT_BYTES: String(this.settings.outputBytes),
      },
    };
  }

  health(): SandboxHealth {
    return {
      mode: this.settings.mode,
      shell: this.shell,
      network: this.settings.mode === "off" ? "host" : this.settings.network,
      ...(this.reason ? { reason: this.reason } : {}),
    };
  }
}

/** Why bubblewrap cannot sandbox here, or undefined when a trial command ran in it. */
async function probe(bwrap: string): Promise<string | undefined> {
  try {
    await run(bwrap, ["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"], { timeout: 5_000 });
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") {
      return `bubblewrap (${bwrap}) is not installed: install Debian's bubblewrap package, or set SANDBOX=off on a single-tenant host`;
    }
    const detail = (e.stderr ?? e.message).trim().split("\n")[0];
    return `bubblewrap cannot create a sandbox here (${detail}): allow unprivileged user namespaces, or set SANDBOX=off on a single-tenant host`;
  }
}
