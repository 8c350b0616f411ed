import * as fs from 'node:fs';
import * as path from 'node:path';

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
}
