import { z } from 'zod';

// zod probes for eval (`new Function`) to pick a JIT path for object parsing;
// under our CSP that probe fails harmlessly but is reported as a violation.
// Jitless is the honest setting for a page that forbids eval. A module of its
// own, imported first by main.tsx, because ES modules evaluate in import
// order and the contract's schemas are built while their module evaluates.
z.config({ jitless: true });
