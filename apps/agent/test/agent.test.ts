import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { redisConnection } from '@vmfarm/host';
import { Queue, Worker } from 'bullmq';
import { queueName, refusalsOf, type RunJobData, type VerdictRecord } from '@vmfarm/protocol';
import type { Suite } from '@vmfarm/suites';
import { runAgent } from '../src/agent';
import { HandedBack, runAttempt, type AttemptDeps } from '../src/attempt';
import { ControllerClient } from '../src/client';
import { RunningAttempts } from '../src/cancels';
import { ImageCache } from '../src/image-cache';
import { jobProcessor } from '../src/jobs';
import { CoreBudget, coresOf, placeHere } from '../src/placement';
import { probeCapabilities, probeQemu } from '../src/probes';
import { qemuVmRun } from '../src/qemu-vm';
import type { TargetProfile } from '@vmfarm/protocol';
import { TargetRefusedError } from '@vmfarm/session';
import { probeHost, type HostProbe } from '@vmfarm/targets';
import { findSuite } from '../src/suites';

const TOKEN = `vmf_${'t'.repeat(43)}`;
const SHA = 'a'.repeat(64);
const job: RunJobData = {
  runId: 'r',
  matrixId: 'm',
  suite: 'fake',
  target: { id: 'static', kind: 'static', description: '', arch: ['aarch64'] },
  image: { sha256: SHA, size: 512, format: 'raw', arch: 'aarch64' },
};
const pass: VerdictRecord = {
  suite: 'fake',
  clause: 'IMG-GPT',
  level: 'MUST',
  verdict: 'PASS',
  message: 'ok',
  evidence: {},
};

function suite(run: Suite['run']): Suite {
  return {
    id: 'fake',
    title: 'fake',
    subject: 'image',
    clauses: ['IMG-GPT', 'IMG-FW-NOT-BUNDLED'],
    targetKinds: ['static'],
    run,
  };
}

const deps = (s: Suite | undefined, over: Partial<AttemptDeps> = {}): AttemptDeps => ({
  agentId: () => 'agent',
  findSuite: () => s,
  fetchImage: async () => '/image',
  faultDelayMs: 0,
  ...over,
});

describe('one attempt', () => {
  it('reports the suite verdicts and what it learnt of the image', async () => {
    const result = await runAttempt(
      job,
      new AbortController().signal,
      deps(
        suite(async (ctx) => ({
          verdicts: [{ ...pass, evidence: { path: ctx.imagePath } }],
          image: { format: 'raw', arch: 'aarch64' },
        })),
      ),
    );
    assert.deepEqual(result.verdicts, [{ ...pass, evidence: { path: '/image' } }]);
    assert.deepEqual(result.image, { format: 'raw', arch: 'aarch64' });
    assert.equal(result.error, undefined);
  });

  it('turns an exception from the suite or the host into ERROR for every clause, never FAIL or PASS', async () => {
    const broken = suite(async () => {
      throw new Error('disk on fire');
    });
    for (const d of [
      deps(broken),
      deps(
        suite(async () => ({ verdicts: [pass], image: { format: 'raw', arch: null } })),
        { fetchImage: async () => Promise.reject(new Error('404 gone')) },
      ),
    ]) {
      const result = await runAttempt(job, new AbortController().signal, d);
      assert.deepEqual(
        result.verdicts.map((v) => [v.clause, v.level, v.verdict]),
        [
          ['IMG-GPT', 'MUST', 'ERROR'],
          ['IMG-FW-NOT-BUNDLED', 'SHOULD', 'ERROR'],
        ],
      );
      assert.match(result.error!, /disk on fire|404 gone/);
    }
    const unknown = await runAttempt(job, new AbortController().signal, deps(undefined));
    // One verdict for the suite the registry does not know, as the controller records one too.
    assert.deepEqual(
      unknown.verdicts.map((v) => [v.clause, v.verdict]),
      [['(suite)', 'ERROR']],
    );
    assert.match(unknown.error!, /not in this agent's registry/);
  });

  it('an attempt over its limit ends ERROR at the limit, with its VMs closed, even if the suite never returns', async () => {
    let closed = 0;
    const hangs = suite(() => new Promise(() => {})); // a suite that never settles
    const result = await runAttempt(
      { ...job, target: { ...job.target, stageLimits: { attempt: 1 } } },
      new AbortController().signal,
      deps(hangs, {
        liveVm: () => ({
          vm: { boot: () => Promise.reject(new Error('unused')) },
          finish: async () => (closed++, []),
        }),
      }),
    );
    assert.deepEqual(
      result.verdicts.map((v) => [v.clause, v.verdict]),
      [
        ['IMG-GPT', 'ERROR'],
        ['IMG-FW-NOT-BUNDLED', 'ERROR'],
      ],
    );
    assert.equal(
      result.error,
      'AttemptTimeoutError: the attempt overran its limit of 1 s; its VMs were closed',
    );
    assert.equal(closed, 1);
  });

  it('an abort because the agent stops hands the attempt back instead of reporting', async () => {
    const abort = new AbortController();
    const pending = runAttempt(
      job,
      abort.signal,
      deps(
        suite(async () => ({ verdicts: [pass], image: { format: 'raw', arch: null } })),
        { faultDelayMs: 600_000 },
      ),
    );
    abort.abort(new HandedBack('stopping'));
    await assert.rejects(pending, HandedBack);
  });

  it('finds the suites of the registry', () => {
    assert.equal(findSuite('static')?.id, 'static');
    assert.equal(findSuite('nope'), undefined);
  });
});

describe('capability probes', () => {
  it('serves the kinds whose probe succeeds and shows why the others fail', async () => {
    const caps = await probeCapabilities(2, [
      { kind: 'static', needs: 'nothing', probe: async () => ({ ok: true, details: { v: 1 } }) },
      {
        kind: 'static',
        needs: 'a broken probe',
        probe: async () => {
          throw new Error('no such binary');
        },
      },
    ]);
    assert.deepEqual(caps.targetKinds, ['static']);
    assert.equal(caps.concurrency, 2);
    assert.deepEqual(caps.probes.static, { ok: false, needs: 'a broken probe', error: 'no such binary' });
  });
});

describe('qemu on this agent', () => {
  const kvm = {
    id: 'kvm',
    kind: 'qemu',
    description: '',
    arch: ['aarch64'],
    binary: 'qemu-system-aarch64',
    accel: 'kvm',
    cpu: 'host',
    gic: 3,
    acpi: 'off',
    memoryMiB: 1024,
    smp: 1,
    console: 'pl011',
    hotplugPorts: 0,
    firmwareCode: 'AAVMF_CODE.fd',
    firmwareVars: 'AAVMF_VARS.fd',
  } as const satisfies TargetProfile;
  const host = (arm64: boolean): HostProbe => ({
    hostArch: arm64 ? 'arm64' : 'x64',
    binaries: {
      'qemu-system-aarch64': { path: '/usr/bin/qemu-system-aarch64', version: '7.2' },
      'qemu-img': { path: '/usr/bin/qemu-img', version: '7.2' },
    },
    firmware: { 'AAVMF_CODE.fd': '/fw/AAVMF_CODE.fd', 'AAVMF_VARS.fd': '/fw/AAVMF_VARS.fd' },
    files: {},
    kvm: arm64
      ? { device: true, usable: true, arm64: true }
      : { device: true, usable: true, arm64: false, reason: 'x64 host' },
  });
  it('runs a profile its host accepts, with the host paths it names looked at now; refuses the others with why', () => {
    const tcg = { ...kvm, accel: 'tcg', cpu: 'cortex-a57' } as const;
    const ok = placeHere({ ...job, target: tcg }, host(false));
    assert.ok(ok.ok && ok.host?.firmware['AAVMF_CODE.fd'] === '/fw/AAVMF_CODE.fd');
    const refused = placeHere({ ...job, target: kvm }, host(false));
    assert.ok(!refused.ok && /KVM cannot run an arm64 guest here: x64 host/.test(refused.reason));
    assert.deepEqual(placeHere({ ...job, target: tcg }, undefined), {
      ok: false,
      reason: 'qemu was not probed',
    });
    const lab = placeHere(
      { ...job, target: { ...tcg, firmwareCode: '/nonexistent/lab/CODE.fd' } },
      host(false),
    );
    assert.ok(!lab.ok && /\/nonexistent\/lab\/CODE\.fd is missing/.test(lab.reason), JSON.stringify(lab));
    assert.deepEqual(placeHere(job, undefined), { ok: true, host: undefined }, 'static runs anywhere');
  });

  it('gives a live attempt as many cores as its VM has vCPUs, a static one none', async () => {
    assert.equal(coresOf({ ...job, target: { ...kvm, smp: 2 } }, 4), 2);
    assert.equal(coresOf({ ...job, target: { ...kvm, smp: 8 } }, 4), 4, 'at most every core');
    assert.equal(coresOf(job, 4), 0);
    const budget = new CoreBudget(2);
    const order: string[] = [];
    const one = await budget.take(1);
    const two = budget.take(2).then((release) => (order.push('two'), release));
    // First come, first served: a later one-core attempt waits behind the two-core one.
    const three = budget.take(1).then((release) => (order.push('three'), release));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, []);
    one();
    one(); // releasing twice gives nothing back twice
    (await two)();
    (await three)();
    assert.deepEqual(order, ['two', 'three']);
    await assert.rejects(budget.take(3), /3 cores asked of a budget of 2/);
    // A static check holds no core: it never waits behind live attempts.
    const busy = await budget.take(2);
    const waiting = budget.take(1);
    (await budget.take(0))();
    busy();
    (await waiting)();
  });

  it('hands a job its host refuses back through the real queue, naming why in the job, and never starts an attempt', async () => {
    const redisUrl = process.env.REDIS_URL;
    if (!redisUrl) throw new Error('REDIS_URL is not set: run `npm test` or export REDIS_URL');
    const calls: string[] = [];
    const controller = await serve((req, res) => {
      calls.push(`${req.method} ${req.url}`);
      res.statusCode = 500;
      res.end('{"message":"no call expected"}');
    });
    const prefix = `placement${process.pid}`;
    const connection = redisConnection(redisUrl);
    const queue = new Queue<RunJobData>(queueName('qemu'), { connection, prefix });
    const client = new ControllerClient(controller.url, TOKEN);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmfarm-placement-'));
    const worker = new Worker<RunJobData>(
      queueName('qemu'),
      jobProcessor({
        client,
        cache: new ImageCache(dir, client),
        agentId: () => 'x86-agent',
        host: host(false),
        emulatorHost: undefined,
        cores: new CoreBudget(2),
        workDir: dir,
        faultDelayMs: 0,
        stopping: new AbortController().signal,
        running: new RunningAttempts(),
        log: () => undefined,
      }),
      { connection, prefix },
    );
    try {
      const kvmJob: RunJobData = { ...job, runId: `kvm-${process.pid}`, target: kvm };
      await queue.add('run', kvmJob, { jobId: kvmJob.runId });
      let taken;
      do {
        await new Promise((r) => setTimeout(r, 50));
        taken = await queue.getJob(kvmJob.runId);
      } while (!taken || (await taken.getState()) !== 'delayed');
      const handed = await queue.getJob(kvmJob.runId);
      assert.deepEqual(refusalsOf(handed?.progress), {
        'x86-agent': 'KVM cannot run an arm64 guest here: x64 host',
      });
      assert.deepEqual(calls, [], 'no attempt started, nothing reported');
    } finally {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await controller.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('probes the bundled profiles: which run here and why the others do not', async () => {
    const result = await probeQemu();
    const details = result.details as {
      accepted: string[];
      refused: Record<string, string>;
      host: HostProbe;
    };
    assert.equal(result.ok, details.accepted.length > 0);
    assert.ok('qemu-aarch64-kvm' in details.refused || details.host.kvm.arm64);
    if (!details.host.kvm.arm64)
      assert.match(details.refused['qemu-aarch64-kvm'], /KVM cannot run an arm64 guest/);
  });

  it('refuses to give a static job a VM', () => {
    assert.throws(() => qemuVmRun(job, 1, '/image', '/tmp', host(false)), /not a qemu target/);
  });

  it('never reads a host file a profile names that the host does not offer as firmware', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-names-'));
    try {
      const image = path.join(work, 'disk.img');
      fs.writeFileSync(image, Buffer.alloc(4096));
      const probe = await probeHost({ firmwareDirs: [work] });
      for (const stolen of ['passwd', 'disk.img/../../../etc/passwd']) {
        const target = { ...kvm, accel: 'tcg', cpu: 'cortex-a57', firmwareVars: stolen } as const;
        const run = qemuVmRun({ ...job, target }, 1, image, work, probe);
        await assert.rejects(run.vm.boot(), (err: Error) => {
          assert.ok(err instanceof TargetRefusedError, String(err));
          assert.match(
            err.message,
            new RegExp(
              `firmware variables template ${stolen.replace(/[./]/g, '\\$&')} is not offered by this host`,
            ),
          );
          return true;
        });
        const artifacts = await run.finish();
        assert.deepEqual(
          artifacts.map((a) => a.name).filter((n) => n.includes('vars')),
          [],
        );
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

async function serve(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('image cache', () => {
  it('downloads once, verifies the sha256, and keeps nothing corrupt', async () => {
    const good = Buffer.alloc(4096, 9);
    const goodSha = createHash('sha256').update(good).digest('hex');
    let requests = 0;
    const server = await serve((req, res) => {
      requests++;
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.statusCode = 401;
        res.end('{"message":"invalid or revoked token"}');
        return;
      }
      res.end(req.url?.includes(goodSha) ? good : Buffer.from('tampered'));
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmfarm-cache-'));
    try {
      const cache = new ImageCache(dir, new ControllerClient(server.url, TOKEN));
      const file = await cache.fetch(goodSha);
      assert.ok(fs.readFileSync(file).equals(good));
      await cache.fetch(goodSha);
      assert.equal(requests, 1, 'a cache hit skips the download');
      await assert.rejects(cache.fetch(SHA), /corrupt/);
      assert.deepEqual(fs.readdirSync(path.join(dir, SHA.slice(0, 2))), []);
      const refused = new ImageCache(dir, new ControllerClient(server.url, 'vmf_wrong'));
      await assert.rejects(
        refused.fetch('b'.repeat(64)),
        /the controller refused the token: invalid or revoked/,
      );
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('registration', () => {
  it('retries while the controller is unreachable, registers again when forgotten, stops cleanly', async () => {
    const redisUrl = process.env.REDIS_URL;
    if (!redisUrl) throw new Error('REDIS_URL is not set: run `npm test` or export REDIS_URL');
    // A port nobody listens on yet.
    const probe = await serve(() => undefined);
    const port = new URL(probe.url).port;
    await probe.close();
    const lines: string[] = [];
    let server: Awaited<ReturnType<typeof serve>> | undefined;
    const starting = runAgent({
      controllerUrl: `http://127.0.0.1:${port}`,
      token: TOKEN,
      log: (l) => {
        lines.push(l);
        if (lines.length === 1)
          void (async () => {
            let registrations = 0;
            const s = http.createServer((req, res) => {
              res.setHeader('content-type', 'application/json');
              assert.equal(req.headers.authorization, `Bearer ${TOKEN}`, req.url);
              // The controller forgets the agent once (a fresh database): it must register again.
              if (req.url?.endsWith('/heartbeat')) {
                res.statusCode = req.url.includes('agent-1') ? 404 : 200;
                res.end(JSON.stringify({ ok: true, cancel: [] }));
                return;
              }
              registrations++;
              res.statusCode = 201;
              res.end(
                JSON.stringify({
                  id: `agent-${registrations}`,
                  redisUrl,
                  queuePrefix: `agenttest${process.pid}`,
                  heartbeatSeconds: 1,
                }),
              );
            });
            s.listen(Number(port), '127.0.0.1');
            server = { url: '', close: () => new Promise((r) => s.close(() => r())) };
          })();
      },
    });
    const agent = await starting;
    assert.equal(agent.id, 'agent-1');
    assert.match(
      lines[0],
      /controller http:\/\/127\.0\.0\.1:\d+ unreachable \(ECONNREFUSED\); retrying in 0\.5s/,
    );
    while (agent.id === 'agent-1') await new Promise((r) => setTimeout(r, 100));
    assert.equal(agent.id, 'agent-2');
    assert.ok(lines.includes('vmfarm agent: re-registered as agent-2'), lines.join('\n'));
    await agent.stop();
    await server?.close();
  });

  it('stops with one clear line when the controller refuses its token', async () => {
    const server = await serve((_req, res) => {
      res.statusCode = 401;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ statusCode: 401, message: 'invalid or revoked token' }));
    });
    try {
      await assert.rejects(
        runAgent({ controllerUrl: server.url, token: TOKEN, log: () => undefined, probes: [] }),
        { message: 'the controller refused the token: invalid or revoked token' },
      );
    } finally {
      await server.close();
    }
  });
});
