// The quality checks over the local cache: header facts from the cached Part 10
// bytes, pixel statistics where the pixels can be read (raw ones here,
// compressed ones through the viewer's decoder when one is handed in), and the
// shared engine's checks over the lot. Results are kept per study (or per set
// of instances) until the instances change.
import { computePixelStats, factsFromDataSet, nativeFirstFrame, pixelReadProblem, runQualityChecks, summarizeFindings, syntaxInfo } from '../../shared/quality';
import type { CaseContext, DataSetLike, Finding, ImageFacts, QualityLevel, QualitySummary, ReferralIdentity, StoredPixels } from '../../shared/quality';
import type { Logger } from '../../shared/log';
import { dicomParser } from '../lib/dicom/dicom-parser';
import { errorMessage } from '../../shared/error-message';

export interface QualityResult {
  findings: Finding[];
  worst: QualityLevel;
  counts: QualitySummary['counts'];
  checkedAt: number;
}

export interface QualityContext {
  deidentify?: boolean;
  referral?: { patientName?: string; patientId?: string; birthDate?: string; sex?: string };
}

export interface QualityService {
  /** Every check over the cached instances of a study (header facts from the cached bytes; pixel statistics where decodable). */
  checkStudy(studyInstanceUID: string, context?: QualityContext): Promise<QualityResult>;
  /** The same over given cached instances (a referral case's). */
  checkInstances(sopInstanceUIDs: string[], context?: QualityContext): Promise<QualityResult>;
  /** The last result of a study, if one was computed (no work). */
  peekStudy(studyInstanceUID: string): QualityResult | undefined;
}

export interface QualityServiceDeps {
  readInstanceBytes(sop: string): Promise<ArrayBuffer | undefined>;
  listStudyInstances(studyUID: string): Promise<{ sopInstanceUID: string }[]>;
  /** Stored values of the first frame of a compressed file (the viewer's decoder); absent: compressed pixels are skipped. */
  decodePixels?: (bytes: ArrayBuffer) => Promise<StoredPixels | undefined>;
  log: Logger;
  now?: () => number;
}

function errorText(e: unknown): string {
  const inner = (e as { exception?: unknown } | undefined)?.exception ?? e;
  return errorMessage(inner);
}

function isPart10(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

type ParsedDataSet = ReturnType<typeof dicomParser.parseDicom>;

/** The first frame's stored values, or why there are none to look at. */
async function firstFrame(ds: ParsedDataSet, bytes: ArrayBuffer, facts: ImageFacts, deps: QualityServiceDeps): Promise<StoredPixels | string> {
  const el = ds.elements.x7fe00010;
  const problem = pixelReadProblem(facts, el !== undefined);
  if (problem || !el) return problem ?? 'no pixel data';
  const n = facts.rows! * facts.columns!;
  const info = syntaxInfo(facts.transferSyntaxUID);
  if (!info?.encapsulated) return nativeFirstFrame(ds.byteArray, el, facts);
  if (!deps.decodePixels) return `compressed (${info.name}), not decoded here`;
  try {
    const px = await deps.decodePixels(bytes);
    if (!px) return `compressed (${info.name}) and could not be decoded`;
    if (px.length < n) return `compressed (${info.name}): ${px.length} decoded values where Rows × Columns needs ${n}`;
    return px;
  } catch (e) {
    return `compressed (${info.name}) and could not be decoded: ${errorText(e)}`;
  }
}

/** One cached instance → facts. Never throws: an unreadable instance comes back as such, with the reason. */
async function instanceFacts(sop: string, deps: QualityServiceDeps): Promise<ImageFacts> {
  const source = sop;
  let bytes: ArrayBuffer | undefined;
  try {
    bytes = await deps.readInstanceBytes(sop);
  } catch (e) {
    return { source, sopInstanceUID: sop, unreadable: { kind: 'malformed', reason: `the cached copy could not be read: ${errorText(e)}` } };
  }
  // 'missing' and 'not-dicom' speak of media (a DICOMDIR, a README on a CD); in the cache both mean a bad instance.
  if (!bytes) return { source, sopInstanceUID: sop, unreadable: { kind: 'malformed', reason: 'no longer in the local cache' } };
  const u8 = new Uint8Array(bytes);
  if (!isPart10(u8)) return { source, sopInstanceUID: sop, unreadable: { kind: 'malformed', reason: 'the cached copy is not a DICOM Part 10 file' } };
  let ds: ParsedDataSet;
  try {
    ds = dicomParser.parseDicom(u8);
  } catch (e) {
    const reason = errorText(e);
    const kind = /overrun|past end|beyond|end of buffer|outside|buffer overread/i.test(reason) ? 'truncated' : 'malformed';
    return { source, sopInstanceUID: sop, unreadable: { kind, reason } };
  }
  const facts = factsFromDataSet(ds as unknown as DataSetLike, source);
  if (facts.pixelData) {
    const px = await firstFrame(ds, bytes, facts, deps);
    if (typeof px === 'string') facts.pixelStatsSkipped = px;
    else {
      try {
        facts.pixelStats = computePixelStats(px, facts.rows!, facts.columns!, { bitsStored: facts.bitsStored ?? facts.bitsAllocated ?? 16 });
      } catch (e) {
        facts.pixelStatsSkipped = `pixel statistics failed: ${errorText(e)}`;
      }
    }
  }
  return facts;
}

function caseContext(context: QualityContext | undefined): CaseContext {
  const out: CaseContext = {};
  if (context?.deidentify) out.markedForDeidentification = true;
  const r = context?.referral;
  if (r) {
    const referral: ReferralIdentity = {};
    if (r.patientId) referral.patientId = r.patientId;
    if (r.patientName) referral.patientName = r.patientName;
    if (r.birthDate) referral.patientBirthDate = r.birthDate;
    if (r.sex) referral.patientSex = r.sex;
    out.referral = referral;
  }
  return out;
}

/** What a cached result depends on: the instances and the context. */
function resultKey(sops: readonly string[], context: QualityContext | undefined): string {
  return `${[...sops].sort().join('|')}#${JSON.stringify(context ?? {})}`;
}

export function createQualityService(deps: QualityServiceDeps): QualityService {
  const now = deps.now ?? Date.now;
  /** Per study (or per instance set): the key it was computed for, and the answer (shared while in flight). */
  const results = new Map<string, { key: string; result: Promise<QualityResult>; settled?: QualityResult }>();

  const run = async (sops: readonly string[], context: QualityContext | undefined): Promise<QualityResult> => {
    const started = now();
    const images: ImageFacts[] = [];
    // One at a time: a 300-slice study must not hold 300 files' bytes at once.
    for (const sop of sops) images.push(await instanceFacts(sop, deps));
    const findings = runQualityChecks(images, caseContext(context));
    const summary = summarizeFindings(findings);
    deps.log.info(`Quality checks over ${sops.length} instances: ${summary.worst} (${findings.length} findings) in ${now() - started} ms`);
    return { findings, worst: summary.worst, counts: summary.counts, checkedAt: now() };
  };

  const remembered = (slot: string, sops: readonly string[], context: QualityContext | undefined): Promise<QualityResult> => {
    const key = resultKey(sops, context);
    const hit = results.get(slot);
    if (hit && hit.key === key) return hit.result;
    const entry: { key: string; result: Promise<QualityResult>; settled?: QualityResult } = { key, result: run(sops, context) };
    results.set(slot, entry);
    entry.result.then(
      (r) => {
        entry.settled = r;
      },
      // A failed run is not remembered: the next ask tries again.
      () => {
        if (results.get(slot) === entry) results.delete(slot);
      },
    );
    return entry.result;
  };

  return {
    async checkStudy(studyInstanceUID, context) {
      const sops = (await deps.listStudyInstances(studyInstanceUID)).map((i) => i.sopInstanceUID);
      return remembered(`study:${studyInstanceUID}`, sops, context);
    },
    checkInstances(sopInstanceUIDs, context) {
      return remembered(`set:${[...sopInstanceUIDs].sort().join('|')}`, sopInstanceUIDs, context);
    },
    peekStudy(studyInstanceUID) {
      return results.get(`study:${studyInstanceUID}`)?.settled;
    },
  };
}

/** The first instance a finding names, with its series: where "go to image" goes. */
export function firstInstanceOf(finding: Finding): { seriesInstanceUID: string; sopInstanceUID: string; instanceNumber?: number } | undefined {
  const series = finding.seriesInstanceUID;
  const item = finding.evidence.instances.find((e) => e.sopInstanceUID);
  if (!series || !item?.sopInstanceUID) return undefined;
  return { seriesInstanceUID: series, sopInstanceUID: item.sopInstanceUID, ...(item.instanceNumber !== undefined ? { instanceNumber: item.instanceNumber } : {}) };
}
