// worklist's public entry: what other features may use. Anything else in this folder is internal (lint: local/renderer-features).
export type { LocalCaseStatus } from './worklist-row';
export { selectWorklistRows } from './worklist-store';
export type { WorklistState, WorklistStore } from './worklist-store';
