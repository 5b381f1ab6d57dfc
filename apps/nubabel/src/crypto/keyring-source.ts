import { developmentKeyring } from "./dev-key.js";
import { KeyringInvalidError } from "./errors.js";
import { parse, type Keyring } from "./keyring.js";

/**
 * The keyring Nubabel starts with. A configured `NUBABEL_ENCRYPTION_KEY` always wins. Without one,
 * the embedded default (PGlite, one machine) gets a development key kept in the data folder and the
 * caller must warn (`warning` is set); any other deployment refuses to start, because a key made up
 * on one instance would leave the others unable to read what it wrote.
 */
export async function resolveKeyring(options: {
  value: string | undefined;
  embedded: boolean;
  dataDir: string;
  variable?: string;
}): Promise<{ keyring: Keyring; warning?: string }> {
  const variable = options.variable ?? "NUBABEL_ENCRYPTION_KEY";
  if (options.value !== undefined && options.value.trim() !== "") return { keyring: parse(options.value, variable) };
  if (!options.embedded) {
    throw new KeyringInvalidError(
      `${variable}: is required when DATABASE_URL is set; generate a key with \`openssl rand -base64 32\` and set ${variable}="k1:<that key>"`,
      { variable },
    );
  }
  const dev = await developmentKeyring(options.dataDir);
  return {
    keyring: dev.keyring,
    warning: `${variable} is not set: MCP credentials are encrypted with a development key kept in ${dev.file}` +
      `${dev.created ? " (just created)" : ""}; set ${variable} for anything but local use`,
  };
}
