/**
 * Waits for `work` to settle, but no longer than `ms`: true when it settled in time (fulfilled or
 * rejected; a rejection is not rethrown), false when the time ran out. The timer is cleared either
 * way and never holds the process open. For shutdowns and bounded waits on work that goes on.
 */
export async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
