import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { OrthancHandle } from '../orthanc';

/**
 * Writes `dir/sites.json` listing one site, the Orthanc behind `orthanc` with
 * its basic-auth credentials, for a web host's `--sites`; returns the path.
 */
export function writeSitesFile(dir: string, orthanc: Pick<OrthancHandle, 'dicomWebUrl' | 'username' | 'password'>, name = 'Hospital A'): string {
  const sitesFile = path.join(dir, 'sites.json');
  writeFileSync(sitesFile, JSON.stringify([{ name, url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } }]));
  return sitesFile;
}
