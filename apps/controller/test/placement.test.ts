import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { redisConnection } from '@vmfarm/host';
import {
  queueName,
  type AgentCapabilities,
  type AgentView,
  type MatrixView,
  type RunJobProgress,
  type RunView,
  type TargetProfile,
  type TokenCreated,
} from '@vmfarm/protocol';
import type { HostProbe } from '@vmfarm/targets';
import { Queue } from 'bullmq';
import { bootstrap, type RunningController } from '../src/app';
import { resolveConfig } from '../src/config';
import { unplaceable, type PlacementAgent } from '../src/matrices/placement';
import { ADMIN_TOKEN, authed } from './helpers/auth';
import { eventually, requireEnv, STORES, tempDir, uniqueName } from './helpers/env';
import { Farm } from './helpers/farm';

const x86 = (arm64 = false): HostProbe => ({
  hostArch: arm64 ? 'arm64' : 'x64',
  binaries: {
    'qemu-system-aarch64': { path: '/usr/bin/qemu-system-aarch64', version: '7.2' },
    'qemu-img': { path: '/usr/bin/qemu-img', version: '7.2' },
  },
  firmware: { 'AAVMF_CODE.fd': '/fw/AAVMF_CODE.fd', 'AAVMF_VARS.fd': '/fw/AAVMF_VARS.fd' },
  files: {},
  kvm: arm64
    ? { device: true, usable: true, arm64: true }
    : { device: true, usable: true, arm64: false, reason: '/dev/kvm serves x64 guests only' },
});
const caps = (probe: HostProbe | undefined, kinds = ['static', 'qemu']): AgentCapabilities =>
  ({
    targetKinds: kinds,
    probes: probe ? { qemu: { ok: true, host: probe } } : {},
    concurrency: 1,
  }) as AgentCapabilities;
const agent = (id: string, probe: HostProbe | undefined, kinds?: string[]): PlacementAgent => ({
  id,
  name: id,
  capabilities: caps(probe, kinds),
});
const tcg = {
  id: 'tcg',
  kind: 'qemu',
  description: '',
  arch: ['aarch64'],
  binary: 'qemu-system-aarch64',
  accel: 'tcg',
  cpu: 'cortex-a57',
  gic: 3,
  acpi: 'off',
  memoryMiB: 1024,
  smp: 1,
  console: 'pl011',
  hotplugPorts: 0,
  firmwareCode: 'AAVMF_CODE.fd',
  firmwareVars: 'AAVMF_VARS.fd',
} as const satisfies TargetProfile;
const kvm = { ...tcg, id: 'kvm', accel: 'kvm', cpu: 'host' } as const satisfies TargetProfile;

describe('placement: can any online agent take a run of this target?', () => {
  it('yes when one online agent’s probe accepts the profile; otherwise why none can', () => {
    assert.equal(unplaceable(kvm, [agent('me', x86()), agent('arm', x86(true))]), undefined);
    assert.equal(unplaceable(kvm, []), 'no agent is online');
    assert.equal(
      unplaceable(kvm, [agent('a', x86()), agent('b', x86())]),
      'KVM cannot run an arm64 guest here: /dev/kvm serves x64 guests only',
    );
    assert.equal(
      unplaceable(kvm, [agent('a', x86()), agent('old', undefined), agent('s', undefined, ['static'])]),
      'a: KVM cannot run an arm64 guest here: /dev/kvm serves x64 guests only; old: qemu was not probed; ' +
        's: it does not serve qemu targets',
    );
  });

  it('every agent runs static targets: a static run waits for one, never SKIP', () => {
    assert.equal(
      unplaceable({ id: 'static', kind: 'static', description: '', arch: ['aarch64'] }, []),
      undefined,
    );
  });

  it('a host path no probe looked at counts as present until the agent that took the job refuses it', () => {
    const lab = { ...tcg, firmwareCode: '/srv/lab/CODE.fd' };
    assert.equal(unplaceable(lab, [agent('a', x86())]), undefined);
    assert.equal(
      unplaceable(lab, [agent('a', x86())], { a: 'firmware code /srv/lab/CODE.fd is missing' }),
      'firmware code /srv/lab/CODE.fd is missing',
    );
    const probed = { ...x86(), files: { '/srv/lab/CODE.fd': false } };
    assert.match(unplaceable(lab, [agent('a', probed)]) ?? '', /\/srv\/lab\/CODE\.fd is missing/);
  });
});

/**
 * The controller's planner SKIPs a waiting run no online agent can take once its grace period is
 * over, and takes its job out of the queue. A real controller, real Redis (BullMQ), SQLite and
 * PostgreSQL; the agent registers through the API with the probe of a host without arm64 KVM.
 */
for (const store of STORES) {
  describe(`placement SKIPs what no online agent can run (${store.name})`, () => {
    let farm: RunningController;
    let dir: string;
    let drop: () => Promise<void>;
    let agentToken: TokenCreated;
    let agentId: string;
    let sha: string;
    const prefix = uniqueName('placement');
    const admin = () => authed(farm.url, ADMIN_TOKEN);
    const run = async (id: string) => (await admin().get(`/api/runs/${id}`).expect(200)).body as RunView;
    const queue = new Map<string, Queue>();
    const jobOf = (runId: string) => {
      if (!queue.has('qemu'))
        queue.set(
          'qemu',
          new Queue(queueName('qemu'), { connection: redisConnection(requireEnv('REDIS_URL')), prefix }),
        );
      return queue.get('qemu')!.getJob(runId);
    };
    const submit = async (targets: string[]) =>
      (
        await admin()
          .post('/api/matrices')
          .send({ images: [sha], targets, suites: ['boot'] })
          .expect(201)
      ).body as MatrixView;

    before(async () => {
      dir = tempDir(`placement-${store.name}`);
      const db = await store.create(dir);
      drop = db.drop;
      farm = await bootstrap(
        resolveConfig({
          redisUrl: requireEnv('REDIS_URL'),
          dataDir: dir,
          databaseUrl: db.databaseUrl,
          queuePrefix: prefix,
          adminToken: ADMIN_TOKEN,
          port: 0,
          placementGraceSeconds: 1,
          // The registered agent stays online for the whole test without heartbeats.
          heartbeatSeconds: 300,
        }),
      );
      agentToken = (await admin().post('/api/tokens').send({ name: 'rack', role: 'agent' }).expect(201))
        .body as TokenCreated;
      agentId = (
        await authed(farm.url, agentToken.token)
          .post('/api/agents')
          .send({ name: 'x86 rack', host: 'rack', version: '0', capabilities: caps(x86()) })
          .expect(201)
      ).body.id as string;
      sha = (
        await admin()
          .put('/api/images?name=guest&arch=aarch64')
          .set('content-type', 'application/octet-stream')
          .send(Buffer.alloc(4096, 3))
          .expect(201)
      ).body.sha256 as string;
    });
    after(async () => {
      for (const q of queue.values()) await q.close();
      await farm.close();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('KVM on an x86 farm: SKIP for each clause with the probe’s reason, the job out of the queue; TCG waits', async () => {
      const agents = (await admin().get('/api/agents').expect(200)).body as AgentView[];
      assert.deepEqual(
        agents.map((a) => [a.id, a.online]),
        [[agentId, true]],
      );
      const matrix = await submit(['qemu-aarch64-kvm', 'qemu-aarch64-tcg']);
      const [kvmCell, tcgCell] = ['qemu-aarch64-kvm', 'qemu-aarch64-tcg'].map(
        (t) => matrix.cells.find((c) => c.target === t)!,
      );
      const skipped = await eventually(async () => {
        const r = await run(kvmCell.runId);
        return r.state === 'done' && r;
      });
      assert.equal(skipped.verdict, 'SKIP');
      assert.deepEqual(
        skipped.verdicts.map((v) => [v.clause, v.verdict]),
        [
          ['FW-UEFI', 'SKIP'],
          ['FW-DEFAULT-BOOT', 'SKIP'],
          ['IMG-NO-VARS', 'SKIP'],
        ],
      );
      assert.equal(
        skipped.verdicts[0].message,
        'target qemu-aarch64-kvm cannot run on any agent of this farm: ' +
          'KVM cannot run an arm64 guest here: /dev/kvm serves x64 guests only',
      );
      assert.deepEqual(
        skipped.attempts.map((a) => [a.attempt, a.agentId, a.outcome]),
        [[1, null, 'SKIP']],
      );
      await eventually(async () => (await jobOf(kvmCell.runId)) === undefined);
      // The agent's probe accepts TCG: that run waits for it, its job still queued.
      const waiting = await run(tcgCell.runId);
      assert.equal(waiting.state, 'queued');
      assert.ok(await jobOf(tcgCell.runId));
      await admin().post(`/api/matrices/${matrix.id}/cancel`).send({}).expect(200);
    });

    it('a profile naming a host path waits until the agents that could take it have refused it', async () => {
      await admin()
        .post('/api/targets')
        .send({ id: 'lab-firmware', extends: 'qemu-aarch64-tcg', firmwareCode: '/srv/edk2/CODE.fd' })
        .expect(201);
      const matrix = await submit(['lab-firmware']);
      const runId = matrix.cells[0].runId;
      // Unprobed, so possibly there: several grace periods pass and the run still waits.
      const job = await eventually(async () => (await jobOf(runId)) ?? false);
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal((await run(runId)).state, 'queued');
      }
      // What the agent writes when it takes the job and its host has no such file.
      const progress: RunJobProgress = {
        refusedBy: { [agentId]: 'firmware code /srv/edk2/CODE.fd is missing' },
      };
      await job.updateProgress(progress);
      const skipped = await eventually(async () => {
        const r = await run(runId);
        return r.state === 'done' && r;
      });
      assert.equal(
        skipped.verdicts[0].message,
        'target lab-firmware cannot run on any agent of this farm: firmware code /srv/edk2/CODE.fd is missing',
      );
      await eventually(async () => (await jobOf(runId)) === undefined);
    });
  });
}

/**
 * An agent with concurrency 2 runs two attempts at once, and still every run is recorded once: one
 * attempt, one set of verdicts. Real agent process, real controller, real Redis (BullMQ), SQLite.
 */
describe('an agent running attempts side by side records each run once', () => {
  let farm: Farm;
  before(async () => {
    farm = await new Farm(tempDir('concurrency'), STORES[0]).start();
  });
  after(() => farm?.close());

  it('two at a time, never more, each run once', async () => {
    const images: string[] = [];
    for (let i = 0; i < 6; i++)
      images.push(
        (
          await farm
            .http()
            .put(`/api/images?name=disk-${i}&arch=aarch64`)
            .set('content-type', 'application/octet-stream')
            .send(Buffer.alloc(4096, i + 1))
            .expect(201)
        ).body.sha256 as string,
      );
    const matrix = (
      await farm
        .http()
        .post('/api/matrices')
        .send({ images, targets: ['static'], suites: ['static'] })
        .expect(201)
    ).body as MatrixView;
    // Queued before the agent starts, and each attempt held a while: the agent has work for both.
    const agent = farm.agent('pair', { VMFARM_AGENT_CONCURRENCY: '2', VMFARM_AGENT_FAULT_DELAY_MS: '1000' });
    const id = await agent.ready;
    const agents = (await farm.http().get('/api/agents').expect(200)).body as AgentView[];
    assert.equal(agents.find((a) => a.id === id)?.capabilities.concurrency, 2);
    await eventually(async () => {
      const m = (await farm.http().get(`/api/matrices/${matrix.id}`).expect(200)).body as MatrixView;
      return m.state === 'done';
    });
    const runs = await Promise.all(
      matrix.cells.map(
        async (c) => (await farm.http().get(`/api/runs/${c.runId}`).expect(200)).body as RunView,
      ),
    );
    const spans: [number, number][] = [];
    for (const r of runs) {
      assert.deepEqual(
        r.attempts.map((a) => [a.attempt, a.agentId]),
        [[1, id]],
        agent.output(),
      );
      const clauses = r.verdicts.map((v) => v.clause);
      assert.equal(new Set(clauses).size, clauses.length, `${r.id}: a clause recorded twice`);
      assert.ok(clauses.length > 0);
      const a = r.attempts[0];
      spans.push([Date.parse(a.startedAt!), Date.parse(a.finishedAt!)]);
    }
    // How many attempts were running at each start: 2 at some point, never 3.
    const overlap = spans.map(([s]) => spans.filter(([s2, f2]) => s2 <= s && s < f2).length);
    assert.equal(Math.max(...overlap), 2, JSON.stringify(spans));
    assert.equal((agent.output().match(/ reported/g) ?? []).length, runs.length, agent.output());
  });
});
