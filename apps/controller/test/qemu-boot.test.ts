import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import {
  matrixReportSchema,
  runViewSchema,
  type AgentView,
  type MatrixView,
  type TargetProfile,
} from '@vmfarm/protocol';
import { eventually, STORES, tempDir } from './helpers/env';
import { Farm } from './helpers/farm';

/**
 * The qemu target kind end to end: real controller, real agent process, real QEMU (TCG) booting the
 * reference guest (PASS) and the corpus image without the removable-media path (FAIL in the
 * firmware's words); the KVM profile this x86 host refuses is a SKIP with the reason.
 */
const ROOT = path.resolve(__dirname, '../../../..');
const lastLine = (out: string) => out.trim().split('\n').pop()!.trim();
const build = (script: string, ...args: string[]) =>
  lastLine(
    execFileSync('bash', [path.join(ROOT, script), ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 1_800_000,
    }),
  );

describe('qemu targets and the boot suite, end to end (sqlite)', () => {
  let farm: Farm;
  let dir: string;
  let guest: string;
  let noRemovable: string;

  before(async () => {
    dir = tempDir('qemu-boot');
    guest = build('fixtures/guest/build.sh', 'aarch64', path.join(dir, 'guest'));
    noRemovable = path.join(build('fixtures/corpus/build.sh'), 'path-debian-only.raw');
    farm = await new Farm(dir, STORES[0]).start();
  });
  after(() => farm?.close());

  const upload = async (file: string, name: string): Promise<string> => {
    const gz = zlib.gzipSync(fs.readFileSync(file), { level: 1 });
    const res = await farm
      .http()
      .put(`/api/images?name=${name}&arch=aarch64`)
      .set('content-type', 'application/octet-stream')
      .send(gz);
    assert.ok(res.status === 201 || res.status === 200, res.text);
    return res.body.sha256 as string;
  };

  it('lists the bundled profiles, qemu ones resolved, and takes user profiles over them', async () => {
    const list = (await farm.http().get('/api/targets').expect(200)).body as TargetProfile[];
    const byId = new Map(list.map((t) => [t.id, t]));
    for (const id of [
      'static',
      'qemu-aarch64-tcg',
      'qemu-aarch64-kvm',
      'qemu-aarch32-tcg',
      'qemu-aarch32-on-aarch64',
    ])
      assert.ok(byId.has(id), id);
    const kvm = byId.get('qemu-aarch64-kvm')!;
    assert.equal(kvm.kind, 'qemu');
    assert.ok(kvm.kind === 'qemu' && kvm.accel === 'kvm' && kvm.firmwareCode === 'AAVMF_CODE.fd');

    const noPorts = await farm
      .http()
      .post('/api/targets')
      .send({ id: 'tcg-no-hotplug', extends: 'qemu-aarch64-tcg', hotplugPorts: 0 })
      .expect(201);
    assert.deepEqual([noPorts.body.kind, noPorts.body.hotplugPorts, noPorts.body.gic], ['qemu', 0, 3]);
    const ms = await farm
      .http()
      .post('/api/targets')
      .send({
        id: 'tcg-secure-boot',
        extends: 'qemu-aarch64-tcg',
        firmwareVars: 'AAVMF_VARS.ms.fd',
      })
      .expect(201);
    assert.equal(ms.body.firmwareVars, 'AAVMF_VARS.ms.fd');
    const bad = await farm
      .http()
      .post('/api/targets')
      .send({ id: 'bad-gic', extends: 'qemu-aarch64-tcg', gic: 4, smp: 0 })
      .expect(400);
    assert.deepEqual(
      (bad.body.errors as { path: string }[]).map((e) => e.path),
      ['body.gic', 'body.smp'],
    );
    await farm.http().post('/api/targets').send({ id: 'static-qemu', extends: 'static', gic: 3 }).expect(400);
  });

  it('refuses the boot suite on the static target; `all` there still means the static suite only', async () => {
    const sha = await upload(noRemovable, 'no-removable');
    const refused = await farm
      .http()
      .post('/api/matrices')
      .send({ images: [sha], targets: ['static'], suites: ['boot'] })
      .expect(400);
    assert.match(refused.body.errors[0].message, /suite boot cannot run on target static .*needs qemu/);
    const all = await farm
      .http()
      .post('/api/matrices')
      .send({ images: [sha], targets: ['static'], suites: ['all'] })
      .expect(201);
    assert.deepEqual(
      (all.body as MatrixView).cells.map((c) => c.suite),
      ['static'],
    );
  });

  it('boots on QEMU: PASS for the reference guest, FAIL in the firmware words, SKIP for KVM here', async () => {
    const agent = farm.agent('qemu');
    const agentId = await agent.ready;
    const agents = (await farm.http().get('/api/agents').expect(200)).body as AgentView[];
    const caps = agents.find((a) => a.id === agentId)!.capabilities;
    assert.ok(caps.targetKinds.includes('qemu'), agent.output());
    const qemu = caps.probes.qemu as { accepted: string[]; refused: Record<string, string> };
    assert.ok(qemu.accepted.includes('qemu-aarch64-tcg'));
    assert.match(qemu.refused['qemu-aarch64-kvm'], /KVM cannot run an arm64 guest here/);

    const good = await upload(guest, 'reference-guest');
    const bad = await upload(noRemovable, 'no-removable');
    const created = await farm
      .http()
      .post('/api/matrices')
      .send({ images: [good, bad], targets: ['qemu-aarch64-tcg', 'qemu-aarch64-kvm'], suites: ['boot'] })
      .expect(201);
    const matrix = created.body as MatrixView;
    assert.equal(matrix.progress.total, 4);
    await eventually(async () => {
      const m = (await farm.http().get(`/api/matrices/${matrix.id}`).expect(200)).body as MatrixView;
      return m.state === 'done' && m;
    });
    const report = matrixReportSchema.parse(
      (await farm.http().get(`/api/matrices/${matrix.id}/report`).expect(200)).body,
    );
    const cell = (sha: string, target: string) => {
      const c = report.cells.find((x) => x.image.sha256 === sha && x.target === target)!;
      return { ...c, v: Object.fromEntries(c.verdicts.map((x) => [x.clause, x])) };
    };
    const dump = () => `${JSON.stringify(report.cells, null, 1)}\n${agent.output()}`;

    const pass = cell(good, 'qemu-aarch64-tcg');
    assert.deepEqual(
      pass.verdicts.map((x) => `${x.clause}:${x.verdict}`),
      ['FW-UEFI:PASS', 'FW-DEFAULT-BOOT:PASS', 'IMG-NO-VARS:PASS'],
      dump(),
    );
    assert.match(pass.v['FW-UEFI'].message, /UEFI firmware/);
    const stages = pass.v['IMG-NO-VARS'].evidence.stagesMs as Record<string, number>;
    for (const stage of ['vmStarted', 'firstOutput', 'firmware', 'loader', 'ready'])
      assert.ok(stage in stages, stage);
    assert.ok(stages.firmware <= stages.loader && stages.loader <= stages.ready, JSON.stringify(stages));
    const run = runViewSchema.parse((await farm.http().get(`/api/runs/${pass.runId}`).expect(200)).body);
    assert.equal(run.verdict, 'PASS');
    assert.deepEqual(run.artifacts.map((a) => a.name).sort(), [
      'console.log',
      'qemu.log',
      'qmp.jsonl',
      'vars.fd.gz',
    ]);
    assert.ok(run.artifacts.every((a) => a.size > 0 && a.size < 16 * 1024 * 1024));

    // The image fails its static checks (no removable path): its boot failure is the image's FAIL,
    // and the firmware is not judged on it (issue 9: the target's record stays clean).
    const fail = cell(bad, 'qemu-aarch64-tcg');
    assert.equal(fail.v['FW-DEFAULT-BOOT'].verdict, 'SKIP', dump());
    assert.match(
      fail.v['FW-DEFAULT-BOOT'].message,
      /^not judged: the image failed IMG-REMOVABLE-PATH.* \(static checks\), so ".*BdsDxe: failed to load Boot0001 .*: Not Found.*" is the image's doing$/,
    );
    assert.equal(fail.v['IMG-NO-VARS'].verdict, 'FAIL');
    assert.match(fail.v['IMG-NO-VARS'].message, /Not Found/);
    assert.deepEqual((fail.v['IMG-NO-VARS'].evidence.imageChecks as { passed: boolean }).passed, false);
    assert.deepEqual(pass.v['FW-UEFI'].evidence.imageChecks, { passed: true, failed: [] });
    assert.equal(fail.attempts, 1, 'FAIL is never retried');

    for (const sha of [good, bad]) {
      const skip = cell(sha, 'qemu-aarch64-kvm');
      assert.ok(
        skip.verdicts.every((x) => x.verdict === 'SKIP'),
        dump(),
      );
      assert.match(skip.verdicts[0].message, /KVM cannot run an arm64 guest here/);
    }
    assert.deepEqual(fs.readdirSync(path.join(dir, 'agent-work')), [], 'instance dirs are removed');
  });
});
