/**
 * The kernel command line of a Linux boot (`kvmts boot`): the user's words, plus the console
 * on the PL011 (ttyAMA0) unless they chose one, plus `panic=-1` unless they set panic= — so a
 * panicking kernel resets at once (a PSCI SYSTEM_RESET the run reports) instead of hanging.
 */
export function linuxCmdline(append = ''): string {
  const words = append.split(/\s+/).filter(Boolean);
  const has = (key: string) => words.some((w) => w.startsWith(key));
  return [...(has('console=') ? [] : ['console=ttyAMA0']), ...words, ...(has('panic=') ? [] : ['panic=-1'])].join(' ');
}
