// Identity: one patient per study, the patient the referral note names, and
// UIDs that identify exactly one thing.
import { byStudy, evidenceOf, finding } from '../series';
import type { Finding, ImageFacts, QualityCheck, ReferralIdentity } from '../types';

type IdentityField = 'patientId' | 'patientName' | 'patientBirthDate' | 'patientSex';

const FIELDS: { key: IdentityField; label: string }[] = [
  { key: 'patientId', label: 'patient ID' },
  { key: 'patientName', label: 'patient name' },
  { key: 'patientBirthDate', label: 'birth date' },
  { key: 'patientSex', label: 'sex' },
];

/** Compared without case, padding, trailing name-component carets or spaces around carets. */
export function normalizeIdentity(key: IdentityField, value: string | undefined): string {
  const v = (value ?? '').trim().toUpperCase();
  if (key === 'patientName') return v.replace(/\s*\^\s*/g, '^').replace(/\^+$/, '');
  if (key === 'patientBirthDate') return v.replace(/[-/.]/g, '');
  return v;
}

export const studyIdentity: QualityCheck = {
  id: 'identity.study-consistency',
  group: 'identity',
  title: 'Patient identity differs within a study',
  severity: 'blocker',
  run(images) {
    const out: Finding[] = [];
    for (const [, list] of byStudy(images)) {
      for (const { key, label } of FIELDS) {
        const groups = new Map<string, ImageFacts[]>();
        for (const im of list) {
          const k = normalizeIdentity(key, im[key]);
          if (!k) continue; // an empty value is not a second patient
          const g = groups.get(k);
          if (g) g.push(im);
          else groups.set(k, [im]);
        }
        if (groups.size < 2) continue;
        const shown = [...groups.values()].map((g) => `"${g[0]![key]}" (${g.length} image${g.length > 1 ? 's' : ''})`);
        const minority = [...groups.values()].sort((a, b) => a.length - b.length).slice(0, -1).flat();
        out.push(
          finding(
            this,
            'blocker',
            `Different ${label}s in one study: ${shown.join(' vs ')} — possibly two patients mixed up; check before reading or sending`,
            list[0] ? { ...list[0], seriesInstanceUID: undefined } : undefined,
            minority.map((im) => evidenceOf(im, im[key])),
            { field: key, values: shown.join('; ') },
          ),
        );
      }
    }
    return out;
  },
};

export const referralIdentity: QualityCheck = {
  id: 'identity.referral',
  group: 'identity',
  title: 'Patient identity differs from the referral note',
  severity: 'blocker',
  run(images, context) {
    const note: ReferralIdentity | undefined = context.referral;
    if (!note) return [];
    const out: Finding[] = [];
    for (const { key, label } of FIELDS) {
      const want = normalizeIdentity(key, note[key]);
      if (!want) continue;
      const wrong = images.filter((im) => !im.unreadable && normalizeIdentity(key, im[key]) && normalizeIdentity(key, im[key]) !== want);
      if (!wrong.length) continue;
      const found = [...new Set(wrong.map((im) => im[key]))].map((v) => `"${v}"`).join(', ');
      out.push(
        finding(
          this,
          'blocker',
          `The referral note gives ${label} "${note[key]}", ${wrong.length} image${wrong.length > 1 ? 's' : ''} say ${found}: are these the right patient's images?`,
          undefined,
          wrong.map((im) => evidenceOf(im, im[key])),
          { field: key, referral: note[key] ?? null },
        ),
      );
    }
    return out;
  },
};

export const missingUids: QualityCheck = {
  id: 'identity.missing-uids',
  group: 'identity',
  title: 'Missing Study, Series or SOP Instance UID',
  severity: 'blocker',
  run(images) {
    const bad: { im: ImageFacts; missing: string }[] = [];
    for (const im of images) {
      if (im.unreadable) continue;
      const missing = [
        !im.studyInstanceUID && 'Study Instance UID',
        !im.seriesInstanceUID && 'Series Instance UID',
        !im.sopInstanceUID && 'SOP Instance UID',
      ].filter((x): x is string => Boolean(x));
      if (missing.length) bad.push({ im, missing: missing.join(', ') });
    }
    if (!bad.length) return [];
    return [
      finding(
        this,
        'blocker',
        `${bad.length} image${bad.length > 1 ? 's have' : ' has'} no ${bad[0]!.missing} (${bad[0]!.im.source}): they cannot be filed or referenced reliably`,
        undefined,
        bad.map(({ im, missing }) => evidenceOf(im, missing)),
      ),
    ];
  },
};

export const duplicateSop: QualityCheck = {
  id: 'identity.duplicate-sop',
  group: 'identity',
  title: 'One SOP Instance UID with two different contents',
  severity: 'blocker',
  run(images) {
    const byUid = new Map<string, ImageFacts[]>();
    for (const im of images) {
      if (im.unreadable || !im.sopInstanceUID || !im.contentHash) continue;
      const list = byUid.get(im.sopInstanceUID);
      if (list) list.push(im);
      else byUid.set(im.sopInstanceUID, [im]);
    }
    const out: Finding[] = [];
    for (const [uid, list] of byUid) {
      // Only hashes of the same kind are comparable (see ImageFacts.contentHash).
      const byKind = new Map<string, Set<string>>();
      for (const im of list) {
        const kind = im.contentHash!.slice(0, im.contentHash!.lastIndexOf(':') + 1);
        const set = byKind.get(kind) ?? new Set<string>();
        set.add(im.contentHash!);
        byKind.set(kind, set);
      }
      const hashes = [...byKind.values()].find((s) => s.size > 1);
      if (!hashes) continue;
      out.push(
        finding(
          this,
          'blocker',
          `SOP Instance UID ${uid} is carried by ${list.length} files with ${hashes.size} different contents (${list.map((im) => im.source).join(', ')}): one would silently replace the other`,
          list[0],
          list.map((im) => evidenceOf(im, im.contentHash)),
          { sopInstanceUID: uid },
        ),
      );
    }
    return out;
  },
};

export const identityChecks: QualityCheck[] = [studyIdentity, referralIdentity, missingUids, duplicateSop];
