// The quality engine's vocabulary: what it is told about each image (facts,
// already parsed), what it answers (findings), and the case around the images.

export type Severity = 'blocker' | 'warning' | 'info';

export type CheckGroup = 'integrity' | 'identity' | 'suitability' | 'acquisition' | 'geometry' | 'privacy';

/** Pixel statistics of one image (the first frame), computed once by computePixelStats. */
export interface PixelStats {
  /** Smallest and largest stored value present. */
  min: number;
  max: number;
  /** Share (0–1) of pixels at exactly the smallest / largest stored value present. */
  shareAtMin: number;
  shareAtMax: number;
  /** 1st and 99th percentile of the stored values. */
  p01: number;
  p99: number;
  /** (p99 − p01) over the representable range of Bits Stored, 0–1. */
  dynamicRangeUsed: number;
  /** log2 of the number of levels between p01 and p99: the grey levels the image really uses. */
  effectiveBits: number;
  /** Share (0–1) of pixels within ±1 % of the representable range around the median: 1 for a blank image. */
  nearUniformShare: number;
  /** Variance of the 4-neighbour Laplacian over the interior: falls when an image is blurred. */
  laplacianVariance: number;
  pixelCount: number;
}

/** 'missing': a media directory (DICOMDIR) lists the file but it is not there. */
export type UnreadableKind = 'truncated' | 'malformed' | 'not-dicom' | 'missing';

/** What the checks need to know about one image, read from its file by the caller. */
export interface ImageFacts {
  /** Where it came from (a file path, a cache key): shown in evidence. */
  source: string;
  /** Set when the file could not be read at all: the other fields are then mostly absent. */
  unreadable?: { kind: UnreadableKind; reason: string };
  sopClassUID?: string;
  sopInstanceUID?: string;
  studyInstanceUID?: string;
  seriesInstanceUID?: string;
  patientId?: string;
  patientName?: string;
  patientBirthDate?: string;
  patientSex?: string;
  modality?: string;
  rows?: number;
  columns?: number;
  samplesPerPixel?: number;
  photometricInterpretation?: string;
  bitsAllocated?: number;
  bitsStored?: number;
  pixelRepresentation?: number;
  numberOfFrames?: number;
  transferSyntaxUID?: string;
  /** (0028,2110) '00' or '01'. */
  lossyImageCompression?: string;
  /** (0028,2112), one value per compression step. */
  lossyImageCompressionRatio?: number[];
  /** (0028,2114), e.g. ISO_10918_1. */
  lossyImageCompressionMethod?: string[];
  pixelSpacing?: number[];
  imagerPixelSpacing?: number[];
  instanceNumber?: number;
  imagePositionPatient?: number[];
  imageOrientationPatient?: number[];
  sliceThickness?: number;
  frameOfReferenceUID?: string;
  /** (0028,0301) 'YES' / 'NO'. */
  burnedInAnnotation?: string;
  pixelData?: {
    encapsulated: boolean;
    /** The length the Pixel Data element declares (undefined length for encapsulated data: undefined). */
    declaredLength?: number;
    /** Bytes actually in the file for it. */
    presentLength: number;
  };
  /**
   * A hash of the image's content. Hashes are compared only when they share
   * their prefix up to the last ':' (e.g. 'px:' for decoded values, 'ts:<syntax>:'
   * for stored bytes), so one image stored in two transfer syntaxes is not a conflict.
   */
  contentHash?: string;
  pixelStats?: PixelStats;
  /** Why pixelStats is absent when the image has pixels (e.g. "compressed (JPEG-LS)"). */
  pixelStatsSkipped?: string;
}

/** Patient identity as the referral note states it. */
export interface ReferralIdentity {
  patientId?: string;
  patientName?: string;
  patientBirthDate?: string;
  patientSex?: string;
}

export interface CaseContext {
  referral?: ReferralIdentity;
  /** The case will be de-identified before it leaves: burned-in text would leak identity. */
  markedForDeidentification?: boolean;
}

export interface EvidenceItem {
  source: string;
  sopInstanceUID?: string;
  instanceNumber?: number;
  /** The value that triggered the finding for this instance. */
  value?: string | number;
}

export interface Finding {
  checkId: string;
  group: CheckGroup;
  title: string;
  severity: Severity;
  /** One plain sentence a clinician can act on. */
  message: string;
  studyInstanceUID?: string;
  seriesInstanceUID?: string;
  evidence: { instances: EvidenceItem[]; values?: Record<string, string | number | boolean | null> };
}

export interface QualityCheck {
  id: string;
  group: CheckGroup;
  title: string;
  /** The severity of its findings (a check may lower it for a milder variant, never raise it). */
  severity: Severity;
  run(images: readonly ImageFacts[], context: CaseContext): Finding[];
}
