/**
 * The checkpoint's small files written with their fsyncs on the thread pool (synced-files.ts):
 * contents, refusals, and no file descriptor left open whatever happens.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NewFile, closeAll, createNewFiles, fsyncPaths, writeFilesSynced } from '../src/checkpoint/synced-files';

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

describe('writeFilesSynced', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmts-synced-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('creates every file with its bytes', async () => {
    const before = openFds();
    await writeFilesSynced([
      { file: path.join(dir, 'a.json'), bytes: '{"a":1}' },
      { file: path.join(dir, 'b.bin'), bytes: Uint8Array.of(1, 2, 3) },
      { file: path.join(dir, 'empty'), bytes: new Uint8Array(0) },
    ]);
    expect(fs.readFileSync(path.join(dir, 'a.json'), 'utf8')).toBe('{"a":1}');
    expect(Array.from(fs.readFileSync(path.join(dir, 'b.bin')))).toEqual([1, 2, 3]);
    expect(fs.statSync(path.join(dir, 'empty')).size).toBe(0);
    expect(openFds()).toBe(before);
  });

  it('refuses a file that exists, the ones before it closed', async () => {
    fs.writeFileSync(path.join(dir, 'taken'), 'old');
    const before = openFds();
    await expect(
      writeFilesSynced([
        { file: path.join(dir, 'first'), bytes: 'x' },
        { file: path.join(dir, 'taken'), bytes: 'new' },
        { file: path.join(dir, 'never'), bytes: 'y' },
      ]),
    ).rejects.toMatchObject({ code: 'EEXIST' });
    expect(fs.readFileSync(path.join(dir, 'taken'), 'utf8')).toBe('old');
    // Every file is created before any is written: the one before it was created, empty, and closed.
    expect(fs.readFileSync(path.join(dir, 'first'), 'utf8')).toBe('');
    expect(fs.existsSync(path.join(dir, 'never'))).toBe(false);
    expect(openFds()).toBe(before);
  });

  it('createNewFiles: the files exist at once, written before any fsync, synced and closed when asked', async () => {
    const before = openFds();
    const [one, two] = createNewFiles([path.join(dir, 'one'), path.join(dir, 'two')]);
    one.write('first');
    two.write(Uint8Array.of(9, 8));
    // Before any fsync: the entries a directory fsync must cover are there, the files still open.
    expect(fs.readFileSync(path.join(dir, 'one'), 'utf8')).toBe('first');
    expect(Array.from(fs.readFileSync(path.join(dir, 'two')))).toEqual([9, 8]);
    expect(openFds()).toBe(before + 2);
    await Promise.all([one.syncAndClose(), two.syncAndClose()]);
    expect(openFds()).toBe(before);
  });

  it('createNewFiles throws at once on a file that exists, closing the ones it opened', () => {
    fs.writeFileSync(path.join(dir, 'taken'), 'old');
    const before = openFds();
    expect(() => createNewFiles([path.join(dir, 'ok'), path.join(dir, 'taken')])).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(openFds()).toBe(before);
    expect(fs.readFileSync(path.join(dir, 'taken'), 'utf8')).toBe('old');
  });

  it('NewFile: written and synced once; closed, it refuses writes and syncs, and closing again does nothing', async () => {
    const before = openFds();
    const synced = NewFile.create(path.join(dir, 'synced'));
    synced.write('content');
    await synced.syncAndClose();
    expect(fs.readFileSync(path.join(dir, 'synced'), 'utf8')).toBe('content');
    expect(() => synced.write('more')).toThrow(/synced: already closed/);
    expect(() => synced.syncAndClose()).toThrow(/already closed/);
    const abandoned = NewFile.create(path.join(dir, 'abandoned'));
    expect(openFds()).toBe(before + 1);
    closeAll([abandoned, synced]);
    abandoned.close();
    expect(openFds()).toBe(before);
    expect(() => NewFile.create(path.join(dir, 'abandoned'))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(openFds()).toBe(before);
  });

  it('fsyncPaths syncs directories and files, and names a missing one', async () => {
    fs.writeFileSync(path.join(dir, 'f'), 'z');
    const before = openFds();
    await fsyncPaths([dir, path.join(dir, 'f')]);
    await expect(fsyncPaths([dir, path.join(dir, 'missing')])).rejects.toMatchObject({ code: 'ENOENT', path: path.join(dir, 'missing') });
    expect(openFds()).toBe(before);
  });
});
