// Integrity: is the file whole, does its pixel data have the size its header
// promises, and can the viewer decode its transfer syntax at all.
import { evidenceOf, finding, seriesCheck, seriesLabel, whichImages } from '../series';
import { syntaxInfo } from '../transfer-syntax';
import type { Finding, ImageFacts, QualityCheck } from '../types';

export const unreadableFile: QualityCheck = {
  id: 'integrity.unreadable',
  group: 'integrity',
  title: 'Truncated or corrupt file',
  severity: 'blocker',
  run(images) {
    const out: Finding[] = [];
    for (const im of images) {
      if (!im.unreadable) continue;
      if (im.unreadable.kind === 'not-dicom') {
        out.push(finding(this, 'info', `Not a DICOM file, not checked: ${im.source}`, undefined, [evidenceOf(im, im.unreadable.reason)]));
      } else if (im.unreadable.kind === 'missing') {
        out.push(finding(this, 'blocker', `Missing file: ${im.source} is listed in the DICOMDIR but not on the media — the copy is incomplete`, undefined, [evidenceOf(im, im.unreadable.reason)]));
      } else {
        const what = im.unreadable.kind === 'truncated' ? 'Truncated file' : 'Corrupt file';
        out.push(finding(this, 'blocker', `${what}: ${im.source} (${im.unreadable.reason}) — copy it again from the source`, undefined, [evidenceOf(im, im.unreadable.reason)]));
      }
    }
    return out;
  },
};

/** Bytes of native (uncompressed) pixel data the header promises. */
export function expectedPixelBytes(im: ImageFacts): number | undefined {
  const { rows, columns, bitsAllocated } = im;
  if (!rows || !columns || !bitsAllocated) return undefined;
  // YBR_*_422 stores two chroma samples per pair of pixels: 2 samples per pixel, not 3 (PS3.3 C.7.6.3.1.2).
  const samples = /^YBR_(FULL|PARTIAL)_422$/.test(im.photometricInterpretation ?? '') ? 2 : (im.samplesPerPixel ?? 1);
  const bits = rows * columns * samples * bitsAllocated * (im.numberOfFrames ?? 1);
  return Math.ceil(bits / 8);
}

export const pixelLength = seriesCheck({ id: 'integrity.pixel-length', group: 'integrity', title: 'Pixel data length does not match the image size', severity: 'blocker' }, (list) => {
  const short: ImageFacts[] = [];
  const details: string[] = [];
  for (const im of list) {
    const px = im.pixelData;
    if (!px) continue;
    if (px.declaredLength !== undefined && px.presentLength < px.declaredLength) {
      short.push(im);
      details.push(`${px.presentLength} of ${px.declaredLength} declared bytes present`);
      continue;
    }
    if (px.encapsulated) continue;
    const expected = expectedPixelBytes(im);
    const have = px.declaredLength ?? px.presentLength;
    // One pad byte keeps an odd length even (PS3.5 §7.1.1); anything else is wrong.
    if (expected !== undefined && (have < expected || have > expected + 1)) {
      short.push(im);
      details.push(`${have} bytes, ${expected} expected for ${im.rows}×${im.columns}×${im.samplesPerPixel ?? 1}×${im.bitsAllocated} bits×${im.numberOfFrames ?? 1} frames`);
    }
  }
  if (!short.length) return undefined;
  return {
    message: `Pixel data length does not match the image size in ${whichImages(short, list.length)} of the ${seriesLabel(list[0])} (${details[0]}): the image cannot be shown as acquired`,
    instances: short.map((im, i) => evidenceOf(im, details[i])),
  };
});

export const unsupportedSyntax = seriesCheck({ id: 'integrity.transfer-syntax', group: 'integrity', title: 'Unsupported transfer syntax', severity: 'blocker' }, (list) => {
  const bad = list.filter((im) => im.pixelData && syntaxInfo(im.transferSyntaxUID)?.supported === false);
  if (!bad.length) return undefined;
  const name = syntaxInfo(bad[0]!.transferSyntaxUID)!.name;
  return {
    message: `Unsupported transfer syntax (${name}) in ${whichImages(bad, list.length)} of the ${seriesLabel(list[0])}: the viewer cannot display them — ask the site to send them uncompressed or lossless`,
    instances: bad.map((im) => evidenceOf(im, im.transferSyntaxUID)),
    values: { transferSyntaxUID: bad[0]!.transferSyntaxUID ?? null },
  };
});

export const integrityChecks: QualityCheck[] = [unreadableFile, pixelLength, unsupportedSyntax];
