import type { LogLevel } from './ipc/contract';

export interface LogRecord {
  time: string;
  level: LogLevel;
  scope: string;
  message: string;
}

/** Where log records go: a file in main, the console and main in the renderer. */
export type LogSink = (record: LogRecord) => void;

export interface Logger {
  debug(message: string, detail?: unknown): void;
  info(message: string, detail?: unknown): void;
  warn(message: string, detail?: unknown): void;
  error(message: string, detail?: unknown): void;
  child(scope: string): Logger;
}

/**
 * Replaces every registered secret with "***" in text. The secrets service
 * registers each credential it holds, so a password that reaches an error
 * message (a URL with userinfo, an upstream body that echoes it) still never
 * reaches a log line.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    // Very short strings would redact ordinary words; they are not real secrets anyway.
    if (secret && secret.length >= 4) this.secrets.add(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('***');
    // Credentials embedded in URLs and Authorization headers, whatever their source.
    out = out.replace(/(\/\/)[^/\s:@]+:[^/\s@]+@/g, '$1***:***@');
    out = out.replace(/(authorization["']?\s*[:=]\s*["']?)(basic|bearer)\s+[A-Za-z0-9+/=._~-]+/gi, '$1$2 ***');
    return out;
  }
}

function describe(detail: unknown): string {
  if (detail === undefined) return '';
  if (detail instanceof Error) return ` — ${detail.name}: ${detail.message}`;
  if (typeof detail === 'string') return ` — ${detail}`;
  try {
    return ` — ${JSON.stringify(detail)}`;
  } catch {
    return ` — ${String(detail)}`;
  }
}

/** A prefixed logger: every module gets its own scope instead of calling console. */
export function createLogger(scope: string, sink: LogSink, redactor?: Redactor): Logger {
  const emit = (level: LogLevel, message: string, detail?: unknown): void => {
    const text = message + describe(detail);
    sink({
      time: new Date().toISOString(),
      level,
      scope,
      message: redactor ? redactor.redact(text) : text,
    });
  };
  return {
    debug: (m, d) => emit('debug', m, d),
    info: (m, d) => emit('info', m, d),
    warn: (m, d) => emit('warn', m, d),
    error: (m, d) => emit('error', m, d),
    child: (sub) => createLogger(`${scope}:${sub}`, sink, redactor),
  };
}

/** For tests and tools: collects records in memory. */
export function memorySink(): LogSink & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const sink = ((r: LogRecord) => {
    records.push(r);
  }) as LogSink & { records: LogRecord[] };
  sink.records = records;
  return sink;
}
