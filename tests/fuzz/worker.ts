// Child process of the fuzz harness: runs the targets on each file it is sent
// and answers with the outcomes. The parent kills it when a file takes too
// long (a hang) and starts another; a crash of the process itself (out of
// memory, a native abort) is seen by the parent as an exit.
import { loadDecoders } from '../../src/cli/qc-codecs';
import { loadDcmjs } from '../../src/renderer/lib/dicom/dcmjs-runtime';
import { runTargets } from './targets';

export interface WorkRequest {
  id: number;
  name: string;
  bytes: Uint8Array;
}

async function main(): Promise<void> {
  const [decoders, dcmjs] = await Promise.all([loadDecoders(), loadDcmjs()]);
  // dcmjs logs each malformed element on its own: keep the harness's output to the report.
  dcmjs.log?.setLevel?.('silent');
  process.on('message', (msg: WorkRequest) => {
    void runTargets(new Uint8Array(msg.bytes), msg.name, { decoders, dcmjs }).then((outcomes) =>
      // Peak resident memory so far (typed arrays live outside the heap limit): the parent flags a file that raised it too far.
      process.send?.({ id: msg.id, outcomes, peakRssBytes: process.resourceUsage().maxRSS * 1024 }),
    );
  });
  process.send?.({ ready: true });
}

void main();
