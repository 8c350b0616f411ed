import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT } from '@vmfarm/protocol';
import { CommandError } from './failure';
import { UsageError } from './usage';

/**
 * The compiled entry file of a sibling app. The CLI starts apps as processes and never imports them;
 * this file is apps/cli/dist/src/apps.js, so they live at apps/<app>/dist/src/main.js.
 */
export function appEntry(app: 'controller' | 'agent'): string {
  const entry = join(__dirname, '..', '..', '..', app, 'dist', 'src', 'main.js');
  if (!existsSync(entry))
    throw new CommandError(
      `the ${app} is not built (${entry} is missing); run \`npm run build\` in the repository`,
      EXIT.infrastructure,
    );
  return entry;
}

/** The controller URL from --controller, else VMFARM_CONTROLLER, else the `vmfarm serve` default. */
export function controllerUrl(flag: string | undefined): string {
  const url = flag ?? process.env.VMFARM_CONTROLLER ?? 'http://127.0.0.1:8700';
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
  } catch {
    throw new UsageError(`--controller must be an http(s) URL (got '${url}')`);
  }
  return url.replace(/\/+$/, '');
}

/**
 * The API token from --token, else VMFARM_TOKEN, else the admin token the embedded farm
 * (`vmfarm serve`, `npm run farm`) wrote to its data directory ($VMFARM_DATA, default ./.vmfarm),
 * so that a local farm needs no set-up step.
 */
export function apiToken(flag: string | undefined): string {
  const given = flag ?? (process.env.VMFARM_TOKEN || undefined);
  if (given !== undefined) return given;
  const file = join(resolve(process.env.VMFARM_DATA || '.vmfarm'), 'admin.token');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw new UsageError('no token: set VMFARM_TOKEN or pass --token');
  }
}
