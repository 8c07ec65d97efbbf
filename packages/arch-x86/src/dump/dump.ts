/**
 * x86 state dumps from the section tables (sections.ts): a structured object (sections → keys
 * → values; bigints stay bigints) and readable text, both from the same rows.
 */
import type { X86ThreadContext } from '../state/thread-context';
import { X86_DUMP_SECTIONS, X86_DUMP_SECTION_NAMES, type DumpRow, type DumpValue, type X86DumpSection } from './sections';

export type X86Dump = Partial<Record<X86DumpSection, Record<string, DumpValue>>>;

function rowsOf(tc: X86ThreadContext, section: X86DumpSection): DumpRow[][] {
  return X86_DUMP_SECTIONS[section].lines(tc);
}

/** The structured dump of `sections` (default: all eight). */
export function x86Dump(tc: X86ThreadContext, sections: readonly X86DumpSection[] = X86_DUMP_SECTION_NAMES): X86Dump {
  const out: X86Dump = {};
  for (const s of sections) out[s] = Object.fromEntries(rowsOf(tc, s).flat().map((r) => [r.key, r.value]));
  return out;
}

/**
 * The text dump: a title line per section, then its rows, `key: text` with the keys of a line
 * right-aligned in one width. With `titles: false` only the rows (GuestError's register dump).
 */
export function formatX86Dump(tc: X86ThreadContext, sections: readonly X86DumpSection[] = X86_DUMP_SECTION_NAMES, options: { titles?: boolean } = {}): string {
  const out: string[] = [];
  for (const s of sections) {
    if (options.titles !== false) out.push(`== ${X86_DUMP_SECTIONS[s].title} ==`);
    const lines = rowsOf(tc, s);
    const width = Math.max(0, ...lines.flat().map((r) => r.key.length));
    for (const line of lines) out.push(line.map((r) => `${r.key.padStart(width)}: ${r.text}`).join('  '));
  }
  return out.join('\n');
}
