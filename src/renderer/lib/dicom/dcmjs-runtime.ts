// The part of dcmjs's raw (denaturalized) data model that import and
// de-identification use. Declared here rather than relying on an ambient
// module declaration's shape: both modules work on the tag-keyed dict
// (`'00100010': {vr, Value}`), which keeps private and unknown tags as they
// are and lets every element be handled by its tag, the way Table E.1-1 is keyed.

/** One element of a dcmjs dict: `Value` holds strings, numbers, PN objects, ArrayBuffers or nested dicts (SQ). */
export interface RawElement {
  vr: string;
  Value?: unknown[];
  /** dcmjs's copy of the bytes as read; written back unchanged when Value is unchanged. */
  _rawValue?: unknown;
}

export type RawDict = Record<string, RawElement>;

export interface DcmjsRuntime {
  data: {
    DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): { meta: RawDict; dict: RawDict } };
    DicomDict: new (meta: RawDict) => { dict: RawDict; write(options?: Record<string, unknown>): ArrayBuffer };
    DicomMetaDictionary: {
      denaturalizeDataset(dataset: Record<string, unknown>): RawDict;
      naturalizeDataset(dataset: RawDict): Record<string, unknown>;
    };
  };
  log?: { setLevel?(level: string): void };
}

/** What a builder of DICOM objects is given: dcmjs, and (for tests) its sources of UIDs' randomness and of the time. */
export interface DcmjsDeps {
  dcmjs: DcmjsRuntime;
  randomBytes?: (n: number) => Uint8Array;
  now?: () => Date;
}

/** dcmjs is large (1.3 MB): loaded when first needed, not with the app. */
export async function loadDcmjs(): Promise<DcmjsRuntime> {
  const mod = (await import('dcmjs')) as unknown as DcmjsRuntime & { default?: DcmjsRuntime };
  const dcmjs = mod.default?.data ? mod.default : mod;
  dcmjs.log?.setLevel?.('error');
  return dcmjs;
}

/** A fresh UID in the 2.25.<128-bit decimal> form (ITU-T X.667 / PS3.5 B.2), from a random UUID. */
export function newUid(randomBytes: (n: number) => Uint8Array = defaultRandomBytes): string {
  const b = randomBytes(16);
  // RFC 4122 version 4 / variant bits, so the number is a valid UUID as X.667 requires.
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  let n = 0n;
  for (const byte of b) n = (n << 8n) | BigInt(byte);
  return `2.25.${n.toString(10)}`;
}

export function defaultRandomBytes(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}
