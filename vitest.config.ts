import { defineConfig } from 'vitest/config';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Hosts started by the tests count wrong passphrases in a state folder of their own, never in the
// user's ~/.local/state (src/main/services/vault/unlock-attempts.ts). Workers inherit it.
process.env.XDG_STATE_HOME ??= mkdtempSync(join(tmpdir(), 'telerad-test-state-'));

// Two projects: fast unit tests (Node, fake-indexeddb where IndexedDB is needed)
// and integration tests against a real Orthanc started per file.
export default defineConfig({
  esbuild: { jsx: 'automatic' },
  test: {
    // Two cores; each integration file starts its own Orthanc.
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['tests/unit/**/*.test.ts', 'tests/unit/**/*.test.tsx'], environment: 'node' },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        // The seeded fuzz run (tests/fuzz/fuzz.test.ts) and its regression cases; more on demand: npm run fuzz -- --count N.
        test: { name: 'fuzz', include: ['tests/fuzz/**/*.test.ts'], environment: 'node', testTimeout: 60_000, hookTimeout: 120_000 },
      },
    ],
  },
});
