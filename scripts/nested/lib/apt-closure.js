'use strict';
/**
 * The shared-library closure of a Debian package, for running one of its programs inside an
 * emulated host that has only a few libraries of its own (libc6, libstdc++6, libgcc-s1). Pure
 * parsing and graph walking here; guest-qemu.js runs `apt-cache depends` and downloads.
 *
 * Only run-time library packages are followed: Debian names them `lib*` (zlib's `zlib1g` is the
 * one historic exception a program like QEMU meets), and for a foreign
 * architecture apt-cache prints them arch-qualified (`libaio1:arm64`). Everything else a package
 * depends on (adduser, debconf, `-common`/`-data` packages of Architecture: all, which print
 * without the qualifier) installs scripts or data, not code the program loads. What is actually
 * loaded is checked afterwards against the ELF files' DT_NEEDED entries (missingSonames).
 */

/**
 * Parses `apt-cache depends <pkg>...` output into name → dependency groups. A group is the list
 * of alternatives of one Depends line (`|Depends:` continues a group onto the next line); each
 * alternative is `{ name, providers }`, where providers is null for a real package and the
 * indented provider names for a virtual one (`<name>`).
 * @param {string} text
 * @param {{ kinds?: string[] }} [options] the relations kept (default Depends and PreDepends)
 * @returns {Map<string, { name: string, providers: string[] | null }[][]>}
 */
function parseAptDepends(text, { kinds = ['Depends', 'PreDepends'] } = {}) {
  const packages = new Map();
  let groups = null;
  let last = null; // the alternative the indented provider lines belong to
  let continues = false; // the previous relation line ended its group with `|`
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (!line.startsWith(' ')) {
      groups = [];
      packages.set(line.trim(), groups);
      last = null;
      continues = false;
      continue;
    }
    const rel = /^ (\||\s)(\w+): (.+)$/.exec(line);
    if (rel) {
      const [, bar, kind, target] = rel;
      if (!kinds.includes(kind)) {
        last = null;
        continues = false;
        continue;
      }
      const virtual = /^<(.+)>$/.exec(target.trim());
      last = { name: virtual ? virtual[1] : target.trim(), providers: virtual ? [] : null };
      if (continues && groups.length) groups[groups.length - 1].push(last);
      else groups.push([last]);
      continues = bar === '|';
      continue;
    }
    // "    provider": a package providing the virtual one on the line above.
    if (last && last.providers) last.providers.push(line.trim());
  }
  return packages;
}

/** `name:arch` → { base, arch } (arch '' when apt printed none: Architecture: all or native). */
function splitQualified(name) {
  const at = name.indexOf(':');
  return at < 0 ? { base: name, arch: '' } : { base: name.slice(0, at), arch: name.slice(at + 1) };
}

/**
 * The package of a dependency group to install: the first real alternative, else the first
 * provider of the first virtual one that has any; null when nothing can satisfy it.
 */
function chooseAlternative(group) {
  for (const alt of group) if (alt.providers === null) return alt.name;
  for (const alt of group) if (alt.providers && alt.providers.length) return alt.providers[0];
  return null;
}

/** A run-time shared-library package of `arch`: `lib*:<arch>` or `zlib1g:<arch>`. */
function isLibraryPackage(name, arch) {
  const q = splitQualified(name);
  return q.arch === arch && /^(lib|zlib)/.test(q.base);
}

/**
 * One breadth-first step of the closure: given the parsed depends of the packages just looked
 * up, the library packages to look up next (not yet seen, not among those the guest has).
 * @param {Map<string, object[][]>} parsed parseAptDepends' result for the current level
 * @param {{ arch: string, seen: Set<string>, guestHas: Set<string> }} ctx guestHas holds base names
 * @returns {string[]} arch-qualified names, in first-seen order; `ctx.seen` gains them
 */
function nextLevel(parsed, { arch, seen, guestHas }) {
  const next = [];
  for (const groups of parsed.values()) {
    for (const group of groups) {
      const name = chooseAlternative(group);
      if (name === null || !isLibraryPackage(name, arch)) continue;
      if (seen.has(name) || guestHas.has(splitQualified(name).base)) continue;
      seen.add(name);
      next.push(name);
    }
  }
  return next;
}

/**
 * The library closure of `root` (e.g. `qemu-system-arm:arm64`): root first, then its library
 * dependencies level by level. `lookup(names)` returns `apt-cache depends` text for those names.
 * @returns {string[]}
 */
function libraryClosure(root, { arch, guestHas, lookup }) {
  const seen = new Set([root]);
  const all = [root];
  let level = [root];
  while (level.length) {
    level = nextLevel(parseAptDepends(lookup(level)), { arch, seen, guestHas });
    all.push(...level);
  }
  return all;
}

/**
 * Sonames that some ELF file needs and nothing provides.
 * @param {{ file: string, needed: string[] }[]} elves the program and the libraries shipped with it
 * @param {Set<string>} provided sonames (file names) present in the shipped or the guest's library directories
 * @returns {{ soname: string, by: string }[]}
 */
function missingSonames(elves, provided) {
  const missing = [];
  for (const { file, needed } of elves) {
    for (const soname of needed) if (!provided.has(soname)) missing.push({ soname, by: file });
  }
  return missing;
}

/** DT_NEEDED entries from `readelf -d` output. */
function parseNeeded(readelfText) {
  const out = [];
  const re = /\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g;
  for (let m = re.exec(readelfText); m; m = re.exec(readelfText)) out.push(m[1]);
  return out;
}

module.exports = { parseAptDepends, chooseAlternative, isLibraryPackage, nextLevel, libraryClosure, missingSonames, parseNeeded, splitQualified };
