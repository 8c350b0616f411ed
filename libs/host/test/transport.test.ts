import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  LocalTransport,
  SshTransport,
  freePort,
  isAlive,
  openTransport,
  sleep,
  probeCapabilities,
  startLoopbackSshd,
  type HostTransport,
  type LoopbackSshd,
} from '../src';

let sshd: LoopbackSshd;
let ssh: SshTransport;
const local = new LocalTransport();
const work = mkdtempSync(join(tmpdir(), 'vmfarm-transport-'));

before(async () => {
  sshd = await startLoopbackSshd();
  ssh = await SshTransport.connect(sshd.url, { privateKey: sshd.privateKey, hostKey: sshd.hostKey });
});
after(async () => {
  await ssh?.close();
  await sshd?.stop();
  rmSync(work, { recursive: true, force: true });
});

const both = (): [string, HostTransport][] => [
  ['local', local],
  ['ssh', ssh],
];

test('exec: exit status, stdout and stderr apart, arguments reach the program unmangled', async () => {
  for (const [name, t] of both()) {
    const tricky = `it's "quoted" $HOME; *`;
    const r = await t.exec('sh', ['-c', 'printf "%s" "$1"; echo oops >&2; exit 3', 'sh', tricky]);
    assert.deepEqual(
      { code: r.code, stdout: r.stdout, stderr: r.stderr },
      { code: 3, stdout: tricky, stderr: 'oops\n' },
      name,
    );
    assert.equal((await t.exec('cat', [], { input: 'fed on stdin' })).stdout, 'fed on stdin', name);
  }
});

test('spawn: output streams while the command runs; its pid is the host pid; kill ends it', async () => {
  for (const [name, t] of both()) {
    const cmd = t.spawn('sh', ['-c', 'echo started; while read -r l; do echo "got $l"; done']);
    const pid = await cmd.pid;
    let out = '';
    cmd.stdout.on('data', (b: Buffer) => (out += b.toString()));
    cmd.stdin.write('one\n');
    while (!out.includes('got one')) await new Promise((r) => setTimeout(r, 20));
    assert.equal(out, 'started\ngot one\n', name);
    // Both transports reach this machine: the pid is a process here.
    assert.ok(isAlive(pid), name);
    await cmd.kill('SIGTERM');
    const exit = await cmd.exited;
    assert.equal(
      exit.code === 143 || exit.signal === 'SIGTERM' || exit.signal === 'TERM',
      true,
      `${name}: ${JSON.stringify(exit)}`,
    );
    assert.equal(isAlive(pid), false, name);
  }
});

test('files move both ways over SFTP byte for byte; mkdtemp, exists and remove act on the host', async () => {
  const data = randomBytes(3 << 20);
  const src = join(work, 'src.bin');
  writeFileSync(src, data);
  const dir = await ssh.mkdtemp('vmfarm-t-');
  assert.ok(await ssh.exists(dir));
  await ssh.upload(src, `${dir}/up.bin`);
  assert.ok(readFileSync(`${dir}/up.bin`).equals(data));
  await ssh.download(`${dir}/up.bin`, join(work, 'down.bin'));
  assert.ok(readFileSync(join(work, 'down.bin')).equals(data));
  // A disk image with a hole: the same bytes arrive, the hole is not written.
  const sparse = join(work, 'sparse.img');
  writeFileSync(sparse, Buffer.concat([data.subarray(0, 1 << 20), Buffer.alloc(16 << 20), Buffer.from([7])]));
  await ssh.upload(sparse, `${dir}/sparse.img`);
  assert.ok(readFileSync(`${dir}/sparse.img`).equals(readFileSync(sparse)));
  assert.ok(statSync(`${dir}/sparse.img`).blocks * 512 < 4 << 20, 'the hole stays a hole');
  await ssh.remove(dir);
  assert.equal(await ssh.exists(dir), false);
  await assert.rejects(ssh.upload(join(work, 'absent'), `${dir}/x`));
});

test('streams reach a TCP port and a unix socket on the host', async () => {
  const sock = join(work, 'echo.sock');
  const servers = [createServer((c) => c.pipe(c)), createServer((c) => c.pipe(c))];
  await new Promise<void>((r) => servers[0].listen(sock, r));
  const port = await ssh.freePort();
  await new Promise<void>((r) => servers[1].listen(port, '127.0.0.1', r));
  try {
    for (const [name, t] of both())
      for (const target of [{ path: sock }, { port }]) {
        const s = await t.openStream(target);
        const echoed = new Promise<string>((r) => s.once('data', (b: Buffer) => r(b.toString())));
        s.write('ping');
        assert.equal(await echoed, 'ping', `${name} ${JSON.stringify(target)}`);
        s.destroy();
      }
    await assert.rejects(ssh.openStream({ port: await ssh.freePort() }), /cannot open/);
  } finally {
    servers.forEach((s) => s.close());
  }
});

test('a host showing another key than the pinned one is refused; so is a URL that is not ssh://', async () => {
  const other = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBIOUHqccJ+ZddPRpbfHm/kfDcDraklqrF2k2voQYE8O x';
  await assert.rejects(
    openTransport(sshd.url, { privateKey: sshd.privateKey, hostKey: other }),
    /cannot connect/,
  );
  await assert.rejects(openTransport(sshd.url, { privateKey: sshd.privateKey }), /no host key/);
  await assert.rejects(openTransport('telnet://x'), /unknown host URL/);
});

test('the capability probe says the same of this machine through either transport', async () => {
  const fw = mkdtempSync(join(work, 'fw-'));
  writeFileSync(join(fw, 'CODE.fd'), '');
  const options = {
    firmwareDirs: [fw, '/nonexistent'],
    files: ['/etc/hostname', '/nonexistent'],
    programs: ['sh', 'no-such-program'],
  };
  const [a, b] = await Promise.all([probeCapabilities(local, options), probeCapabilities(ssh, options)]);
  assert.equal(a.url, 'local');
  assert.equal(b.url, ssh.url);
  assert.deepEqual({ ...a, url: '' }, { ...b, url: '' });
  assert.equal(a.arch, process.arch === 'arm64' ? 'aarch64' : process.arch === 'x64' ? 'x86_64' : a.arch);
  assert.deepEqual(a.firmware, { 'CODE.fd': join(fw, 'CODE.fd') });
  assert.deepEqual(a.files, { '/etc/hostname': true, '/nonexistent': false });
  assert.equal(a.binaries['no-such-program'], null);
  assert.ok(a.binaries.sh?.path);
  // This machine is not aarch64 unless it is: KVM serves arm64 guests only there.
  if (a.arch !== 'aarch64') assert.equal(a.kvm.arm64, false);
});

test('a connection that drops ends what it ran on the host: the lifeline kills it; the exit says the host was lost', async () => {
  // A TCP relay in front of sshd stands for the network: destroying its sockets is the host dropping off.
  const sockets = new Set<Socket>();
  const port = await freePort();
  const relay = createServer((c) => {
    const up = connect(Number(new URL(sshd.url).port), '127.0.0.1');
    for (const s of [c, up]) {
      sockets.add(s);
      s.on('error', () => {});
    }
    c.pipe(up).pipe(c);
  });
  await new Promise<void>((r) => relay.listen(port, '127.0.0.1', r));
  try {
    const url = sshd.url.replace(/:\d+$/, `:${port}`);
    const t = await SshTransport.connect(url, { privateKey: sshd.privateKey, hostKey: sshd.hostKey });
    const cmd = t.spawn('sleep', ['600']);
    const pid = await cmd.pid;
    // The lifeline is up once its shell runs on the host (a child of sshd reading its input).
    while (!(await ssh.exec('pgrep', ['-f', `kill -TERM ${pid}`])).stdout.trim()) await sleep(50);
    assert.ok(isAlive(pid));
    for (const s of sockets) s.destroy();
    const exit = await cmd.exited;
    assert.match(exit.lost ?? '', /connection/);
    while (isAlive(pid)) await sleep(50); // the server notices the drop and the lifeline ends sleep
    // A command that ends by itself leaves no lifeline behind either.
    const t2 = await SshTransport.connect(url, { privateKey: sshd.privateKey, hostKey: sshd.hostKey });
    const quick = t2.spawn('true', []);
    const quickPid = await quick.pid;
    assert.deepEqual(await quick.exited, { code: 0, signal: null });
    while ((await ssh.exec('pgrep', ['-f', `kill -TERM ${quickPid}`])).stdout.trim()) await sleep(50);
    await t2.close();
  } finally {
    relay.close();
  }
});
