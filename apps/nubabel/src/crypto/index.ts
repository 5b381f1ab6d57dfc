export * as Keyring from "./keyring.js";
export * as Cipher from "./cipher.js";
export * as SealedCredentials from "./credentials.js";
export * as Rotation from "./rotation.js";
export { developmentKeyring } from "./dev-key.js";
export { resolveKeyring } from "./keyring-source.js";
export * from "./errors.js";
