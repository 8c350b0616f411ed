import { bootstrap } from './app';
import { configFromEnv } from './config';

export { bootstrap, createApp, type AppOverrides, type RunningController } from './app';
export { configFromEnv, resolveConfig, type ControllerConfig } from './config';

async function main(): Promise<void> {
  // Images, artifacts, SQLite and the admin token are the farm's alone: directories 0700, files 0600.
  process.umask(0o077);
  const controller = await bootstrap(configFromEnv());
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`vmfarm controller: ${signal}, closing\n`);
    controller.close().then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`vmfarm controller: close failed: ${err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module)
  main().catch((err: Error) => {
    process.stderr.write(`vmfarm controller: ${err.message}\n`);
    process.exit(1);
  });
