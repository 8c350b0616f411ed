import type { RunJobData } from '@vmfarm/protocol';
import type { LiveVm } from '@vmfarm/session';
import type { HostProbe, QemuSession } from '@vmfarm/targets';
import type { LiveVmRun } from '../src/attempt';
import { qemuVmRun } from '../src/qemu-vm';

/** The agent's own live VM on QEMU (qemuVmRun in workDir), telling `onBoot` of each session it boots. */
export function watchedQemuVm(
  workDir: string,
  probe: HostProbe,
  onBoot: (session: QemuSession) => void,
): (job: RunJobData, imagePath: string) => LiveVmRun {
  return (job, imagePath) => {
    const inner = qemuVmRun(job, 1, imagePath, workDir, probe);
    const vm: LiveVm = {
      boot: async (overrides) => {
        const booted = await inner.vm.boot(overrides);
        onBoot(booted.session as QemuSession);
        return booted;
      },
    };
    return { vm, finish: inner.finish };
  };
}
