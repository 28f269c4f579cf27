import type { AnnotationRecord, ReportKind, ReportPriority, CriticalFinding } from '../clinical-types';
import type { Calibration } from '../measure';
import type { CodeTriplet } from './referral-codes';

/**
 * The contract between the report editor (drafts, signing, the outbox job)
 * and the DICOM side of a report (the TID 1500 Comprehensive SR and the
 * Encapsulated PDF built from it, and reading an SR back). Types only.
 */

/** Patient and study attributes copied into every object of the report (from a cached instance of the study). */
export interface StudyContext {
  studyInstanceUID: string;
  patientName: string;
  patientId: string;
  patientBirthDate?: string;
  patientSex?: string;
  studyDate?: string;
  studyTime?: string;
  studyId?: string;
  accessionNumber?: string;
  referringPhysicianName?: string;
  studyDescription?: string;
}

/** A template section: its id in `ReportContent.sections`, and its heading. */
export interface ReportSectionSpec {
  id: string;
  label: string;
}

/** The image a measurement was drawn on, as the SR must reference it. */
export interface ImageReference {
  sopInstanceUID: string;
  sopClassUID: string;
  seriesInstanceUID: string;
  /** 1-based frame of a multi-frame instance. */
  frameNumber?: number;
}

/**
 * What the viewer knew about a measurement's image when the report was
 * signed, so the SR carries the figures the reader saw. All optional: without
 * them the builder falls back to cornerstone-tools' cached stats in the
 * annotation's data, then to geometry alone (lengths in pixels).
 */
export interface MeasurementFigures {
  /** mm per pixel (PixelSpacing, ImagerPixelSpacing or a manual calibration). */
  calibration?: Calibration;
  /** The image's modality: 'CT' makes ROI and probe values Hounsfield units. */
  modality?: string;
  /** Ellipse/rectangle ROI statistics over its pixels, in modality units (measure.ts ellipseStats/rectangleStats). */
  stats?: { mean: number; stdDev: number; min: number; max: number };
  /** Probe: the pixel's value in modality units. */
  probeValue?: number;
}

/** Everything needed to build a signed report's two instances. UIDs are given: they were made once, at signing. */
export interface ReportBuildInput {
  kind: ReportKind;
  title: string;
  sections: ReportSectionSpec[];
  /** Section id → text. */
  text: Record<string, string>;
  priority: ReportPriority;
  critical?: CriticalFinding;
  /** The measurements as signed, each with the image it is on. */
  measurements: { annotation: AnnotationRecord; image: ImageReference; figures?: MeasurementFigures }[];
  keyImages: ImageReference[];
  author: { name: string; credentials: string; institution?: string };
  signedAt: number;
  /**
   * Minutes east of UTC the report's dates and times are written in
   * (TimezoneOffsetFromUTC); default 0, UTC, so the same input gives the same
   * bytes on every machine.
   */
  timezoneOffsetMinutes?: number;
  study: StudyContext;
  srSopInstanceUID: string;
  srSeriesInstanceUID: string;
  pdfSopInstanceUID: string;
  pdfSeriesInstanceUID: string;
  /** Addendum or amendment: the SR it corrects (Predecessor Documents Sequence). */
  predecessor?: ImageReference & { studyInstanceUID: string; signedAt?: number };
}

/** One DICOM Part 10 file ready for STOW-RS. */
export interface BuiltInstance {
  sopInstanceUID: string;
  sopClassUID: string;
  seriesInstanceUID: string;
  bytes: ArrayBuffer;
}

export interface BuiltReport {
  sr: BuiltInstance;
  pdf: BuiltInstance;
}

/** A measurement as read back from an SR: what it is, and exactly where. */
export interface ReadMeasurement {
  /** Concept name meaning: "Length", "Mean", "Area", "Angle" ... */
  name: string;
  value: number;
  /** UCUM code: "mm", "[hnsf'U]", "deg", "mm2" ... */
  unit: string;
  image: ImageReference;
  /** SCOORD graphic type and its (column,row) pairs in image pixel coordinates. */
  graphicType: string;
  points: number[];
  /** The annotation's id as the app made it (tracking identifier), when present. */
  trackingUid?: string;
}

/** A report SR read back: what the referring side shows. */
export interface ReadReport {
  sopInstanceUID: string;
  studyInstanceUID: string;
  title: string;
  sections: { label: string; text: string }[];
  measurements: ReadMeasurement[];
  author?: string;
  /** ISO date-time of the content (signing). */
  contentDateTime?: string;
  completionFlag?: string;
  verificationFlag?: string;
  priority?: ReportPriority;
  predecessorSopInstanceUID?: string;
  /** The author's credentials ("MD, FRCR"), when the SR carries them. */
  authorCredentials?: string;
  /** A critical finding and to whom / when it was communicated, when the SR records one. */
  critical?: CriticalFinding;
  /** SOP Instance UIDs of the key images the report references. */
  keyImages?: ImageReference[];
}

/** One numeric figure of a measurement. */
export interface MeasuredValue {
  concept: CodeTriplet;
  value: number;
  unit: CodeTriplet;
}

/** What an annotation becomes in the SR: its figures on one SCOORD, or a text comment at a place. */
export type ReportGraphic =
  | { kind: 'measurement'; values: MeasuredValue[]; graphicType: string; points: number[] }
  | { kind: 'comment'; text: string; graphicType: string; points: number[] };
