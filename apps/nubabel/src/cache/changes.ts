/**
 * Tells every instance that a value cached by name and key changed, so each drops its copy at once
 * rather than when it expires. A hint: an announcement lost on the way (Redis down) leaves the copy
 * to its TTL. A single instance needs none (its own changes forget locally).
 */
export interface CacheChanges {
  /** Announces to every instance listening to `cache`, this one included. Never throws. */
  announce(cache: string, key: string): void;
  /** Calls `onChange` with the key of each announcement for `cache`, from any instance. */
  listen(cache: string, onChange: (key: string) => void): void;
}
