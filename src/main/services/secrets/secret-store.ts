import type { SecretProtection } from '../../../shared/ipc/contract';

/**
 * Where main keeps credentials (site passwords and tokens). Keys are opaque
 * strings chosen by the owning service, e.g. `site:hospital-a:credential`.
 * Implementations register every value they read or write with the process's
 * Redactor, so a secret that ends up in an error message is masked in logs.
 */
export interface SecretStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** What protects the stored secrets on this host, in terms the Sites form can explain. */
  protection(): Promise<SecretProtection>;
  /**
   * The user's explicit choice to keep secrets with weak protection (Electron's
   * basic_text on Linux), or its withdrawal. Stores without such a choice
   * refuse with a ServiceError.
   */
  chooseWeakProtection(accept: boolean): Promise<SecretProtection>;
}
