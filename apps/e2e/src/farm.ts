import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startChild, type Supervised } from '@vmfarm/host';
import { imageResourceSchema, matrixViewSchema, type MatrixView } from '@vmfarm/protocol';

/** A whole farm for browser tests: `vmfarm serve` (controller, SQLite, agents) and agents started later. */

export const REPO_ROOT = join(__dirname, '..', '..', '..', '..');
const VMFARM_BIN = join(REPO_ROOT, 'apps', 'cli', 'bin', 'vmfarm.js');
export const DASHBOARD_DIST = join(REPO_ROOT, 'apps', 'dashboard', 'dist');

export interface Farm {
  url: string;
  /** The admin token the farm was started with (VMFARM_ADMIN_TOKEN): the API and the browser use it. */
  adminToken: string;
  /** What the farm's processes printed, for failure messages. */
  log: string[];
  /** Another local agent, for tests that hold runs queued until it starts. */
  startAgent(): Promise<Supervised>;
  api: Api;
  stop(): Promise<void>;
}

export class FarmError extends Error {}

/** `vmfarm serve` on a free port with a fresh data dir; REDIS_URL when set (a private redis otherwise). */
export async function startFarm(dataDir: string, options: { agents: number }): Promise<Farm> {
  if (!existsSync(join(DASHBOARD_DIST, 'index.html')))
    throw new FarmError(`the dashboard is not built (${DASHBOARD_DIST}): npm run build -w @vmfarm/dashboard`);
  const adminToken = `vmf_${randomBytes(32).toString('base64url')}`;
  const log: string[] = [];
  const env = {
    ...process.env,
    DATABASE_URL: '',
    VMFARM_QUEUE_PREFIX: `e2e-${randomBytes(4).toString('hex')}`,
    VMFARM_ADMIN_TOKEN: adminToken,
    VMFARM_DASHBOARD_DIR: DASHBOARD_DIST,
  };
  const serve = await startChild({
    name: 'serve',
    command: process.execPath,
    args: [
      VMFARM_BIN,
      'serve',
      '--port',
      String(await freePort()),
      '--data',
      dataDir,
      '--agents',
      String(options.agents),
    ],
    env,
    ready: /^vmfarm farm ready at (\S+)$/,
    readyTimeoutMs: 120_000,
    output: (line) => log.push(line),
    graceMs: 60_000,
  });
  const url = serve.match[1];
  const agents: Supervised[] = [];
  return {
    url,
    adminToken,
    log,
    api: new Api(url, adminToken),
    startAgent: async () => {
      const agent = await startChild({
        name: `agent-${agents.length + 1}`,
        command: process.execPath,
        args: [VMFARM_BIN, 'agent', '--controller', url, '--name', `e2e-${agents.length + 1}`],
        // An admin token may do what an agent does; serve's own agents get an agent token.
        env: { ...env, VMFARM_TOKEN: adminToken },
        ready: /vmfarm agent (\S+) ready/,
        readyTimeoutMs: 60_000,
        output: (line) => log.push(line),
        graceMs: 40_000,
      });
      agents.push(agent);
      return agent;
    },
    stop: async () => {
      await Promise.all(agents.map((a) => a.stop()));
      await serve.stop();
    },
  };
}

/** The REST calls the tests make directly (what a CI script or the CLI would do). */
export class Api {
  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(this.url + path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new FarmError(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  /**
   * PUT /api/images with metadata; returns the sha256. Like `vmfarm submit`: bytes the controller
   * already has keep their stored metadata, so what was asked for is then PATCHed onto them (a
   * caller that may not change that image, e.g. a vendor uploading public bytes, fails here loudly
   * instead of testing an image under another name).
   */
  async upload(file: string, meta: { name: string; version?: string; tags?: string[] }): Promise<string> {
    const q = new URLSearchParams({ name: meta.name });
    if (meta.version) q.set('version', meta.version);
    if (meta.tags) q.set('tags', meta.tags.join(','));
    const res = await fetch(`${this.url}/api/images?${q}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/octet-stream' },
      body: readFileSync(file),
    });
    if (!res.ok) throw new FarmError(`upload ${file}: ${res.status} ${await res.text()}`);
    const image = imageResourceSchema.parse(await res.json());
    const patch = {
      ...(image.name !== meta.name ? { name: meta.name } : {}),
      ...(meta.version !== undefined && image.version !== meta.version ? { version: meta.version } : {}),
      ...(meta.tags !== undefined && meta.tags.join(',') !== image.tags.join(',') ? { tags: meta.tags } : {}),
    };
    if (res.status === 200 && Object.keys(patch).length > 0)
      await this.call('PATCH', `/api/images/${image.sha256}`, patch);
    return image.sha256;
  }

  /** Until the matrix is done (for scripts; the dashboard itself is told by server-sent events). */
  async finished(id: string, timeoutMs: number): Promise<MatrixView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = matrixViewSchema.parse(await this.call('GET', `/api/matrices/${id}`));
      if (m.state === 'done') return m;
      if (Date.now() > deadline) throw new FarmError(`matrix ${id} not done after ${timeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  async submit(images: string[], targets: string[], suites: string[]): Promise<MatrixView> {
    return matrixViewSchema.parse(await this.call('POST', '/api/matrices', { images, targets, suites }));
  }
}

/** One image of fixtures/corpus/build.sh's manifest.json. */
export interface CorpusImage {
  file: string;
  verdicts: Record<string, string>;
  /** Per clause, text its message or evidence must contain (case-insensitive). */
  mentions: Record<string, string>;
}

/** The static corpus (build.sh caches it by content hash, so this is instant after the first build). */
export function corpus(): { dir: string; image(file: string): CorpusImage & { path: string } } {
  const script = join(REPO_ROOT, 'fixtures', 'corpus', 'build.sh');
  const r = spawnSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0)
    throw new FarmError(`${script} failed:\n${r.stderr.trim().split('\n').slice(-5).join('\n')}`);
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { images: CorpusImage[] };
  return {
    dir,
    image(file) {
      const found = manifest.images.find((i) => i.file === file);
      if (!found) throw new FarmError(`no ${file} in the corpus manifest`);
      return { ...found, path: join(dir, file) };
    },
  };
}
