import type { DataSet, Element } from 'dicom-parser';
import { Tag } from './tags';
import type { CodeTriplet } from './vocabulary';

/**
 * Reading helpers shared by the SR readers (referral note, report, case
 * notes): text by the file's character set, sequence items, coded entries.
 */

/** A string attribute of a dataset, decoded and trimmed; undefined when absent or empty. */
export type Decode = (ds: DataSet, tag: string) => string | undefined;

/** A coded entry: (0008,0100) value, (0008,0102) scheme, (0008,0104) meaning. */
export type SrCodedEntry = CodeTriplet;

/**
 * Text by the dataset's Specific Character Set (ISO_IR 192 → UTF-8, the
 * default and ISO_IR 100 → Latin-1). Values are padded with spaces (or NUL
 * for UIs); both ends are trimmed of that padding.
 */
export function decoderFor(charset: string | undefined): Decode {
  const td = new TextDecoder(charset?.includes('ISO_IR 192') ? 'utf-8' : 'latin1');
  return (ds, tag) => {
    const el: Element | undefined = ds.elements[tag];
    if (!el || el.length <= 0) return undefined;
    const value = td
      .decode(ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length))
      .replace(/[\0 ]+$/, '')
      .replace(/^ +/, '');
    return value ? value : undefined;
  };
}

/** The item datasets of a sequence attribute (none when absent). */
export function items(ds: DataSet, tag: string): DataSet[] {
  return (ds.elements[tag]?.items ?? []).flatMap((i) => (i.dataSet ? [i.dataSet] : []));
}

/** A code sequence item as a coded entry; undefined without value or scheme. */
export function readCode(ds: DataSet | undefined, decode: Decode): SrCodedEntry | undefined {
  if (!ds) return undefined;
  const value = decode(ds, Tag.CodeValue);
  const scheme = decode(ds, Tag.CodingSchemeDesignator);
  if (!value || !scheme) return undefined;
  return { value, scheme, meaning: decode(ds, Tag.CodeMeaning) ?? '' };
}
