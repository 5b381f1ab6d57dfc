import { afterEach, describe, expect, it, vi } from "vitest";

describe("Processes.tiedToParent", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it.runIf(process.platform === "linux")("runs the command through setpriv --pdeathsig where setpriv is on PATH", async () => {
    const { tiedToParent, setpriv } = await import("./processes.js");
    const wrapper = setpriv();
    expect(wrapper, "util-linux's setpriv (installed by .ci/run)").toMatch(/setpriv$/);
    expect(tiedToParent("/bin/node", ["a", "b"], "TERM")).toEqual({ command: wrapper, args: ["--pdeathsig", "TERM", "--", "/bin/node", "a", "b"] });
  });

  it("leaves the command as it is where there is no setpriv", async () => {
    vi.stubEnv("PATH", "/nonexistent");
    const { tiedToParent } = await import("./processes.js");
    expect(tiedToParent("/bin/node", ["a"], "KILL")).toEqual({ command: "/bin/node", args: ["a"] });
  });
});
