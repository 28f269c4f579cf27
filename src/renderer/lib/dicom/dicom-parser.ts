import * as dicomParserModule from 'dicom-parser';
import { dataSetBoundsProblem } from '../../../shared/dicom/dataset-bounds';
import { boundedInflater } from '../../../shared/dicom/inflate-bounded';

export type DicomParser = typeof dicomParserModule;

/**
 * dicom-parser ships only a UMD bundle. Vite's CommonJS interop puts its
 * functions on the namespace; Node's ESM loader (vitest) only on `default`.
 * Resolving both here lets the same code run in the app and in unit tests.
 */
export const dicomParser: DicomParser =
  (dicomParserModule as DicomParser & { default?: DicomParser }).default ?? dicomParserModule;

type DataSet = ReturnType<DicomParser['parseDicom']>;

/**
 * parseDicom with a bounded inflater for deflated files: without one,
 * dicom-parser inflates with no size limit in Node (and with Buffer-only
 * calls that throw a TypeError on a Uint8Array) and cannot inflate at all in
 * the browser. A data set with an element past the end of the file or
 * sequences nested absurdly deep is refused here (see dataset-bounds.ts), so
 * no reader meets it later. Throws as parseDicom does: `{ exception, dataSet }`.
 */
export function parseDicom(bytes: Uint8Array, options: { TransferSyntaxUID?: string; untilTag?: string } = {}): DataSet {
  const dataSet = dicomParser.parseDicom(bytes, { ...options, inflater: boundedInflater() } as Parameters<DicomParser['parseDicom']>[1]);
  const problem = dataSetBoundsProblem(dataSet, dataSet.byteArray.length, undefined, dataSet.byteArray);
  if (problem) throw { exception: problem.message, dataSet };
  return dataSet;
}
