export { SidecarClient, type SidecarClientOptions } from "./client.js";
export { SidecarProtocolError, SidecarRejected, SidecarUnavailable } from "./errors.js";
