import { LocalTransport } from './local';
import { SshTransport, type SshOptions } from './ssh';
import { TransportError, type HostTransport } from './types';

export * from './local';
export * from './loopback-sshd';
export * from './nested-host';
export * from './probe';
export * from './ssh';
export * from './types';

/** The transport a host URL names: `local` (or nothing), or `ssh://user@host:port`. */
export async function openTransport(url: string | undefined, ssh: SshOptions = {}): Promise<HostTransport> {
  if (!url || url === 'local') return new LocalTransport();
  if (url.startsWith('ssh://')) return SshTransport.connect(url, ssh);
  throw new TransportError(`unknown host URL ${url} (local, or ssh://user@host:port)`);
}
