import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditKeyError, auditKeysFromVault, lineMacHex } from '../../../src/cli/audit-verify-key';
import { auditLineMac, deriveAuditKeys } from '../../../src/main/services/audit/audit-seal';
import { deriveAuditHeadKey, deriveWrappingKey, unwrapSecret } from '../../../src/main/services/vault/vault-crypto';
import { VaultFile, vaultFilePath } from '../../../src/main/services/vault/vault-file';
import { VaultService } from '../../../src/main/services/vault/vault-service';
import { createLogger, memorySink } from '../../../src/shared/log';

// audit:verify (src/cli, which may import only src/shared) repeats the vault's key steps with node:crypto;
// this pins them to main's own functions on a vault main created.

let dir: string;
const PASSPHRASE = 'a long enough passphrase';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'telerad-verify-key-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('audit:verify key derivation', () => {
  it('derives from vault.json and the passphrase the same head and line-MAC keys as main', async () => {
    const handed: Buffer[] = [];
    const audit = { recordSystem: () => undefined, useHeadKey: async (k: Buffer) => void handed.push(Buffer.from(k)) };
    await new VaultService({ file: new VaultFile(vaultFilePath(dir)), now: () => 0, audit, log: createLogger('vault', memorySink()), scrypt: { N: 2 ** 10, r: 8, p: 1 } }).setup(PASSPHRASE);
    const content = JSON.parse(readFileSync(vaultFilePath(dir), 'utf8')) as { kdf: { salt: string; N: number; r: number; p: number }; wrappedMaster: string };
    const master = unwrapSecret(await deriveWrappingKey(PASSPHRASE, Buffer.from(content.kdf.salt, 'base64'), content.kdf), Buffer.from(content.wrappedMaster, 'base64'));
    const mainHeadKey = await deriveAuditHeadKey(master!);

    const cli = auditKeysFromVault(vaultFilePath(dir), PASSPHRASE);
    expect(cli.headKey.equals(mainHeadKey)).toBe(true);
    expect(cli.headKey.equals(handed[0]!)).toBe(true);
    expect(cli.lineMac.equals(deriveAuditKeys(mainHeadKey).lineMac)).toBe(true);
    const hash = 'ab'.repeat(32);
    expect(lineMacHex(cli, hash)).toBe(auditLineMac(deriveAuditKeys(mainHeadKey).lineMac, hash));
    expect(() => auditKeysFromVault(vaultFilePath(dir), 'wrong')).toThrow(AuditKeyError);
  });
});
