// The part of dcmjs (0.52) the app uses: writing a naturalized dataset as a
// Part 10 file, and the `sr` module's coded concepts and content items. dcmjs
// ships no types of its own.
declare module 'dcmjs' {
  export type NaturalDataset = Record<string, unknown>;

  export interface DicomDictInstance {
    dict: Record<string, unknown>;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }

  export interface DcmjsData {
    DicomDict: new (meta: Record<string, unknown>) => DicomDictInstance;
    DicomMetaDictionary: {
      denaturalizeDataset(dataset: NaturalDataset): Record<string, unknown>;
      naturalizeDataset(dataset: Record<string, unknown>): NaturalDataset;
    };
    DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): { meta: Record<string, unknown>; dict: Record<string, unknown> } };
  }

  export interface CodedConceptOptions {
    value: string;
    schemeDesignator: string;
    meaning: string;
  }

  /** A content item as dcmjs builds it: a naturalized dataset to nest in a ContentSequence. */
  export type SrContentItem = NaturalDataset;

  type ItemCtor<O> = new (options: O) => SrContentItem;
  interface Named {
    name: SrCodedConcept;
    relationshipType?: string;
  }

  export interface SrCodedConcept {
    readonly value: string;
    readonly meaning: string;
    readonly schemeDesignator: string;
  }

  export interface DcmjsSr {
    coding: { CodedConcept: new (options: CodedConceptOptions) => SrCodedConcept };
    valueTypes: {
      RelationshipTypes: Record<'CONTAINS' | 'HAS_ACQ_CONTENT' | 'HAS_CONCEPT_MOD' | 'HAS_OBS_CONTEXT' | 'HAS_PROPERTIES' | 'INFERRED_FROM' | 'SELECTED_FROM', string>;
      GraphicTypes: Record<'CIRCLE' | 'ELLIPSE' | 'MULTIPOINT' | 'POINT' | 'POLYLINE', string>;
      ContainerContentItem: ItemCtor<Named & { isContentContinuous?: boolean; templateID?: string }>;
      TextContentItem: ItemCtor<Named & { value: string }>;
      CodeContentItem: ItemCtor<Named & { value: SrCodedConcept }>;
      PNameContentItem: ItemCtor<Named & { value: string }>;
      UIDRefContentItem: ItemCtor<Named & { value: string }>;
      NumContentItem: ItemCtor<Named & { value?: number; unit?: SrCodedConcept; qualifier?: SrCodedConcept }>;
      ImageContentItem: ItemCtor<Named & { referencedSOPClassUID: string; referencedSOPInstanceUID: string; referencedFrameNumbers?: number[] }>;
      ScoordContentItem: ItemCtor<Named & { graphicType: string; graphicData: number[] }>;
    };
  }

  export const data: DcmjsData;
  export const sr: DcmjsSr;
  export const log: { setLevel?(level: string): void } | undefined;

  const dcmjs: { data: DcmjsData; sr: DcmjsSr; log?: { setLevel?(level: string): void } };
  export default dcmjs;
}
