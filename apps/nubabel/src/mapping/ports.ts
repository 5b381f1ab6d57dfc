/** Which OpenCode session, on which sidecar, backs a Nubabel session. */
export interface MappingRecord {
  sessionId: string;
  opencodeSessionId: string;
  organizationId: string;
  sidecarUrl: string;
}

/**
 * The durable mapping (PostgreSQL), keyed by (organization, session). `insert` never overwrites: when a mapping for the session
 * already exists it returns that one, so the first writer wins a race and every loser learns of it.
 */
export interface MappingStore {
  insert(record: MappingRecord): Promise<MappingRecord>;
  bySession(organizationId: string, sessionId: string): Promise<MappingRecord | undefined>;
  byOpencode(opencodeSessionId: string): Promise<MappingRecord | undefined>;
  /**
   * Points the session at a new OpenCode session (it moved to another sidecar), if it is still
   * mapped to `fromOpencodeSessionId`; returns the mapping in force either way.
   */
  move(record: MappingRecord, fromOpencodeSessionId: string): Promise<MappingRecord>;
  /** Of `among`, the sidecar holding the organization's latest session, if any. */
  latestSidecar(organizationId: string, among: string[]): Promise<string | undefined>;
}

/**
 * The hot cache in front of `MappingStore` (Redis: `session:mapping:<organizationId>:<sessionId>` and
 * `session:mapping-oc:<opencodeSessionId>`). It may lose anything at any time and may throw when
 * unreachable; callers treat both as a miss.
 */
export interface MappingCache {
  bySession(organizationId: string, sessionId: string): Promise<MappingRecord | undefined>;
  byOpencode(opencodeSessionId: string): Promise<MappingRecord | undefined>;
  /** Stores both directions with one TTL. */
  put(record: MappingRecord, ttlSeconds: number): Promise<void>;
}
