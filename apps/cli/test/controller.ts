import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { startController, vmfarm, type Controller } from './serve-helpers';

/**
 * A controller process for the tests of one file: started before them (data under `dir`), stopped
 * after them, `dir` removed. `admin` is its admin token (VMFARM_ADMIN_TOKEN).
 */
export function controllerForTests(stem: string) {
  const dir = mkdtempSync(join(tmpdir(), `vmfarm-cli-${stem}-`));
  const admin = `vmf_${randomBytes(32).toString('base64url')}`;
  let controller: Controller | undefined;
  before(async () => {
    controller = await startController(join(dir, 'data'), admin);
  });
  after(async () => {
    await controller?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = () => controller!.url;
  return {
    dir,
    admin,
    url,
    /** Runs the CLI against the controller with `token` as VMFARM_TOKEN. */
    runAs: (token: string, ...args: string[]) =>
      vmfarm(args, { ...process.env, VMFARM_CONTROLLER: url(), VMFARM_TOKEN: token }),
  };
}
