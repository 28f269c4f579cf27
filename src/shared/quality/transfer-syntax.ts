// Transfer syntaxes as the quality checks see them: can the viewer display it,
// and does it lose information.

export interface SyntaxInfo {
  name: string;
  /** The app's viewer (cornerstone-wado-image-loader 4.13) decodes it. */
  supported: boolean;
  /** 'always': lossy by definition; 'maybe': lossy unless Lossy Image Compression says 00. */
  lossy: 'never' | 'maybe' | 'always';
  encapsulated: boolean;
}

export const TRANSFER_SYNTAXES: Readonly<Record<string, SyntaxInfo>> = {
  '1.2.840.10008.1.2': { name: 'Implicit VR Little Endian', supported: true, lossy: 'never', encapsulated: false },
  '1.2.840.10008.1.2.1': { name: 'Explicit VR Little Endian', supported: true, lossy: 'never', encapsulated: false },
  '1.2.840.10008.1.2.1.99': { name: 'Deflated Explicit VR Little Endian', supported: true, lossy: 'never', encapsulated: false },
  '1.2.840.10008.1.2.2': { name: 'Explicit VR Big Endian', supported: true, lossy: 'never', encapsulated: false },
  '1.2.840.10008.1.2.4.50': { name: 'JPEG baseline', supported: true, lossy: 'always', encapsulated: true },
  '1.2.840.10008.1.2.4.51': { name: 'JPEG extended', supported: true, lossy: 'always', encapsulated: true },
  '1.2.840.10008.1.2.4.57': { name: 'JPEG lossless', supported: true, lossy: 'never', encapsulated: true },
  '1.2.840.10008.1.2.4.70': { name: 'JPEG lossless SV1', supported: true, lossy: 'never', encapsulated: true },
  '1.2.840.10008.1.2.4.80': { name: 'JPEG-LS lossless', supported: true, lossy: 'never', encapsulated: true },
  '1.2.840.10008.1.2.4.81': { name: 'JPEG-LS near-lossless', supported: true, lossy: 'always', encapsulated: true },
  '1.2.840.10008.1.2.4.90': { name: 'JPEG 2000 lossless', supported: true, lossy: 'never', encapsulated: true },
  '1.2.840.10008.1.2.4.91': { name: 'JPEG 2000', supported: true, lossy: 'maybe', encapsulated: true },
  '1.2.840.10008.1.2.5': { name: 'RLE lossless', supported: true, lossy: 'never', encapsulated: true },
  '1.2.840.10008.1.2.4.100': { name: 'MPEG-2 video', supported: false, lossy: 'always', encapsulated: true },
  '1.2.840.10008.1.2.4.101': { name: 'MPEG-2 video', supported: false, lossy: 'always', encapsulated: true },
  '1.2.840.10008.1.2.4.102': { name: 'MPEG-4 video', supported: false, lossy: 'always', encapsulated: true },
  '1.2.840.10008.1.2.4.103': { name: 'MPEG-4 video', supported: false, lossy: 'always', encapsulated: true },
  '1.2.840.10008.1.2.4.201': { name: 'HTJ2K lossless', supported: false, lossy: 'never', encapsulated: true },
  '1.2.840.10008.1.2.4.202': { name: 'HTJ2K lossless RPCL', supported: false, lossy: 'never', encapsulated: true },
  '1.2.840.10008.1.2.4.203': { name: 'HTJ2K', supported: false, lossy: 'maybe', encapsulated: true },
};

/** What is known of a syntax; an unknown UID is unsupported and assumed encapsulated. */
export function syntaxInfo(uid: string | undefined): SyntaxInfo | undefined {
  if (!uid) return undefined;
  return TRANSFER_SYNTAXES[uid] ?? { name: `unknown transfer syntax ${uid}`, supported: false, lossy: 'maybe', encapsulated: true };
}

const METHOD_NAMES: Record<string, string> = {
  ISO_10918_1: 'JPEG',
  ISO_14495_1: 'JPEG-LS near-lossless',
  ISO_15444_1: 'JPEG 2000',
  ISO_15444_15: 'HTJ2K',
  ISO_13818_2: 'MPEG-2',
  ISO_14496_10: 'MPEG-4',
};

export function lossyMethodName(method: string): string {
  return METHOD_NAMES[method] ?? method;
}
