// Image quality checks: pure functions over already-parsed facts.
export type * from './types';
export { computePixelStats } from './pixel-stats';
export type { StoredPixels, PixelStatsOptions } from './pixel-stats';
export { factsFromDataSet } from './facts-from-dataset';
export type { DataSetLike, DataSetElementLike } from './facts-from-dataset';
export { ALL_CHECKS, runQualityChecks, summarizeFindings, worstSeverity } from './run';
export type { QualityLevel, QualitySummary } from './run';
export { syntaxInfo, TRANSFER_SYNTAXES } from './transfer-syntax';
export { nativeFirstFrame, pixelReadProblem, storedValues } from './stored-pixels';
