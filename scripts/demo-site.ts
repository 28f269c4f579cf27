// The demo: a local Orthanc on loopback (authentication on) loaded with
// generated cases, and the browser host provisioned with it. Prints the URL
// and runs until Ctrl-C, then stops both and removes the demo site's data.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateChestXray } from '../tests/fixtures/chest-xray';
import { generateReferralPacket } from '../tests/fixtures/referral-packet';
import { writeDicomdirFixture } from '../tests/fixtures/dicomdir';
import { cameraJpeg } from '../tests/fixtures/case-import-attachments';
import { loadCtStudy, startOrthanc } from '../tests/support/orthanc';
import { startWebHostProcess } from '../tests/support/e2e/web-host-process';
import { stowInstances } from '../tests/support/stow';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'telerad-demo-'));
console.error('starting the demo site (Orthanc with DICOMweb on 127.0.0.1)…');
const orthanc = await startOrthanc();
console.error('generating demo cases…');
await loadCtStudy(orthanc, {
  patientName: 'DEMO^CT',
  patientId: 'DEMO-001',
  studyDate: new Date().toISOString().slice(0, 10).replace(/-/g, ''),
  slices: 40,
  studyDescription: 'CT CHEST WITH CONTRAST',
});
const xray = generateChestXray({ patientName: 'DEMO^CHEST', patientId: 'DEMO-002' });
for (const inst of xray.instances) await orthanc.upload(inst.bytes);
// A STAT referral packet on the chest X-ray (note, lab PDF, photo), stored the way a referring site sends it: STOW-RS.
const packet = await generateReferralPacket({
  studyInstanceUID: xray.studyInstanceUID,
  patientName: 'DEMO^CHEST',
  patientId: 'DEMO-002',
  priority: 'STAT',
  clinicalQuestion: 'Suspected right lower lobe pneumonia — consolidation or effusion? Please advise on need for admission.',
  history: 'Fever 39.2 °C and productive cough for 5 days; crackles at the right base; SpO2 91 % on air.',
  referringClinician: 'MBEKI^THABO^^DR',
  requestedSpecialty: 'Radiology',
});
await stowInstances(orthanc.dicomWebUrl, orthanc.authorization, packet.files);

// What a rural clinic would have in hand for "New referral": a CD from the district hospital's
// CT and X-ray (a DICOMDIR folder) and a phone photo.
const cd = writeDicomdirFixture({ parent: tmp, ctSlices: 20, rows: 256, columns: 256, patientName: 'MOYO^GRACE', patientId: 'RUR-4471' });
const photoPath = path.join(tmp, 'photo-of-the-wound.jpg');
writeFileSync(photoPath, cameraJpeg(480, 640).jpeg);

const sitesFile = path.join(tmp, 'sites.json');
writeFileSync(
  sitesFile,
  JSON.stringify([{ name: 'Demo Hospital', url: orthanc.dicomWebUrl, auth: { type: 'basic', username: orthanc.username, password: orthanc.password } }]),
  { mode: 0o600 },
);
const port = arg('--port') ?? '0';
const host = await startWebHostProcess(['--data-dir', arg('--data-dir') ?? path.join(tmp, 'app-data'), '--sites', sitesFile, '--port', port], { locked: true });
rmSync(sitesFile); // the host has moved the password into its secrets store

console.log(host.url);
console.error(`\nTelerad demo is running. Open this URL in a browser (it carries the launch token):\n\n  ${host.url}\n\nTo try the rural side (New referral): the CD folder ${cd.dir}\nand the photo ${photoPath}\n\nCtrl-C stops the demo.`);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await host.stop();
  await orthanc.stop();
  rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
