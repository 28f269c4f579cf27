import type { AuditAction, AuditEvent } from '../../../shared/ipc/contract';

/**
 * DICOM audit messages (PS3.15 Annex A.5, the RFC 3881-derived XML an IHE
 * ATNA repository accepts): one <AuditMessage> per audit event. Coded values
 * are written as the A.5.1 schema's CodedValueType: csd-code, codeSystemName,
 * originalText.
 */

type Coded = readonly [code: string, system: string, text: string];

const DCM = 'DCM';
const RFC_3881 = 'RFC-3881';

const EV_INSTANCES_ACCESSED: Coded = ['110103', DCM, 'DICOM Instances Accessed'];
const EV_INSTANCES_TRANSFERRED: Coded = ['110104', DCM, 'DICOM Instances Transferred'];
const EV_EXPORT: Coded = ['110106', DCM, 'Export'];
const EV_PATIENT_RECORD: Coded = ['110110', DCM, 'Patient Record'];
const EV_USER_AUTHENTICATION: Coded = ['110114', DCM, 'User Authentication'];
const EV_SECURITY_ALERT: Coded = ['110113', DCM, 'Security Alert'];
const ET_LOGIN: Coded = ['110122', DCM, 'Login'];
const ET_LOGOUT: Coded = ['110123', DCM, 'Logout'];

const ROLE_APPLICATION: Coded = ['110150', DCM, 'Application'];
const ROLE_DESTINATION: Coded = ['110152', DCM, 'Destination Role ID'];
const ROLE_SOURCE: Coded = ['110153', DCM, 'Source Role ID'];

const ID_PATIENT_NUMBER: Coded = ['2', RFC_3881, 'Patient Number'];
const ID_STUDY_UID: Coded = ['110180', DCM, 'Study Instance UID'];

interface EventShape {
  id: Coded;
  /** C create, R read, U update, D delete, E execute. */
  actionCode: 'C' | 'R' | 'U' | 'D' | 'E';
  type?: Coded;
  /** How the site named in the event takes part, if one does. */
  siteRole?: Coded;
}

/** Which A.5.3 message each action is. */
export const DICOM_AUDIT_EVENTS: Record<AuditAction, EventShape> = {
  'study.view': { id: EV_INSTANCES_ACCESSED, actionCode: 'R', siteRole: ROLE_SOURCE },
  // The workstation receives copies: it is the importer, so Create.
  'study.retrieve': { id: EV_INSTANCES_TRANSFERRED, actionCode: 'C', siteRole: ROLE_SOURCE },
  export: { id: EV_EXPORT, actionCode: 'R' },
  // De-identification makes new instances from the originals.
  deidentify: { id: EV_INSTANCES_ACCESSED, actionCode: 'C' },
  'report.sign': { id: EV_PATIENT_RECORD, actionCode: 'U' },
  'outbox.send': { id: EV_INSTANCES_TRANSFERRED, actionCode: 'R', siteRole: ROLE_DESTINATION },
  'login.failed': { id: EV_USER_AUTHENTICATION, actionCode: 'E', type: ET_LOGIN },
  // Unlocking the workstation is the user's login to it; locking it (by hand, idle, OS lock) the logout.
  login: { id: EV_USER_AUTHENTICATION, actionCode: 'E', type: ET_LOGIN },
  lock: { id: EV_USER_AUTHENTICATION, actionCode: 'E', type: ET_LOGOUT },
  'site.auth.failed': { id: EV_USER_AUTHENTICATION, actionCode: 'E', type: ET_LOGIN, siteRole: ROLE_DESTINATION },
  // Records found missing from the local trail, or its head record changed outside the app.
  'audit.integrity': { id: EV_SECURITY_ALERT, actionCode: 'E' },
  // A sealed row of the renderer's cache failed to open (changed outside the app, an old copy, no envelope): refused, kept.
  'integrity.failed': { id: EV_SECURITY_ALERT, actionCode: 'E' },
};

export interface DicomAuditSource {
  /** AuditSourceID: this workstation, e.g. "telerad@clinic-laptop-3". */
  sourceId: string;
  enterpriseSiteId?: string;
}

function escapeXml(text: string): string {
  // Characters XML 1.0 cannot carry at all are dropped; the rest escaped.
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '');
  return clean.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function attrs(values: Record<string, string | undefined>): string {
  return Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(v ?? '')}"`)
    .join('');
}

function coded(element: string, [code, system, text]: Coded): string {
  return `<${element}${attrs({ 'csd-code': code, codeSystemName: system, originalText: text })}/>`;
}

/**
 * One event as one <AuditMessage> document. Elements are joined by
 * `separator` (a newline by default, for people reading an export); syslog
 * passes '' so the message is one line, which repositories that split on
 * newlines (and rsyslog's file output) keep as one record.
 */
export function toDicomAuditMessage(event: AuditEvent, source: DicomAuditSource, separator = '\n'): string {
  const shape = DICOM_AUDIT_EVENTS[event.action];
  const parts: string[] = ['<?xml version="1.0" encoding="UTF-8"?>', '<AuditMessage>'];

  parts.push(
    `<EventIdentification${attrs({
      EventActionCode: shape.actionCode,
      EventDateTime: event.at,
      // 0 success; 4 minor failure (the action did not happen, nothing was damaged).
      EventOutcomeIndicator: event.outcome === 'success' ? '0' : '4',
    })}>`,
    coded('EventID', shape.id),
    ...(shape.type ? [coded('EventTypeCode', shape.type)] : []),
    ...(event.reason ? [`<EventOutcomeDescription>${escapeXml(event.reason)}</EventOutcomeDescription>`] : []),
    '</EventIdentification>',
  );

  // The person (or "system" for what main saw itself) who asked for it.
  parts.push(`<ActiveParticipant${attrs({ UserID: event.actor, UserIsRequestor: event.source === 'renderer' ? 'true' : 'false' })}/>`);
  // The workstation application itself.
  parts.push(`<ActiveParticipant${attrs({ UserID: source.sourceId, UserIsRequestor: 'false' })}>`, coded('RoleIDCode', ROLE_APPLICATION), '</ActiveParticipant>');
  if (event.siteId && shape.siteRole) {
    parts.push(`<ActiveParticipant${attrs({ UserID: event.siteId, UserIsRequestor: 'false' })}>`, coded('RoleIDCode', shape.siteRole), '</ActiveParticipant>');
  }

  parts.push(
    `<AuditSourceIdentification${attrs({ AuditEnterpriseSiteID: source.enterpriseSiteId, AuditSourceID: source.sourceId })}>`,
    // 1: end-user display device (a workstation).
    `<AuditSourceTypeCode${attrs({ 'csd-code': '1', codeSystemName: DCM, originalText: 'End-user display device' })}/>`,
    '</AuditSourceIdentification>',
  );

  if (event.patient?.id) {
    parts.push(
      // Type 1 person, role 1 patient.
      `<ParticipantObjectIdentification${attrs({ ParticipantObjectID: event.patient.id, ParticipantObjectTypeCode: '1', ParticipantObjectTypeCodeRole: '1' })}>`,
      coded('ParticipantObjectIDTypeCode', ID_PATIENT_NUMBER),
      ...(event.patient.name ? [`<ParticipantObjectName>${escapeXml(event.patient.name)}</ParticipantObjectName>`] : []),
      '</ParticipantObjectIdentification>',
    );
  }
  if (event.studyInstanceUID) {
    parts.push(
      // Type 2 system object, role 3 report (the study as a whole).
      `<ParticipantObjectIdentification${attrs({ ParticipantObjectID: event.studyInstanceUID, ParticipantObjectTypeCode: '2', ParticipantObjectTypeCodeRole: '3' })}>`,
      coded('ParticipantObjectIDTypeCode', ID_STUDY_UID),
      '</ParticipantObjectIdentification>',
    );
  }
  parts.push('</AuditMessage>');
  return parts.join(separator);
}
