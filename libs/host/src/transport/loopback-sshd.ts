import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { HostError, exited, freePort, sleep, spawnGuarded, which } from '../process';

/** OpenSSH's sshd on 127.0.0.1 for one key: a real SSH server for tests and benches, gone on stop(). */
export interface LoopbackSshd {
  url: string;
  privateKey: string;
  hostKey: string;
  stop(): Promise<void>;
}

export async function startLoopbackSshd(): Promise<LoopbackSshd> {
  const sshd = which('sshd');
  const keygen = which('ssh-keygen');
  if (!sshd || !keygen) throw new HostError('sshd and ssh-keygen are needed (Debian: openssh-server)');
  const dir = mkdtempSync(join(tmpdir(), 'vmfarm-sshd-'));
  for (const name of ['host', 'client'])
    execFileSync(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, name)]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')));
  // As root, sshd wants its privilege separation directory.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const sftp = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server'].find((p) => {
    try {
      return readFileSync(p).length > 0;
    } catch {
      return false;
    }
  });
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${join(dir, 'host')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      'AllowStreamLocalForwarding yes',
      ...(sftp ? [`Subsystem sftp ${sftp}`] : []),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawnGuarded(sshd, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited(child);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new HostError(`sshd did not start: ${log.trim()}`);
    }
    await sleep(50);
  }
  return {
    url: `ssh://${userInfo().username}@127.0.0.1:${port}`,
    privateKey: readFileSync(join(dir, 'client'), 'utf8'),
    hostKey: readFileSync(join(dir, 'host.pub'), 'utf8'),
    stop,
  };
}
