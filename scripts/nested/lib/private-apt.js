'use strict';
/**
 * apt for one extra Debian suite (e.g. bookworm-backports) without touching the system's apt
 * configuration: its own sources.list, package lists and archive cache under the nested cache,
 * the system's dpkg status read only. Used to fetch packages the host must not install (a newer
 * QEMU than the one other runs are using), which are then only unpacked (lib/fetch.js extractDeb).
 */
const fs = require('fs');
const path = require('path');
const { log, sh, tryCapture, mkdirp } = require('./util');

/** Lists younger than this are reused as they are: no network at all on a warm cache. */
const LISTS_MAX_AGE_MS = 24 * 3600 * 1000;

/**
 * @param cacheDir the nested cache
 * @param source {name, line}: a directory name and a one-line sources.list entry
 */
function privateApt(cacheDir, source) {
  const dir = mkdirp(path.join(cacheDir, 'apt', source.name));
  const sourcesList = path.join(dir, 'sources.list');
  const stamp = path.join(dir, 'updated');
  mkdirp(path.join(dir, 'lists', 'partial'));
  mkdirp(path.join(dir, 'archives', 'partial'));
  const opts = [
    '-o', `Dir::Etc::sourcelist=${sourcesList}`, '-o', 'Dir::Etc::sourceparts=-',
    '-o', `Dir::State::Lists=${path.join(dir, 'lists')}`, '-o', `Dir::Cache=${dir}`,
    // The system's apt lock is not ours to take (other runs may be installing); these lists are.
    '-o', 'Debug::NoLocking=1', '-o', 'APT::Sandbox::User=root',
  ];
  const sourceChanged = !fs.existsSync(sourcesList) || fs.readFileSync(sourcesList, 'utf8') !== `${source.line}\n`;
  if (sourceChanged) { fs.writeFileSync(sourcesList, `${source.line}\n`); fs.rmSync(stamp, { force: true }); }

  const fresh = () => fs.existsSync(stamp) && Date.now() - fs.statSync(stamp).mtimeMs < LISTS_MAX_AGE_MS;
  /** apt-get update of the private lists, at most once a day. */
  function update({ force = false } = {}) {
    if (!force && fresh()) return;
    log(`apt-get update (${source.line})`);
    sh('apt-get', [...opts, 'update', '-qq']);
    fs.writeFileSync(stamp, '');
  }
  /** The candidate version and Depends line of a package in the private lists, or null. */
  function show(pkg) {
    const out = tryCapture('apt-cache', [...opts, 'show', '--no-all-versions', pkg]);
    if (!out) return null;
    const field = (f) => (new RegExp(`^${f}: (.*)$`, 'm').exec(out) ?? [])[1] ?? '';
    return { version: field('Version'), depends: field('Depends') };
  }
  /** Downloads the given "name/suite" or "name=version" specs into debDir. */
  function download(specs, debDir) {
    log(`apt-get download ${specs.join(' ')}`);
    sh('apt-get', [...opts, 'download', '-qq', ...specs], { cwd: mkdirp(debDir) });
  }
  return { update, show, download };
}

/**
 * Package names of a Depends field ("a (>= 1), b | c, d:any") — the first of each alternative,
 * which is what a plain `apt-get install` of the dependency would pick when none is installed.
 */
function dependsNames(depends) {
  if (!depends.trim()) return [];
  return depends.split(',').map((d) => d.split('|')[0].trim().split(/[\s(:]/)[0]).filter(Boolean);
}

module.exports = { privateApt, dependsNames };
