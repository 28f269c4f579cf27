import { formatPersonName } from '../../../shared/dicom/dicomweb-json';
import type { ReferralPriority } from '../clinical-types';

/**
 * The values the SR readers interpret alike: DICOM dates and times, the
 * author's person name as we write it, and an urgency written in words.
 */

/** `YYYYMMDDHHMMSS[.F][+HHMM]` → epoch ms; a DT without an offset is read in `defaultOffset`. */
export function parseDicomDateTime(dt: string, defaultOffset?: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?$/.exec(dt.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = defaultOffset ?? '+0000'] = m;
  const ms = Date.UTC(+y!, +mo! - 1, +d!, +h, +mi, +s, Math.round(Number(`0.${frac || '0'}`) * 1000));
  const z = /^([+-])(\d{2})(\d{2})$/.exec(zone);
  const offsetMin = z ? (z[1] === '-' ? -1 : 1) * (+z[2]! * 60 + +z[3]!) : 0;
  return ms - offsetMin * 60_000;
}

/** DA + TM (+ Timezone Offset From UTC) → ISO 8601 local time, with the offset when there is one; undefined without a valid date. */
export function isoDateTime(date: string | undefined, time: string | undefined, offset: string | undefined): string | undefined {
  if (!date || !/^\d{8}$/.test(date)) return undefined;
  const t = (time ?? '').split('.')[0]!.padEnd(6, '0');
  const base = `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}`;
  const z = offset && /^([+-])(\d{2})(\d{2})$/.exec(offset);
  return z ? `${base}${z[1]}${z[2]}:${z[3]}` : base;
}

/** The author from a PN: ours is `name^^^^credentials`; anyone else's is formatted as a name. */
export function authorFromPersonName(pn: string): { name: string; credentials?: string } {
  const [family = '', given = '', middle = '', , suffix = ''] = pn.split('=')[0]!.split('^');
  const name = given || middle ? formatPersonName(pn) : family.trim();
  return suffix.trim() ? { name, credentials: suffix.trim() } : { name };
}

/** An urgency written as words by another tool ("stat", "Urgent", "emergency"). */
export function priorityInWords(text: string): ReferralPriority | undefined {
  const words = text.toLowerCase();
  if (/\bstat\b|emergen/.test(words)) return 'STAT';
  if (/\burgent\b/.test(words)) return 'urgent';
  if (/\broutine\b/.test(words)) return 'routine';
  return undefined;
}
