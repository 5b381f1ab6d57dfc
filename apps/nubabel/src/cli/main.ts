import { parseArgs } from "node:util";
import { parseEnv, type Env } from "../config/env.js";
import { withOrganizations } from "./organizations-client.js";

const USAGE = `usage:
  nubabel org create --name NAME   create an organization; prints {"organizationId","apiKey"}
  nubabel org list                 list organizations as JSON

Storage comes from the same environment as the server (DATABASE_URL, NUBABEL_DATA_DIR).`;

/** Runs one CLI command; returns the exit code. Output is JSON on stdout, errors on stderr. */
export async function runCli(argv: string[], source: Record<string, string | undefined>, out = process.stdout, err = process.stderr): Promise<number> {
  const [noun, verb, ...rest] = argv;
  if (noun !== "org" || (verb !== "create" && verb !== "list")) {
    err.write(`${USAGE}\n`);
    return noun === undefined || noun === "help" || noun === "--help" ? 0 : 2;
  }
  let env: Env;
  try {
    // The CLI never talks to the sidecar: a placeholder lets it run without the shared secret.
    env = parseEnv({ SIDECAR_SHARED_SECRET: `whsec_${Buffer.alloc(32).toString("base64")}`, ...source });
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 2;
  }
  try {
    if (verb === "create") {
      const { values } = parseArgs({ args: rest, options: { name: { type: "string" } }, strict: true });
      const name = values.name?.trim();
      if (!name) {
        err.write("org create needs --name NAME\n");
        return 2;
      }
      const created = await withOrganizations(env, (api) => api.create(name));
      out.write(`${JSON.stringify(created)}\n`);
    } else {
      parseArgs({ args: rest, options: {}, strict: true });
      const organizations = await withOrganizations(env, (api) => api.list());
      out.write(`${JSON.stringify(organizations, null, 2)}\n`);
    }
    return 0;
  } catch (e) {
    err.write(`nubabel: ${(e as Error).message}\n`);
    return 1;
  }
}
