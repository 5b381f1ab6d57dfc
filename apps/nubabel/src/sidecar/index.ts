export { SidecarClient, type SidecarClientOptions } from "./client.js";
export { SidecarPool, type MemberState, type PoolMember, type SidecarPoolOptions } from "./pool.js";
export { SidecarProtocolError, SidecarRejected, SidecarUnavailable } from "./errors.js";
