import { parseArgs } from "node:util";
import { CreateApiKeyRequest, Ids } from "@nubabel/contracts";
import { cliEnv } from "./cli-env.js";
import { SlackTeamId } from "../slack/team-id.js";
import { MCP_USAGE, runMcpCli } from "./mcp-commands.js";
import { runSidecarCli, SIDECAR_USAGE } from "./sidecar-commands.js";

const USAGE = `usage:
  nubabel org create --name NAME   create an organization; prints {"organizationId","apiKey"}
  nubabel org list                 list organizations as JSON
  nubabel org link-slack --org ORG --team TEAM
                                   link a Slack workspace (team id T…) to an organization
  nubabel org keys --org ORG       list the organization's API keys (ids and prefixes, never the keys)
  nubabel org add-key --org ORG [--name NAME]
                                   make another API key; prints it this once, with its id
  nubabel org revoke-key --org ORG --key KEY_ID
                                   revoke a key (key_…); the servers refuse it at once when they
                                   can be told (REDIS_URL), within SETTINGS_CACHE_MS otherwise
${MCP_USAGE}
${SIDECAR_USAGE}

Storage comes from the same environment as the server (DATABASE_URL, NUBABEL_DATA_DIR); the sidecars
from SIDECAR_URLS and SIDECAR_SHARED_SECRET.`;

const ORG_VERBS = ["create", "list", "link-slack", "keys", "add-key", "revoke-key"];
const KEY_USAGE: Record<string, string> = {
  keys: "org keys needs --org ORG (org_…)",
  "add-key": "org add-key needs --org ORG (org_…), and takes --name NAME",
  "revoke-key": "org revoke-key needs --org ORG (org_…) and --key KEY_ID (key_…)",
};

/**
 * The storage and server clients load only for a command that uses them: a usage error, or a
 * command of another noun, starts without the database drivers.
 */
const withOrganizations: typeof import("./organizations-client.js").withOrganizations = async (...args) =>
  (await import("./organizations-client.js")).withOrganizations(...args);

/** Runs one CLI command; returns the exit code. Output is JSON on stdout, errors on stderr. */
export async function runCli(
  argv: string[],
  source: Record<string, string | undefined>,
  out: { write(text: string): unknown } = process.stdout,
  err: { write(text: string): unknown } = process.stderr,
): Promise<number> {
  const [noun, verb, ...rest] = argv;
  if (noun === "keys" || noun === "connections") return runMcpCli(argv, source, out, err);
  if (noun === "sidecars") return runSidecarCli(argv, source, out, err);
  if (noun !== "org" || !ORG_VERBS.includes(verb ?? "")) {
    err.write(`${USAGE}\n`);
    return noun === undefined || noun === "help" || noun === "--help" ? 0 : 2;
  }
  const env = cliEnv(source, err);
  if (!env) return 2;
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
    } else if (verb === "link-slack") {
      const { values } = parseArgs({ args: rest, options: { org: { type: "string" }, team: { type: "string" } }, strict: true });
      const team = SlackTeamId.safeParse(values.team);
      const org = Ids.OrganizationId.safeParse(values.org);
      if (!team.success || !org.success) {
        err.write(`org link-slack needs --org ORG (org_…) and --team TEAM (a Slack team id, T…)${values.team && !team.success ? `; --team ${team.error.issues[0]?.message}` : ""}\n`);
        return 2;
      }
      const linked = await withOrganizations(env, (api) => api.linkSlack(team.data, org.data));
      out.write(`${JSON.stringify(linked)}\n`);
    } else if (verb === "keys" || verb === "add-key" || verb === "revoke-key") {
      const { values } = parseArgs({ args: rest, options: { org: { type: "string" }, name: { type: "string" }, key: { type: "string" } }, strict: true });
      const org = Ids.OrganizationId.safeParse(values.org);
      const name = values.name === undefined ? undefined : CreateApiKeyRequest.shape.name.safeParse(values.name.trim());
      if (!org.success || (verb === "revoke-key" && !values.key) || (verb !== "add-key" && values.name !== undefined) || (verb !== "revoke-key" && values.key !== undefined)) {
        err.write(`${KEY_USAGE[verb]}\n`);
        return 2;
      }
      if (name && !name.success) {
        err.write(`org add-key: --name ${name.error.issues[0]?.message ?? "is not a name"} (one line, 1 to 100 characters)\n`);
        return 2;
      }
      if (verb === "revoke-key") {
        const { serversTold, ...revoked } = await withOrganizations(env, (api) => api.revokeKey(org.data, values.key!));
        out.write(`${JSON.stringify(revoked)}\n`);
        if (serversTold === false) {
          err.write("nubabel: revoked in the database, but the running servers could not be told (set REDIS_URL and REDIS_KEY_PREFIX as they have them); they refuse the key within SETTINGS_CACHE_MS\n");
        }
      } else {
        const answer = await withOrganizations<unknown>(env, (api) => (verb === "keys" ? api.listKeys(org.data) : api.addKey(org.data, name?.data)));
        out.write(`${JSON.stringify(answer, null, verb === "keys" ? 2 : undefined)}\n`);
      }
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
