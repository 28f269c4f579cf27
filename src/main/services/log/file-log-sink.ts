import { closeSync, fchmodSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LogRecord, LogSink, Redactor } from '../../../shared/log';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../fs/private-json-file';

export interface FileLogSink extends LogSink {
  readonly filePath: string;
  close(): void;
}

export interface FileLogSinkOptions {
  /** Also write each line here (stderr for a host run in a terminal); nothing when omitted. */
  echo?: { write(text: string): unknown };
}

export function mainLogPath(dataDir: string): string {
  return join(dataDir, 'logs', 'main.log');
}

/**
 * The one place main's log lines leave the process: JSON lines appended to
 * a 0600 file, optionally echoed. Writes are synchronous so the line before
 * a crash is on disk. Records are redacted again here — loggers made with a
 * redactor already did, but a sink must not trust every caller to have one.
 */
export function createFileLogSink(filePath: string, redactor: Redactor, options: FileLogSinkOptions = {}): FileLogSink {
  mkdirSync(dirname(filePath), { recursive: true, mode: PRIVATE_DIR_MODE });
  let fd: number | undefined = openSync(filePath, 'a', PRIVATE_FILE_MODE);
  fchmodSync(fd, PRIVATE_FILE_MODE);

  const sink = ((record: LogRecord) => {
    const line =
      JSON.stringify({
        time: record.time,
        level: record.level,
        scope: record.scope,
        message: redactor.redact(record.message),
      }) + '\n';
    if (fd !== undefined) writeSync(fd, line);
    options.echo?.write(line);
  }) as FileLogSink;
  Object.defineProperty(sink, 'filePath', { value: filePath });
  sink.close = () => {
    if (fd === undefined) return;
    closeSync(fd);
    fd = undefined;
  };
  return sink;
}
