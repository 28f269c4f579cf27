import { execFileSync } from 'node:child_process';
import { DOMParser } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/shared/ipc/contract';
import { toDicomAuditMessage } from '../../../src/main/services/audit/dicom-audit-message';

// Well-formedness by expat (Python's standard XML parser, strict by the XML spec);
// the queries below by xmldom (which comes with electron-builder's plist and is lenient).
function parseStrict(xml: string): Document {
  try {
    execFileSync('python3', ['-c', 'import sys, xml.dom.minidom; xml.dom.minidom.parseString(sys.stdin.buffer.read())'], {
      input: xml,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
  } catch (err) {
    throw new Error(`not well-formed XML: ${String((err as { stderr?: Buffer }).stderr ?? err).trim().split('\n').pop()}`);
  }
  return new DOMParser().parseFromString(xml, 'text/xml') as unknown as Document;
}

const base: AuditEvent = {
  seq: 1,
  at: '2026-03-01T08:01:00.000Z',
  actor: 'Dr Ama <Mensah> & "Co"',
  source: 'renderer',
  action: 'study.view',
  patient: { id: 'P-100', name: 'MENSAH^KOFI' },
  studyInstanceUID: '1.2.826.0.1.3680043.8.498.1',
  siteId: 'hospital-a',
  outcome: 'success',
  prev: '0'.repeat(64),
  hash: 'f'.repeat(64),
};
const source = { sourceId: 'telerad-workstation/web' };

function codeOf(doc: Document, element: string): string[] {
  return Array.from(doc.getElementsByTagName(element)).map((e) => e.getAttribute('csd-code') ?? '');
}

describe('DICOM audit message export (PS3.15 A.5)', () => {
  it('the strict parser used below does reject broken XML', () => {
    expect(() => parseStrict('<AuditMessage><EventIdentification></AuditMessage>')).toThrow(/well-formed/);
    expect(() => parseStrict('<AuditMessage UserID="a<b"/>')).toThrow(/well-formed/);
    expect(() => parseStrict('<AuditMessage>Smith & Sons</AuditMessage>')).toThrow(/well-formed/);
  });

  it('writes a viewed study as DICOM Instances Accessed with the patient and the study as participant objects', () => {
    const doc = parseStrict(toDicomAuditMessage(base, source));
    expect(doc.documentElement.tagName).toBe('AuditMessage');
    const ev = doc.getElementsByTagName('EventIdentification')[0]!;
    expect(ev.getAttribute('EventActionCode')).toBe('R');
    expect(ev.getAttribute('EventOutcomeIndicator')).toBe('0');
    expect(ev.getAttribute('EventDateTime')).toBe(base.at);
    expect(codeOf(doc, 'EventID')).toEqual(['110103']);
    expect(doc.getElementsByTagName('EventID')[0]!.getAttribute('codeSystemName')).toBe('DCM');

    const people = Array.from(doc.getElementsByTagName('ActiveParticipant'));
    expect(people.find((p) => p.getAttribute('UserIsRequestor') === 'true')?.getAttribute('UserID')).toBe(base.actor);
    expect(codeOf(doc, 'RoleIDCode')).toEqual(['110150', '110153']);
    expect(doc.getElementsByTagName('AuditSourceIdentification')[0]!.getAttribute('AuditSourceID')).toBe('telerad-workstation/web');

    const objects = Array.from(doc.getElementsByTagName('ParticipantObjectIdentification'));
    expect(objects.map((o) => [o.getAttribute('ParticipantObjectID'), o.getAttribute('ParticipantObjectTypeCode'), o.getAttribute('ParticipantObjectTypeCodeRole')])).toEqual([
      ['P-100', '1', '1'],
      ['1.2.826.0.1.3680043.8.498.1', '2', '3'],
    ]);
    expect(codeOf(doc, 'ParticipantObjectIDTypeCode')).toEqual(['2', '110180']);
    expect(doc.getElementsByTagName('ParticipantObjectName')[0]!.textContent).toBe('MENSAH^KOFI');
  });

  it.each([
    ['study.retrieve', '110104', 'C'],
    ['outbox.send', '110104', 'R'],
    ['export', '110106', 'R'],
    ['report.sign', '110110', 'U'],
    ['login.failed', '110114', 'E'],
    ['site.auth.failed', '110114', 'E'],
  ] as const)('codes %s as EventID %s, action %s', (action, code, actionCode) => {
    const failed = action.endsWith('.failed');
    const doc = parseStrict(
      toDicomAuditMessage({ ...base, action, ...(failed ? { outcome: 'failure', reason: 'HTTP 401 <from site>', source: 'main', actor: 'system' } : {}) }, source),
    );
    expect(codeOf(doc, 'EventID')).toEqual([code]);
    expect(doc.getElementsByTagName('EventIdentification')[0]!.getAttribute('EventActionCode')).toBe(actionCode);
    if (failed) {
      expect(doc.getElementsByTagName('EventIdentification')[0]!.getAttribute('EventOutcomeIndicator')).toBe('4');
      expect(codeOf(doc, 'EventTypeCode')).toEqual(['110122']);
      expect(doc.getElementsByTagName('EventOutcomeDescription')[0]!.textContent).toBe('HTTP 401 <from site>');
    }
  });
});
