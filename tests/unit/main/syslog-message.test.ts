import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/shared/ipc/contract';
import { toDicomAuditMessage } from '../../../src/main/services/audit/dicom-audit-message';
import { escapeSdParamValue, formatSyslogMessage, frameOctetCounted, syslogFrame } from '../../../src/main/services/audit/syslog-message';

const event: AuditEvent = {
  seq: 42,
  at: '2026-03-01T08:01:00.000Z',
  actor: 'Dr Ama Mensah',
  source: 'renderer',
  action: 'study.view',
  patient: { id: 'P-100', name: 'MENSAH^KOFI' },
  studyInstanceUID: '1.2.826.0.1.3680043.8.498.1',
  outcome: 'success',
  prev: '0'.repeat(64),
  hash: 'ab'.repeat(32),
};
const options = { hostname: 'clinic-laptop-3', procId: 4711, source: { sourceId: 'telerad-workstation/web' } };

// RFC 5424 6: HEADER SP STRUCTURED-DATA [SP MSG].
const SYSLOG_LINE = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[.*?[^\\]\]) \uFEFF(.*)$/s;

function fields(message: string): { pri: number; timestamp: string; hostname: string; app: string; procId: string; msgId: string; sd: string; msg: string } {
  const m = SYSLOG_LINE.exec(message);
  if (!m) throw new Error(`not an RFC 5424 message: ${message.slice(0, 200)}`);
  return { pri: Number(m[1]), timestamp: m[2]!, hostname: m[3]!, app: m[4]!, procId: m[5]!, msgId: m[6]!, sd: m[7]!, msg: m[8]! };
}

function wellFormed(xml: string): void {
  // expat, strict by the XML spec (as in audit-dicom-export.test.ts).
  execFileSync('python3', ['-c', 'import sys, xml.dom.minidom; xml.dom.minidom.parseString(sys.stdin.buffer.read())'], { input: xml, stdio: ['pipe', 'ignore', 'pipe'] });
}

describe('RFC 5424 syslog message for an audit event (IHE ITI-20)', () => {
  it('carries PRI <85> (facility 10, notice) for a success and the header fields in order', () => {
    const f = fields(formatSyslogMessage(event, options));
    expect(f).toMatchObject({ pri: 85, timestamp: event.at, hostname: 'clinic-laptop-3', app: 'telerad', procId: '4711', msgId: 'IHE+RFC-3881' });
  });

  it('uses PRI <84> (facility 10, warning) for a failure', () => {
    expect(fields(formatSyslogMessage({ ...event, outcome: 'failure', reason: 'wrong PIN' }, options)).pri).toBe(84);
  });

  it('names the seq and hash in structured data so a repository can recognise a resend', () => {
    expect(fields(formatSyslogMessage(event, options)).sd).toBe(`[telerad@32473 seq="42" hash="${'ab'.repeat(32)}"]`);
  });

  it('escapes ", \\ and ] in SD parameter values', () => {
    expect(escapeSdParamValue('a"b\\c]d')).toBe('a\\"b\\\\c\\]d');
    const f = fields(formatSyslogMessage({ ...event, hash: 'x"]\\' }, options));
    expect(f.sd).toBe('[telerad@32473 seq="42" hash="x\\"\\]\\\\"]');
  });

  it('sends the DICOM audit message XML after a UTF-8 BOM, on one line, well-formed and equal to the export', () => {
    const reason = 'line one\nline two "quoted" & <angled>';
    const failed: AuditEvent = { ...event, outcome: 'failure', reason };
    const message = formatSyslogMessage(failed, options);
    expect(message).not.toMatch(/[\r\n]/);
    const bytes = Buffer.from(message, 'utf8');
    const bom = bytes.indexOf(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(bom).toBeGreaterThan(0);
    const xml = fields(message).msg;
    wellFormed(xml);
    expect(xml).toContain('<AuditMessage>');
    expect(xml).toContain('EventOutcomeIndicator="4"');
    // The newline is a character reference: the same text once parsed.
    expect(xml).toContain('line one&#10;line two');
    expect(xml).toBe(toDicomAuditMessage(failed, options.source, '').replace(/\n/g, '&#10;'));
  });

  it('keeps the export multi-line by default', () => {
    expect(toDicomAuditMessage(event, options.source)).toContain('\n<AuditMessage>');
  });

  it('sanitises the host name to printable ASCII and uses NILVALUE for what is missing', () => {
    const f = fields(formatSyslogMessage({ ...event, at: 'not a time' }, { ...options, hostname: 'my laptop', procId: undefined }));
    expect(f.hostname).toBe('my_laptop');
    expect(f.procId).toBe('-');
    expect(f.timestamp).toBe('-');
  });

  it('frames by octet counting with the length in bytes, not characters', () => {
    const framed = frameOctetCounted('<85>1 - - - - - - é');
    const text = framed.toString('utf8');
    const space = text.indexOf(' ');
    expect(Number(text.slice(0, space))).toBe(framed.length - space - 1);
    expect(Number(text.slice(0, space))).toBe(Buffer.byteLength('<85>1 - - - - - - é'));
    const whole = syslogFrame({ ...event, patient: { id: 'P-1', name: 'MÜLLER^JÖRG' } }, options);
    const len = Number(whole.subarray(0, whole.indexOf(0x20)).toString('ascii'));
    expect(whole.length).toBe(whole.indexOf(0x20) + 1 + len);
  });
});
