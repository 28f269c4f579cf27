import type { Dispatch } from '../../../shared/ipc/dispatcher';
import { fail } from '../../../shared/ipc/envelope';
import type { GatewayErrorBody } from '../../../shared/gateway';
import { GATEWAY_ERROR_HEADER, isAllowedGatewayMethod } from '../../../shared/gateway';

/**
 * The lock, held by the host rather than by the page (issue 18). While the
 * vault is not unlocked, main answers only what the lock screen and the
 * background outbox need; everything else — the audit trail (patient names),
 * the sites and their settings, the gateway's searches and images — is
 * refused with LOCKED. A page that only hides its screen is no lock: any
 * local process holding the launch token could otherwise read on.
 */
export interface LockState {
  /** The data key is in memory. */
  isUnlocked(): boolean;
  /** The outbox key is held (one unlock in this run): background sending may go on while locked. */
  holdsOutboxKey(): boolean;
}

/**
 * Answered whatever the lock: the lock screen (status, setup, unlock, and the
 * channels that themselves refuse a locked vault), what the page shows before
 * it knows (app.info), its log lines, and the audit trail's health
 * (`audit.status`: counts, forwarding and integrity, no event and no patient).
 * `vault.activity` is not among them: a page that still reports input to a
 * locked host learns it is locked.
 */
const ALWAYS_OPEN = new Set([
  'vault.status',
  'vault.setup',
  'vault.unlock',
  'vault.keys',
  'vault.outboxKey',
  'vault.lock',
  'vault.setPin',
  'vault.setIdleLock',
  'app.info',
  'log.write',
  'audit.status',
]);

/** What a refused channel is for, in the sentence "unlock it to …". */
function purposeOf(channel: string): string {
  if (channel.startsWith('audit.')) return 'see or add to the audit trail';
  if (channel.startsWith('sites.')) return 'see or change the sites';
  return 'go on';
}

export function lockedMessage(purpose: string): string {
  return `The workstation is locked; unlock it to ${purpose}.`;
}

/**
 * Whether `channel` may be answered now; the refusal's message when not. The
 * outbox's records (`audit.record` of an 'outbox.send', or the 'integrity.failed'
 * of a job changed on disk) pass while locked once the outbox key is held: they
 * are the trail of what the background sending did and refused to do.
 */
export function lockedChannelRefusal(channel: string, payload: unknown, state: LockState): string | undefined {
  if (ALWAYS_OPEN.has(channel) || state.isUnlocked()) return undefined;
  if (channel === 'audit.record' && state.holdsOutboxKey() && isOutboxSendRecord(payload)) return undefined;
  return lockedMessage(purposeOf(channel));
}

/** What the background outbox records while locked: its deliveries and a job refused as changed on disk. */
const LOCKED_OUTBOX_AUDIT_ACTIONS: ReadonlySet<unknown> = new Set(['outbox.send', 'integrity.failed']);

function isOutboxSendRecord(payload: unknown): boolean {
  return typeof payload === 'object' && payload !== null && LOCKED_OUTBOX_AUDIT_ACTIONS.has((payload as { action?: unknown }).action);
}

/** `dispatch` behind the lock: a refused channel answers LOCKED before its handler (or its schema) is reached. */
export function lockedDispatch(dispatch: Dispatch, state: LockState): Dispatch {
  return async (channel, payload) => {
    const refusal = lockedChannelRefusal(channel, payload, state);
    return refusal === undefined ? dispatch(channel, payload) : fail('LOCKED', refusal);
  };
}

/** HTTP status of the gateway's LOCKED answer (WebDAV's "Locked"; no site was asked). */
export const GATEWAY_LOCKED_STATUS = 423;

/** What the gateway may do for a request while the vault is locked. */
export type LockedGatewayAccess =
  /** Unlocked, or the outbox's STOW-RS: forwarded as always. */
  | { kind: 'open' }
  /** The outbox's check of which instances a site already holds: forwarded, the answer cut down to the SOP Instance UIDs asked about. */
  | { kind: 'sop-uids-only'; askedUids: readonly string[] }
  | { kind: 'refused'; body: GatewayErrorBody };

/** `/studies/{uid}/instances`, the study-scoped instance search the outbox's check asks. */
const STUDY_INSTANCES = /^\/studies\/[0-9.]+\/instances$/;
const UID_LIST = /^[0-9.]+(,[0-9.]+)*$/;

/**
 * The gateway while locked: only what the background outbox sends, and only
 * once the outbox key is held — before that no page can read an outbox job,
 * so nothing legitimate sends. That is STOW-RS (POST to /studies), and the
 * check after an unknown outcome of which of a job's instances the site
 * already has (QIDO-RS of /studies/{uid}/instances with a SOPInstanceUID
 * list), whose answer is cut down to the UIDs asked about
 * (keepOnlySopInstanceUids): a search, a retrieve, a rendered image or a
 * preview batch is refused.
 */
export function lockedGatewayAccess(method: string, pathAfterBase: string | undefined, query: URLSearchParams, state: LockState): LockedGatewayAccess {
  if (state.isUnlocked()) return { kind: 'open' };
  if (state.holdsOutboxKey() && pathAfterBase !== undefined) {
    if (method === 'POST' && isAllowedGatewayMethod(method, pathAfterBase)) return { kind: 'open' };
    if (method === 'GET' && STUDY_INSTANCES.test(pathAfterBase) && isSopInstanceCheck(query)) {
      return { kind: 'sop-uids-only', askedUids: (query.get('SOPInstanceUID') ?? '').split(',') };
    }
  }
  return { kind: 'refused', body: { code: 'LOCKED', message: lockedMessage('search or open studies') } };
}

function isSopInstanceCheck(query: URLSearchParams): boolean {
  const names = [...query.keys()];
  if (!names.every((n) => n === 'SOPInstanceUID' || n === 'includefield')) return false;
  const uids = query.getAll('SOPInstanceUID');
  return uids.length === 1 && UID_LIST.test(uids[0] ?? '');
}

/** The largest instance-search answer cut down while locked (40 UIDs a query make a few kB). */
const SOP_CHECK_MAX_BYTES = 1024 * 1024;

/**
 * A site's answer to the outbox's instance check, with nothing left but each
 * match's SOP Instance UID (0008,0018), and only those among `askedUids` (the
 * query's SOPInstanceUID list; a site that ignores the filter tells no more):
 * whatever else the site put in (a patient's name, for one) does not leave
 * main while locked. An answer over SOP_CHECK_MAX_BYTES (by its
 * content-length, or as read) is a 502 and is not read further. A failed
 * answer keeps its status and the gateway's own error body, and loses the site's.
 */
export async function keepOnlySopInstanceUids(response: Response, askedUids: Iterable<string>): Promise<Response> {
  const headers = new Headers({ 'cache-control': 'no-store' });
  const gatewayCode = response.headers.get(GATEWAY_ERROR_HEADER);
  if (response.status !== 200) {
    if (gatewayCode !== null) return response;
    await response.body?.cancel();
    return new Response(null, { status: response.status, headers });
  }
  const text = await readAtMost(response, SOP_CHECK_MAX_BYTES);
  let items: unknown;
  try {
    items = text === undefined ? undefined : JSON.parse(text);
  } catch {
    items = undefined;
  }
  if (!Array.isArray(items)) return new Response(null, { status: 502, headers });
  const asked = new Set(askedUids);
  const seen = new Set<string>();
  const uids = items.flatMap((item: unknown) => {
    const value = (item as { '00080018'?: { Value?: unknown } } | null)?.['00080018']?.Value;
    const uid = Array.isArray(value) ? value[0] : undefined;
    if (typeof uid !== 'string' || !/^[0-9.]{1,64}$/.test(uid) || !asked.has(uid) || seen.has(uid)) return [];
    seen.add(uid);
    return [{ '00080018': { vr: 'UI', Value: [uid] } }];
  });
  headers.set('content-type', 'application/dicom+json');
  return new Response(JSON.stringify(uids), { status: 200, headers });
}

/** The body as text when it is at most `maxBytes` (content-length checked first); undefined, the rest cancelled, when larger. */
async function readAtMost(response: Response, maxBytes: number): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}
