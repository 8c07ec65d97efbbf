/**
 * Waiting for several pieces of work that share a resource the caller frees afterwards (a file
 * descriptor, guest RAM, a temporary directory): `Promise.all` rejects at the first failure while
 * the others still run, so the caller would free what they use. This waits for every one to
 * settle, then rejects with the first failure in argument order.
 */
export async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}
