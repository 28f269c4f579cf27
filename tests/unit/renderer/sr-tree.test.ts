// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { NotDicomError, containerByConcept, findContent, itemByConcept, readSrTree, referencedSeries, walkContent } from '../../../src/renderer/lib/dicom/sr-tree';
import { Tag } from '../../../src/renderer/lib/dicom/tags';
import { SopClass } from '../../../src/renderer/lib/dicom/vocabulary';
import type { CodeTriplet } from '../../../src/renderer/lib/dicom/vocabulary';
import { writeDataset } from '../../fixtures/referral-packet';

const c = (value: string, meaning: string): CodeTriplet => ({ value, scheme: '99TEST', meaning });
const coded = (t: CodeTriplet): Record<string, string> => ({ CodeValue: t.value, CodingSchemeDesignator: t.scheme, CodeMeaning: t.meaning });

const TITLE = c('DOC', 'Document');
const GROUP = c('GROUP', 'Group');
const INNER = c('INNER', 'Inner');
const NOTE = c('NOTE', 'Note');
const WHO = c('WHO', 'Observer');

function item(relationship: string, valueType: string, concept: CodeTriplet, rest: Record<string, unknown> = {}): Record<string, unknown> {
  return { RelationshipType: relationship, ValueType: valueType, ConceptNameCodeSequence: [coded(concept)], ...rest };
}

function srFile(content: Record<string, unknown>[], extra: Record<string, unknown> = {}): Uint8Array {
  return writeDataset({
    SOPClassUID: SopClass.ComprehensiveSR,
    SOPInstanceUID: '2.25.1001',
    SpecificCharacterSet: 'ISO_IR 192',
    StudyInstanceUID: '2.25.1',
    SeriesInstanceUID: '2.25.2',
    Modality: 'SR',
    ValueType: 'CONTAINER',
    ContinuityOfContent: 'SEPARATE',
    ConceptNameCodeSequence: [coded(TITLE)],
    ContentSequence: content,
    ...extra,
  });
}

const nested = (): Uint8Array =>
  srFile([
    item('HAS OBS CONTEXT', 'PNAME', WHO, { PersonName: 'MBEKI^THABO^^DR' }),
    item('CONTAINS', 'CONTAINER', GROUP, {
      ContinuityOfContent: 'SEPARATE',
      ContentSequence: [item('CONTAINS', 'CONTAINER', INNER, { ContinuityOfContent: 'SEPARATE', ContentSequence: [item('HAS PROPERTIES', 'TEXT', NOTE, { TextValue: 'Pleurésie' })] })],
    }),
  ]);

describe('the SR content tree', () => {
  it('reads nested containers with their relationship types', () => {
    const tree = readSrTree(nested());
    expect(tree.title).toEqual(TITLE);
    expect(tree.header(Tag.SOPInstanceUID)).toBe('2.25.1001');
    expect(tree.content).toEqual([
      { relationship: 'HAS OBS CONTEXT', valueType: 'PNAME', concept: WHO, personName: 'MBEKI^THABO^^DR', children: [] },
      {
        relationship: 'CONTAINS',
        valueType: 'CONTAINER',
        concept: GROUP,
        children: [{ relationship: 'CONTAINS', valueType: 'CONTAINER', concept: INNER, children: [{ relationship: 'HAS PROPERTIES', valueType: 'TEXT', concept: NOTE, text: 'Pleurésie', children: [] }] }],
      },
    ]);
  });

  it('reads the value of each value type: code, date-time, UID, number with unit, coordinates, image reference', () => {
    const unit = { value: 'mm', scheme: 'UCUM', meaning: 'millimeter' };
    const tree = readSrTree(
      srFile([
        item('CONTAINS', 'CODE', c('PRIO', 'Priority'), { ConceptCodeSequence: [coded(c('STAT', 'STAT'))] }),
        item('CONTAINS', 'DATETIME', c('AT', 'At'), { DateTime: '20260102030405' }),
        item('HAS OBS CONTEXT', 'UIDREF', c('UID', 'Tracking'), { UID: '2.25.77' }),
        item('CONTAINS', 'NUM', c('LEN', 'Length'), {
          MeasuredValueSequence: [{ NumericValue: 12.5, FloatingPointValue: 12.5, MeasurementUnitsCodeSequence: [coded(unit)] }],
          ContentSequence: [
            item('INFERRED FROM', 'SCOORD', c('REG', 'Region'), {
              GraphicType: 'POLYLINE',
              GraphicData: [1, 2, 3, 4],
              ContentSequence: [item('SELECTED FROM', 'IMAGE', c('IMG', 'Image'), { ReferencedSOPSequence: [{ ReferencedSOPClassUID: '1.2.3', ReferencedSOPInstanceUID: '2.25.9', ReferencedFrameNumber: 3 }] })],
            }),
          ],
        }),
      ]),
    );
    const [code, at, uid, num] = tree.content;
    expect(code?.code).toEqual(c('STAT', 'STAT'));
    expect(at?.dateTime).toBe('20260102030405');
    expect(uid?.uid).toBe('2.25.77');
    expect(num?.numeric).toEqual({ value: 12.5, unit });
    const scoord = num?.children[0];
    expect(scoord?.graphic).toEqual({ type: 'POLYLINE', points: [1, 2, 3, 4] });
    expect(scoord?.children[0]?.reference).toEqual({ sopClassUID: '1.2.3', sopInstanceUID: '2.25.9', frameNumber: 3 });
  });

  it('reads no deeper than maxDepth: 0 keeps the root items alone, -1 the header alone', () => {
    expect(readSrTree(nested(), { maxDepth: 0 }).content.map((i) => [i.valueType, i.children.length])).toEqual([
      ['PNAME', 0],
      ['CONTAINER', 0],
    ]);
    expect(readSrTree(nested(), { maxDepth: 1 }).content[1]?.children[0]?.children).toEqual([]);
    const header = readSrTree(nested(), { maxDepth: -1 });
    expect(header.content).toEqual([]);
    expect(header.title).toEqual(TITLE);
  });

  it('finds items by concept: among children, depth first, and containers anywhere', () => {
    const { content } = readSrTree(nested());
    expect(itemByConcept(content, 'PNAME', WHO)?.personName).toBe('MBEKI^THABO^^DR');
    expect(itemByConcept(content, 'TEXT', NOTE)).toBeUndefined();
    expect(containerByConcept(content, INNER)?.children[0]?.text).toBe('Pleurésie');
    expect(findContent(content, (i) => i.valueType === 'TEXT')?.concept).toEqual(NOTE);
    const order: string[] = [];
    walkContent(content, (i) => order.push(i.concept?.value ?? ''));
    expect(order).toEqual(['WHO', 'GROUP', 'INNER', 'NOTE']);
  });

  it('maps each instance of the evidence sequences to its series', () => {
    const evidence = (series: string, sop: string): Record<string, unknown>[] => [
      { StudyInstanceUID: '2.25.1', ReferencedSeriesSequence: [{ SeriesInstanceUID: series, ReferencedSOPSequence: [{ ReferencedSOPClassUID: '1.2.3', ReferencedSOPInstanceUID: sop }] }] },
    ];
    const tree = readSrTree(srFile([], { CurrentRequestedProcedureEvidenceSequence: evidence('2.25.10', '2.25.11'), PertinentOtherEvidenceSequence: evidence('2.25.20', '2.25.21') }));
    expect([...referencedSeries(tree, [Tag.CurrentRequestedProcedureEvidenceSequence, Tag.PertinentOtherEvidenceSequence])]).toEqual([
      ['2.25.11', '2.25.10'],
      ['2.25.21', '2.25.20'],
    ]);
    expect([...referencedSeries(tree, [Tag.CurrentRequestedProcedureEvidenceSequence])]).toEqual([['2.25.11', '2.25.10']]);
  });

  it('stops at a truncated content item with a clear error', () => {
    const bytes = nested();
    const truncated = bytes.slice(0, bytes.length - 12);
    let thrown: unknown;
    try {
      readSrTree(truncated);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(NotDicomError);
    expect((thrown as Error).message).toMatch(/^Not a DICOM file: \S/);
    expect((thrown as Error).cause).toBeDefined();
  });

  it('says bytes that are not DICOM at all are not, keeping the parser’s own exception as the cause', () => {
    expect(() => readSrTree(new TextEncoder().encode('not a dicom file'))).toThrow(/^Not a DICOM file: /);
  });
});
