import {
  answerWords,
  consoleLines,
  endPattern,
  parseReport,
  readyPatterns,
  TranscriptScanner,
} from '@vmfarm/suites';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Target } from '../engine';
import { REPO_ROOT } from '../fixtures';
import type { Seed } from '../mutate';

/** What the reference guest prints (fixtures/guest/init), after a firmware and kernel boot. */
const GUEST = [
  'UEFI firmware (version edk2-stable202211 built at 13:10:49 on Nov  5 2024)',
  '\x1b[2J\x1b[01;01HBdsDxe: loading Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0)',
  'BdsDxe: starting Boot0001 "UEFI Misc Device" from PciRoot(0x0)/Pci(0x1,0x0)',
  'EFI stub: Booting Linux Kernel...',
  '[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x411fd070]',
  '[    1.234567] Run /init as init process',
  'VMFARM-REPORT-BEGIN',
  'arch=aarch64',
  'cpus=2',
  'gic=v3',
  'blk=vda:266240',
  'VMFARM-REPORT-END',
  'VMFARM-READY',
  'vmfarm blk',
  'VMFARM-OK blk n=2 vda=266240@0000:00:01.0 vdb=2048@0000:00:02.0',
  'VMFARM-ERR getvar not-found',
  'debian login: ',
].join('\r\n');

const PANIC = [
  '[    2.000000] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
  '[    2.000001] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-13-arm64 #1',
  '[    2.000002] Internal error: Oops: 96000004 [#1] SMP',
].join('\n');

/** The user's readiness pattern, on RE2 (its engine is part of what the agent runs). */
const PATTERNS = readyPatterns('login: ?$|^# $');
const END = endPattern(PATTERNS);

export const transcript: Target = {
  name: 'transcript',
  async seeds(): Promise<Seed[]> {
    const seeds: Seed[] = [
      { name: 'generated-reference-guest', data: Buffer.from(GUEST) },
      { name: 'generated-panic', data: Buffer.from(`${GUEST.slice(0, 300)}\n${PANIC}\n`) },
    ];
    // Real edk2 consoles kept as the boot suite's test fixtures.
    const dir = join(REPO_ROOT, 'libs', 'suites', 'test', 'fixtures', 'boot');
    for (const f of readdirSync(dir).sort()) seeds.push({ name: f, data: readFileSync(join(dir, f)) });
    return seeds;
  },
  dictionary: [
    'VMFARM-REPORT-BEGIN\n',
    'VMFARM-REPORT-END',
    'VMFARM-READY',
    'VMFARM-OK ',
    '\x1b[2J',
    '\x1b[01;01H',
    '\r',
    '\n',
    '=',
    'Kernel panic - not syncing',
    'BdsDxe: failed to load Boot0001',
    ': Access Denied',
    'login: ',
    '\u00e9\u{1f600}',
  ].map((s) => Buffer.from(s)),
  run(input) {
    const text = input.toString(input.length % 2 ? 'latin1' : 'utf8');
    // Fed as console chunks arrive: whole transcript so far, a little more each time.
    const scanner = new TranscriptScanner(PATTERNS);
    const step = 1 + (input.length % 97);
    for (let end = step; end < text.length; end += step * 7) scanner.feed(text.slice(0, end));
    scanner.feed(text, true);
    const lines = consoleLines(text);
    for (const line of lines) {
      END.test(line);
      if (line.startsWith('VMFARM-OK ')) answerWords(line.slice('VMFARM-OK '.length));
    }
    parseReport(text);
  },
  // The transcript readers refuse nothing: any exception is a finding.
  expected: () => false,
};
