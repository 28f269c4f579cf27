/**
 * The clinical vocabulary both the schema (cache/telerad-db.ts stores these) and
 * the DICOM codecs (lib/dicom) speak; here so lib/ needs nothing from cache/.
 */

export type ReferralPriority = 'STAT' | 'urgent' | 'routine';

/**
 * v4: one measurement or annotation drawn on an instance. `data` is the
 * cornerstone-tools measurement data as the tool keeps it (handles in image
 * pixel coordinates, so it survives any zoom, pan or window size).
 */
export interface AnnotationRecord {
  /** The tool's measurement uuid. */
  id: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  /**
   * cornerstone-tools tool name: 'Length', 'EllipticalRoi', 'Angle', 'Probe',
   * 'CobbAngle', 'ArrowAnnotate' (`data.text`), 'TextMarker' (free text,
   * `data.text`), or 'Calibration': the instance's manual calibration, a line
   * (`data.handles.start/end`) across a reference of `referenceMm` millimetres.
   */
  tool: string;
  data: Record<string, unknown>;
  /** Who drew it: the user profile's name when set, else the local seam "me". */
  author: string;
  createdAt: number;
  updatedAt: number;
  /** A locked annotation cannot be moved, edited or deleted until unlocked. */
  locked?: boolean;
  /** Calibration only: the reference object's known size in mm. */
  referenceMm?: number;
  /**
   * ROI statistics and probe values as computed from the decoded pixels when
   * the annotation was last drawn or moved (measure.ts, modality units): a
   * report signed later needs them and cannot decode the image itself.
   */
  pixelFigures?: { stats?: { mean: number; stdDev: number; min: number; max: number }; probeValue?: number; modality?: string };
}

/** v5: result priority of a report (how fast the referrer must act on it). */
export type ReportPriority = 'routine' | 'urgent' | 'stat';
/** v5: a first report, or a correction of a signed one (which references it). */
export type ReportKind = 'report' | 'addendum' | 'amendment';

/** v5: a critical finding and how it was communicated (name, role or phone; when). */
export interface CriticalFinding {
  communicatedTo: string;
  communicatedAt: number;
}
