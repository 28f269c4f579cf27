// @vitest-environment node
import { afterAll, describe, expect, it } from 'vitest';
import type { ReportBuildInput } from '../../../src/renderer/lib/dicom/report-dicom-types';

// The renderer's CSP has no 'unsafe-eval': building a report must not compile
// code at run time. dcmjs and pdf-lib are loaded lazily by the builder, so
// both are first evaluated here, with `Function` and `eval` watched — as in
// the page, where either would throw.
const compiled: string[] = [];
const realFunction = globalThis.Function;
const realEval = globalThis.eval;
globalThis.Function = new Proxy(realFunction, {
  construct(target, args: unknown[]) {
    compiled.push(`new Function(${String(args.at(-1)).slice(0, 60)})`);
    return Reflect.construct(target, args) as object;
  },
  apply(target, self, args: unknown[]) {
    compiled.push(`Function(${String(args.at(-1)).slice(0, 60)})`);
    return Reflect.apply(target, self, args) as unknown;
  },
});
globalThis.eval = new Proxy(realEval, {
  apply(target, self, args: unknown[]) {
    compiled.push(`eval(${String(args[0]).slice(0, 60)})`);
    return Reflect.apply(target, self, args) as unknown;
  },
});
afterAll(() => {
  globalThis.Function = realFunction;
  globalThis.eval = realEval;
});

const STUDY = '1.2.826.0.1.3680043.8.498.7';
const CT = { sopInstanceUID: `${STUDY}.1.1`, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', seriesInstanceUID: `${STUDY}.1` };

describe('building a report under a CSP without unsafe-eval', () => {
  it('loads dcmjs and pdf-lib and builds both instances without Function() or eval()', async () => {
    const { buildReportInstances } = await import('../../../src/renderer/lib/dicom/report-dicom');
    const input: ReportBuildInput = {
      kind: 'report',
      title: 'CT report',
      sections: [{ id: 'findings', label: 'Findings' }],
      text: { findings: 'Normal.' },
      priority: 'routine',
      measurements: [
        {
          annotation: { id: 'a', studyInstanceUID: STUDY, ...CT, tool: 'Length', data: { handles: { start: { x: 1, y: 2 }, end: { x: 30, y: 40 } } }, author: 'me', createdAt: 0, updatedAt: 0 },
          image: CT,
        },
      ],
      keyImages: [],
      author: { name: 'A Reader', credentials: 'MD' },
      signedAt: Date.UTC(2026, 0, 2, 3, 4, 5),
      study: { studyInstanceUID: STUDY, patientName: 'X^Y', patientId: '1' },
      srSopInstanceUID: `${STUDY}.9.1`,
      srSeriesInstanceUID: `${STUDY}.9`,
      pdfSopInstanceUID: `${STUDY}.8.1`,
      pdfSeriesInstanceUID: `${STUDY}.8`,
    };
    const built = await buildReportInstances(input);
    expect(built.sr.bytes.byteLength).toBeGreaterThan(1000);
    expect(built.pdf.bytes.byteLength).toBeGreaterThan(1000);
    expect(compiled).toEqual([]);
    // The first build loads dcmjs (1.3 MB) and pdf-lib: seconds on a busy machine.
  }, 60_000);
});
