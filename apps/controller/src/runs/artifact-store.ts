import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';

/** Artifact files under `<data>/artifacts/<run>/<attempt>/<name>` (names are validated by the schema). */
export class ArtifactStore {
  constructor(private readonly dataDir: string) {}

  async write(runId: string, attempt: number, name: string, bytes: Buffer): Promise<string> {
    const dir = path.join(this.dataDir, 'artifacts', runId, String(attempt));
    await fs.promises.mkdir(dir, { recursive: true });
    const file = path.join(dir, name);
    await fs.promises.writeFile(file, bytes);
    return file;
  }

  /** The stored file as a stream; undefined when it is gone (opened first so that is not a stream error). */
  async open(file: string): Promise<Readable | undefined> {
    try {
      return (await fs.promises.open(file, 'r')).createReadStream();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}
