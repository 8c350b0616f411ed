import * as fs from 'node:fs';
import * as path from 'node:path';

/** The controller package version (dist/src/ → package root). */
export const VERSION: string = (
  JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')) as { version: string }
).version;
