// deidentify's public entry: what other features may use. Anything else in this folder is internal (lint: local/renderer-features).
export { ANNEX_E_TABLE } from './annex-e-table';
export { deidentifyCase } from './deidentify';
