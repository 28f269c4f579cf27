import type { AuditEvent } from '../../../shared/ipc/contract';
import type { DicomAuditSource } from './dicom-audit-message';
import { toDicomAuditMessage } from './dicom-audit-message';

/**
 * One audit event as an RFC 5424 syslog message, the way IHE ATNA (ITI-20,
 * "Record Audit Event") carries a DICOM PS3.15 A.5 audit message to an Audit
 * Record Repository:
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] BOM<AuditMessage…>
 *
 * and framed for a stream (TCP / TLS) by octet counting (RFC 6587 3.4.1,
 * RFC 5425 4.3): `LEN SP SYSLOG-MSG`, LEN in bytes.
 */

/** Facility 10: security/authorization messages (RFC 5424 6.2.1). */
export const SYSLOG_FACILITY_AUTHPRIV = 10;
/** Severity 5 notice (success) and 4 warning (failure). */
export const SYSLOG_SEVERITY_NOTICE = 5;
export const SYSLOG_SEVERITY_WARNING = 4;
export const SYSLOG_APP_NAME = 'telerad';
/** ITI-20 names this MSGID for the RFC 3881 / DICOM audit message schema. */
export const SYSLOG_MSGID = 'IHE+RFC-3881';
/**
 * The SD-ID carrying seq and hash. 32473 is the enterprise number RFC 5612
 * reserves for documentation; a deployment with its own IANA number would use
 * that instead. seq lets a repository recognise a resend (same seq twice).
 */
export const SYSLOG_SD_ID = 'telerad@32473';

const BOM = '\uFEFF';
const NIL = '-';

export interface SyslogMessageOptions {
  /** This machine's name (os.hostname()); sanitised to RFC 5424 PRINTUSASCII. */
  hostname: string;
  /** The process id, or nothing (NILVALUE). */
  procId?: string | number;
  /** AuditSourceIdentification in the XML. */
  source: DicomAuditSource;
}

/** RFC 5424 header fields are PRINTUSASCII (33-126) with a length limit: other characters become '_', an empty value NILVALUE. */
function headerField(value: string | number | undefined, maxLength: number): string {
  if (value === undefined) return NIL;
  const clean = String(value)
    .replace(/[^\x21-\x7e]/g, '_')
    .slice(0, maxLength);
  return clean === '' ? NIL : clean;
}

/** PARAM-VALUE escaping (RFC 5424 6.3.3): '"', '\' and ']' are preceded by '\'. */
export function escapeSdParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

// RFC 5424 TIMESTAMP: FULL-DATE "T" FULL-TIME, at most 6 fraction digits, Z or an offset.
const RFC5424_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

/** The PRI value: facility 10 with notice (<85>) for a success, warning (<84>) for a failure. */
export function syslogPriority(event: Pick<AuditEvent, 'outcome'>): number {
  return SYSLOG_FACILITY_AUTHPRIV * 8 + (event.outcome === 'success' ? SYSLOG_SEVERITY_NOTICE : SYSLOG_SEVERITY_WARNING);
}

/** The SYSLOG-MSG for one event (unframed). */
export function formatSyslogMessage(event: AuditEvent, options: SyslogMessageOptions): string {
  // The log stamps `at` with toISOString (millisecond precision, Z), which RFC 5424 accepts as is.
  const timestamp = RFC5424_TIMESTAMP.test(event.at) ? event.at : NIL;
  const header = [
    `<${syslogPriority(event)}>1`,
    timestamp,
    headerField(options.hostname, 255),
    SYSLOG_APP_NAME,
    headerField(options.procId, 128),
    SYSLOG_MSGID,
  ].join(' ');
  const sd = `[${SYSLOG_SD_ID} seq="${event.seq}" hash="${escapeSdParamValue(event.hash)}"]`;
  // One line: the elements joined without newlines, and a newline inside a
  // value (a multi-line reason) as a character reference, which XML reads back
  // as the same character; repositories that split records on newlines (and
  // rsyslog's file output) keep the message whole.
  const xml = toDicomAuditMessage(event, options.source, '').replace(/\r/g, '&#13;').replace(/\n/g, '&#10;');
  return `${header} ${sd} ${BOM}${xml}`;
}

/** Octet-counting framing (RFC 6587 3.4.1 / RFC 5425 4.3): the message length in bytes, a space, the message. */
export function frameOctetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

/** One event, formatted and framed, ready for a single socket write. */
export function syslogFrame(event: AuditEvent, options: SyslogMessageOptions): Buffer {
  return frameOctetCounted(formatSyslogMessage(event, options));
}
