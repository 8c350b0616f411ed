import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { redisConnection } from '@vmfarm/host';
import {
  queueName,
  type AgentCapabilities,
  type AgentView,
  type MatrixView,
  type RunJobProgress,
  type RunView,
} from '@vmfarm/protocol';
import { probeHost, type HostProbe } from '@vmfarm/targets';
import { Queue } from 'bullmq';
import { resolveConfig } from '../src/config';
import { unplaceable, type PlacementAgent } from '../src/matrices/placement';
import { loadBaseProfiles } from '../src/targets/targets.service';
import { authed } from './helpers/auth';
import { eventually, requireEnv, STORES, tempDir } from './helpers/env';
import { Farm } from './helpers/farm';

/** The profiles every farm has (deploy/targets). */
const bundled = new Map(
  loadBaseProfiles(resolveConfig({ redisUrl: '', dataDir: '.' }).targetsDir).map((p) => [p.id, p]),
);
const tcg = bundled.get('qemu-aarch64-tcg')!;
const kvm = bundled.get('qemu-aarch64-kvm')!;

/** This host's real probe, as on a host without KVM and as on an arm64 host with it. */
let withoutKvm: HostProbe;
let armKvm: HostProbe;
before(async () => {
  const here = await probeHost();
  withoutKvm = { ...here, kvm: { device: false, usable: false, arm64: false, reason: '/dev/kvm is absent' } };
  armKvm = { ...here, hostArch: 'arm64', kvm: { device: true, usable: true, arm64: true } };
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
const NO_KVM = 'KVM cannot run an arm64 guest here: /dev/kvm is absent';

describe('placement: can any online agent take a run of this target?', () => {
  it('yes when one online agent’s probe accepts the profile; otherwise why none can', () => {
    assert.equal(unplaceable(kvm, [agent('me', withoutKvm), agent('arm', armKvm)]), undefined);
    assert.equal(unplaceable(kvm, []), 'no agent is online');
    assert.equal(unplaceable(kvm, [agent('a', withoutKvm), agent('b', withoutKvm)]), NO_KVM);
    assert.equal(
      unplaceable(kvm, [agent('a', withoutKvm), agent('old', undefined), agent('s', undefined, ['static'])]),
      `a: ${NO_KVM}; old: qemu was not probed; s: it does not serve qemu targets`,
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
    assert.equal(unplaceable(lab, [agent('a', withoutKvm)]), undefined);
    assert.equal(
      unplaceable(lab, [agent('a', withoutKvm)], { a: 'firmware code /srv/lab/CODE.fd is missing' }),
      'firmware code /srv/lab/CODE.fd is missing',
    );
    const probed = { ...withoutKvm, files: { '/srv/lab/CODE.fd': false } };
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
    let farm: Farm;
    let agentId: string;
    let sha: string;
    let queue: Queue;
    const run = async (id: string) => (await farm.http().get(`/api/runs/${id}`).expect(200)).body as RunView;
    const jobOf = (runId: string) => queue.getJob(runId);
    const submit = async (targets: string[]) =>
      (
        await farm
          .http()
          .post('/api/matrices')
          .send({ images: [sha], targets, suites: ['boot'] })
          .expect(201)
      ).body as MatrixView;

    before(async () => {
      // The registered agent stays online for the whole test without heartbeats.
      farm = await new Farm(tempDir(`placement-${store.name}`), store, {
        placementGraceSeconds: 1,
        heartbeatSeconds: 300,
      }).start();
      queue = new Queue(queueName('qemu'), {
        connection: redisConnection(requireEnv('REDIS_URL')),
        prefix: farm.queuePrefix,
      });
      agentId = (
        await authed(farm.url, farm.agentToken!)
          .post('/api/agents')
          .send({ name: 'x86 rack', host: 'rack', version: '0', capabilities: caps(withoutKvm) })
          .expect(201)
      ).body.id as string;
      sha = (
        await farm
          .http()
          .put('/api/images?name=guest&arch=aarch64')
          .set('content-type', 'application/octet-stream')
          .send(Buffer.alloc(4096, 3))
          .expect(201)
      ).body.sha256 as string;
    });
    after(async () => {
      await queue?.close();
      await farm?.close();
    });

    it('KVM on an x86 farm: SKIP for each clause with the probe’s reason, the job out of the queue; TCG waits', async () => {
      const agents = (await farm.http().get('/api/agents').expect(200)).body as AgentView[];
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
        `target qemu-aarch64-kvm cannot run on any agent of this farm: ${NO_KVM}`,
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
      await farm.http().post(`/api/matrices/${matrix.id}/cancel`).send({}).expect(200);
    });

    it('queues a matrix’s longest runs first, for agents running attempts side by side', async () => {
      const matrix = (
        await farm
          .http()
          .post('/api/matrices')
          .send({
            images: [sha],
            targets: ['qemu-aarch64-tcg'],
            suites: ['boot', 'timer', 'nvram', 'console'],
          })
          .expect(201)
      ).body as MatrixView;
      const suiteOf = new Map(matrix.cells.map((c) => [c.runId, c.suite]));
      const next = (await queue.getJobs(['wait'], 0, -1, true)).filter((j) => suiteOf.has(j.id!));
      assert.deepEqual(
        next.map((j) => suiteOf.get(j.id!)),
        ['nvram', 'console', 'timer', 'boot'],
      );
      await farm.http().post(`/api/matrices/${matrix.id}/cancel`).send({}).expect(200);
    });

    it('a profile naming a host path waits until the agents that could take it have refused it', async () => {
      await farm
        .http()
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
