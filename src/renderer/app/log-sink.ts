/* The one module in the renderer allowed to write to the console. */
/* eslint-disable no-console */
import type { ServiceClient } from '../../shared/ipc/contract';
import type { LogRecord, LogSink } from '../../shared/log';
import { errorMessage } from '../../shared/error-message';

const MAX_SCOPE = 64; // LogEntrySchema limits in the contract
const MAX_MESSAGE = 4000;

/**
 * The renderer's log sink: every record goes to the devtools console, and
 * info and above also to main's log file through the contract's `log.write`
 * (debug stays local: it is chatty and would cost a round trip per line).
 * A failed forward is reported on the console only: logging it through the
 * logger would loop.
 */
export function createRendererLogSink(client: ServiceClient): LogSink {
  return (r: LogRecord) => {
    const line = `[${r.scope}] ${r.message}`;
    if (r.level === 'error') console.error(line);
    else if (r.level === 'warn') console.warn(line);
    else if (r.level === 'info') console.info(line);
    else console.debug(line);
    if (r.level === 'debug') return;
    client.log
      .write({ level: r.level, scope: r.scope.slice(0, MAX_SCOPE), message: r.message.slice(0, MAX_MESSAGE) })
      .catch((err: unknown) => console.warn(`[log] forwarding to main failed: ${errorMessage(err)}`));
  };
}
