import type { AgentRegistered, AgentRegistration } from '@vmfarm/protocol';
import { ControllerClient, ControllerError } from './client';

/** The agent as the controller knows it: its id changes when the controller forgets it. */
export interface Registration {
  readonly id: string;
  readonly registered: AgentRegistered;
  /** Stops heartbeating. */
  stop(): void;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}

/** Registers, retrying with backoff while the controller is unreachable. */
async function register(
  client: ControllerClient,
  build: () => Promise<AgentRegistration>,
  log: (l: string) => void,
  signal: AbortSignal,
): Promise<AgentRegistered> {
  let wait = 500;
  for (;;) {
    try {
      return await client.register(await build());
    } catch (err) {
      if (!(err instanceof ControllerError) || (err.status !== 0 && err.status < 500)) throw err;
      if (signal.aborted) throw new Error('stopped before registering');
      log(
        `vmfarm agent: controller ${client.baseUrl} unreachable (${err.message}); retrying in ${wait / 1000}s`,
      );
      await delay(wait, signal);
      wait = Math.min(wait * 2, 10_000);
    }
  }
}

/**
 * Registers, then heartbeats at the pace the controller asks for. A heartbeat answer names runs
 * cancelled on the controller (`onCancelled` stops them); a controller that forgot the agent (a
 * fresh database) gets it registered again under a new id.
 */
export async function startRegistration(
  client: ControllerClient,
  build: () => Promise<AgentRegistration>,
  log: (l: string) => void,
  signal: AbortSignal,
  onCancelled: (runIds: readonly string[]) => void,
): Promise<Registration> {
  let registered = await register(client, build, log, signal);
  let beating = false;
  const heartbeat = setInterval(() => {
    if (beating) return;
    beating = true;
    client
      .heartbeat(registered.id)
      .then(onCancelled)
      .catch(async (err: Error) => {
        if (!(err instanceof ControllerError && err.status === 404)) throw err;
        registered = await register(client, build, log, signal);
        log(`vmfarm agent: re-registered as ${registered.id}`);
      })
      .catch((err: Error) => log(`vmfarm agent: heartbeat failed: ${err.message}`))
      .finally(() => (beating = false));
  }, registered.heartbeatSeconds * 1000);
  heartbeat.unref();
  return {
    get id() {
      return registered.id;
    },
    get registered() {
      return registered;
    },
    stop: () => clearInterval(heartbeat),
  };
}
