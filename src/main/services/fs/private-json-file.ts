import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Owner-only modes: these files hold site configuration and credentials on shared machines. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates the data folder 0700, and forces 0700 on one that already exists:
 * mkdir's mode only applies to a folder it creates, so a `--data-dir` made
 * earlier (0755 under the usual umask) let every local user list and read
 * what the app keeps there. Windows has no POSIX modes; chmod is a no-op there.
 */
export async function ensurePrivateDataDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await chmod(dir, PRIVATE_DIR_MODE);
}

/** Reads a JSON file; undefined when it does not exist yet (first launch). */
export async function readJsonFile(filePath: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(filePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // The parser's own message can quote file content (a secret, say), so it is not repeated here.
    throw new Error(`${filePath} is not valid JSON`);
  }
}

/**
 * Writes JSON through a temporary file and a rename, so a crash mid-write
 * leaves either the old file or the new one, never half of each. The file is
 * created owner-only; chmod afterwards covers a file an older version made
 * with a wider mode.
 */
export async function writePrivateJsonFile(filePath: string, value: unknown): Promise<void> {
  await mkdir(dirname(filePath), { recursive: true, mode: PRIVATE_DIR_MODE });
  const tmp = `${filePath}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode: PRIVATE_FILE_MODE });
  await rename(tmp, filePath);
  await chmod(filePath, PRIVATE_FILE_MODE);
}

/** Runs async tasks one after another: read-modify-write of one file must not interleave. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
