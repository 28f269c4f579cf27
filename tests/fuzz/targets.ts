// One file through every reader of the app that meets untrusted bytes: the
// case import (alone and inside a zip), the DICOMDIR reader, the SR readers,
// the quality facts and checks with the Node decoders, and dcmjs (which the
// send path runs on what the import accepted). Each target ends with
// "accepted", "rejected" (a reason a user could read) or "crashed" (an
// exception that escaped where the API promises none, or a TypeError /
// RangeError thrown from inside an API that documents its own errors).
import { zipSync } from 'fflate';
import { importFiles } from '../../src/renderer/case-import/import-files';
import { readDicom } from '../../src/renderer/case-import/read-instance';
import { readCaseNote } from '../../src/renderer/lib/dicom/case-note-reader';
import { parseSrDocument, readReferralNote } from '../../src/renderer/lib/dicom/referral-sr';
import { readReportSr } from '../../src/renderer/lib/dicom/report-sr-reader';
import { readDicomdir } from '../../src/shared/dicom/dicomdir';
import { runQualityChecks } from '../../src/shared/quality';
import { readFileFacts } from '../../src/cli/qc-facts';
import type { Decoders } from '../../src/cli/qc-codecs';
import type { DcmjsRuntime } from '../../src/renderer/lib/dicom/dcmjs-runtime';
import type { ImportEntry } from '../../src/renderer/case-import/import-types';

export type Verdict = 'accepted' | 'rejected' | 'crashed';

export interface TargetOutcome {
  target: string;
  verdict: Verdict;
  /** The reason of a rejection, or the error of a crash. */
  detail?: string;
  stack?: string;
}

export interface TargetDeps {
  decoders?: Decoders;
  dcmjs?: DcmjsRuntime;
}

function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  const inner = (e as { exception?: unknown } | undefined)?.exception;
  return inner !== undefined ? errorText(inner) : String(e);
}

function stackOf(e: unknown): string | undefined {
  return e instanceof Error ? e.stack : undefined;
}

function crash(target: string, e: unknown): TargetOutcome {
  const stack = stackOf(e);
  return { target, verdict: 'crashed', detail: errorText(e), ...(stack ? { stack } : {}) };
}

/** A programming error (not a parser's own complaint) thrown from inside a reader. */
function isInternalError(e: unknown): boolean {
  return e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError;
}

function entry(path: string, bytes: Uint8Array): ImportEntry {
  return { path, size: bytes.length, read: async () => bytes.slice().buffer };
}

async function viaImport(target: string, entries: ImportEntry[]): Promise<TargetOutcome> {
  try {
    const result = await importFiles(entries);
    if (result.instanceCount > 0 || result.dicomdirs.length > 0) return { target, verdict: 'accepted' };
    const reason = result.skipped.map((s) => `${s.kind}: ${s.reason}`).join('; ');
    if (!reason) return { target, verdict: 'crashed', detail: 'import neither imported nor skipped the file (no reason given)' };
    return { target, verdict: 'rejected', detail: reason };
  } catch (e) {
    return crash(target, e);
  }
}

/** Runs one documented-throwing reader: a clear Error is a rejection, a TypeError/RangeError from inside a crash. */
function documentedThrow(target: string, parsedOk: boolean, run: () => string | undefined): TargetOutcome {
  try {
    const rejected = run();
    return rejected ? { target, verdict: 'rejected', detail: rejected } : { target, verdict: 'accepted' };
  } catch (e) {
    if (parsedOk && isInternalError(e)) return crash(target, e);
    if (!(e instanceof Error) && parsedOk) return crash(target, e);
    return { target, verdict: 'rejected', detail: errorText(e) };
  }
}

/** Every target on one file, in order; never throws. */
export async function runTargets(bytes: Uint8Array, name: string, deps: TargetDeps = {}): Promise<TargetOutcome[]> {
  const out: TargetOutcome[] = [];
  const path = name === 'DICOMDIR' ? 'CD/DICOMDIR' : `case/${name}`;
  out.push(await viaImport('import', [entry(path, bytes)]));
  out.push(await viaImport('import-zip', [entry('case.zip', zipSync({ [path]: bytes }, { level: 1 }))]));

  let parsedOk = false;
  try {
    const read = readDicom(bytes);
    parsedOk = read.ok;
    if (read.ok) {
      if (read.dataSet.elements.x00041220) readDicomdir(read.dataSet, path);
      out.push({ target: 'parse', verdict: 'accepted' });
    } else out.push({ target: 'parse', verdict: 'rejected', detail: read.reason });
  } catch (e) {
    out.push(crash('parse', e));
  }

  out.push(documentedThrow('report-sr', parsedOk, () => (readReportSr(bytes.slice().buffer), undefined)));
  out.push(documentedThrow('referral-sr', parsedOk, () => (readReferralNote(parseSrDocument(bytes)) ? undefined : 'not a referral note')));
  try {
    out.push(readCaseNote(bytes) ? { target: 'case-note', verdict: 'accepted' } : { target: 'case-note', verdict: 'rejected', detail: 'not a case note' });
  } catch (e) {
    out.push(crash('case-note', e));
  }

  try {
    const reading = readFileFacts(bytes, name, deps.decoders);
    if (reading.kind === 'image') {
      runQualityChecks([reading.facts]);
      out.push({ target: 'quality', verdict: 'accepted', ...(reading.facts.pixelStatsSkipped ? { detail: reading.facts.pixelStatsSkipped } : {}) });
    } else if (reading.kind === 'unreadable') {
      runQualityChecks([reading.facts]);
      out.push({ target: 'quality', verdict: 'rejected', detail: reading.facts.unreadable?.reason ?? 'unreadable' });
    } else out.push({ target: 'quality', verdict: 'accepted', detail: 'DICOMDIR' });
  } catch (e) {
    out.push(crash('quality', e));
  }

  // dcmjs reads what the import accepted, when a case is prepared for sending.
  if (deps.dcmjs && parsedOk) {
    const dcmjs = deps.dcmjs;
    out.push(
      documentedThrow('dcmjs', false, () => {
        dcmjs.data.DicomMessage.readFile(bytes.slice().buffer, { ignoreErrors: false, untilTag: '7FE00010', includeUntilTagValue: false });
        return undefined;
      }),
    );
  }
  return out;
}
