import { existsSync } from 'node:fs';
import { ElfError, runElf } from '@vmfarm/emulator';
import { UsageError } from '../usage';

const HELP = `usage: vmfarm emulate [--trace] [--stats] ELF [ARGS...]

Runs a static AArch64 Linux ELF on the bundled emulator's CPU in user mode, like
\`qemu-aarch64 ELF ARGS...\`: stdout, stderr and the exit status pass through unchanged.

  --trace   name unsupported system calls on stderr
  --stats   print guest instructions and MIPS on stderr at exit
`;

/** `vmfarm emulate`: options end at the ELF path; everything after it belongs to the guest. */
export async function emulate(argv: string[]): Promise<number> {
  let trace = false;
  let stats = false;
  let k = 0;
  for (; k < argv.length && argv[k].startsWith('-'); k++) {
    const a = argv[k];
    if (a === '--') {
      k++;
      break;
    }
    if (a === '--help' || a === '-h') {
      process.stdout.write(HELP);
      return 0;
    }
    if (a === '--trace') trace = true;
    else if (a === '--stats') stats = true;
    else throw new UsageError(`unknown option '${a}'`);
  }
  const elf = argv[k];
  if (!elf) throw new UsageError('missing ELF file (see --help)');
  if (!existsSync(elf)) throw new UsageError(`no such file: ${elf}`);
  try {
    const r = runElf(elf, argv.slice(k + 1), {
      trace: trace ? (line) => process.stderr.write(`vmfarm emulate: ${line}\n`) : undefined,
    });
    if (stats) {
      const mips = r.instructions / r.seconds / 1e6;
      process.stderr.write(
        `vmfarm emulate: ${r.instructions} instructions in ${r.seconds.toFixed(3)} s (${mips.toFixed(1)} MIPS)\n`,
      );
    }
    return r.exitCode;
  } catch (err) {
    if (err instanceof ElfError) throw new UsageError(`${elf}: ${err.message}`);
    throw err;
  }
}
