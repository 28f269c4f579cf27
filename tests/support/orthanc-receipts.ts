// Counts, at the site itself, how many times Orthanc received each instance:
// a Lua ReceivedInstanceFilter logs every instance handed to it (STOW-RS,
// REST, DIMSE), stored or not. Orthanc keeps one copy per SOP Instance UID
// whatever happens (it overwrites), so its instance list alone cannot show a
// duplicate delivery; this count can.
//
//   const receipts = orthancReceipts();
//   const orthanc = await startOrthanc({ config: receipts.config });
//   … receipts.count(orthanc, sopInstanceUID) …
//   receipts.dispose();
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OrthancHandle } from './orthanc';

const MARK = 'TELERAD-RECEIVED';

export interface OrthancReceipts {
  /** Merge into startOrthanc's `config`. */
  config: { LuaScripts: string[] };
  /** Times Orthanc received this SOP Instance UID so far (from its log). */
  count(handle: Pick<OrthancHandle, 'log'>, sopInstanceUID: string): number;
  /** Every SOP Instance UID received, with its count. */
  all(handle: Pick<OrthancHandle, 'log'>): Map<string, number>;
  dispose(): void;
}

export function orthancReceipts(): OrthancReceipts {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'telerad-receipts-'));
  const script = path.join(dir, 'receipts.lua');
  writeFileSync(script, `function ReceivedInstanceFilter(dicom, origin, info)\n  print('${MARK} ' .. dicom.SOPInstanceUID)\n  return true\nend\n`);
  const all = (handle: Pick<OrthancHandle, 'log'>): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const m of handle.log().matchAll(new RegExp(`${MARK} ([0-9.]+)`, 'g'))) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
    return counts;
  };
  return {
    config: { LuaScripts: [script] },
    count: (handle, uid) => all(handle).get(uid) ?? 0,
    all,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
