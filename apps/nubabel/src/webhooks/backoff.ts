/** Retries never wait longer than this, so a day of retries still tries about thirty times. */
export const MAX_DELAY_MS = 3_600_000;

/**
 * The wait before the attempt after `attempts` failed ones: `baseMs` doubling each time up to an
 * hour, with "equal jitter" (half fixed, half random) so endpoints failing together do not retry
 * together, and the spacing still grows.
 */
export function retryDelay(attempts: number, baseMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
  return Math.max(1, Math.round(ceiling / 2 + random() * (ceiling / 2)));
}
