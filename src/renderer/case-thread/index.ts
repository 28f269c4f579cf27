// case-thread's public entry: what other features may use. Anything else in this folder is internal (lint: local/renderer-features).
export { CASE_NOTES_TABLE, addCaseNote } from './case-note-rows';
