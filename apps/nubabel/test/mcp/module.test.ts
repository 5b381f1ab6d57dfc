import { mkdtemp, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Keyring, SealedCredentials } from "../../src/crypto/index.js";
import { MemoryConnectionStore } from "../../src/mcp/memory-connection-store.js";
import { createMcpModule } from "../../src/mcp/module.js";
import { everything, textOf } from "./servers.js";

describe("createMcpModule", () => {
  it("wires the operator's catalog, a private HOME for stdio servers, and the gateway", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "mcp-module-"));
    const catalogPath = path.join(dataDir, "catalog.json");
    await writeFile(
      catalogPath,
      JSON.stringify({
        providers: {
          everything: { transport: { type: "stdio", command: process.execPath, args: [await everything(), "stdio"] }, credentials: ["TOKEN"] },
        },
      }),
    );
    const keyring = Keyring.parse(`k1:${Keyring.generateKey()}`);
    const store = new MemoryConnectionStore();
    store.put({
      id: "conn_m1",
      organizationId: "org_m",
      provider: "everything",
      name: "everything",
      enabled: true,
      sealedCredentials: SealedCredentials.seal(keyring, "conn_m1", { TOKEN: "module-token" }),
      credentialNames: ["TOKEN"],
    });
    const mcp = await createMcpModule({ store, keyring, catalogPath, allowPrivateUrls: false, dataDir, path: process.env.PATH ?? "" });
    try {
      expect(Object.keys(mcp.catalog.providers).sort()).toEqual(["everything", "github", "notion"]);
      const answer = await mcp.gateway.invoke({ organizationId: "org_m" }, { provider: "everything", toolName: "get-env", args: {} });
      const env = JSON.parse(textOf(answer.result)) as Record<string, string>;
      expect(env.TOKEN).toBe("[redacted]");
      expect(env.HOME).toBe(path.join(dataDir, "mcp-home"));
      expect((await stat(env.HOME!)).mode & 0o777).toBe(0o700);
    } finally {
      await mcp.close();
    }
  });
});
