/**
 * The requirement catalogue of ../shared/spec/CLAUSES.md as data, so that every host (agents
 * included) can cite clauses without the spec checkout. test/clauses.test.ts keeps it equal to
 * the markdown whenever the spec is beside the repository.
 */
export type ClauseSubject = 'image' | 'vm' | 'guest';
export type ClauseLevel = 'MUST' | 'SHOULD' | 'MAY';

export interface Clause {
  readonly id: string;
  readonly subject: ClauseSubject;
  readonly level: ClauseLevel;
  readonly section: string;
}

const table: ReadonlyArray<[string, ClauseSubject, ClauseLevel, string]> = [
  ['IMG-GPT', 'image', 'MUST', 'Image format'],
  ['IMG-ESP', 'image', 'MUST', 'Image format'],
  ['IMG-ESP-FAT', 'image', 'MUST', 'Image format'],
  ['IMG-REMOVABLE-PATH', 'image', 'MUST', 'Image format'],
  ['IMG-EFI-APP', 'image', 'MUST', 'Image format'],
  ['IMG-NO-VARS', 'image', 'MUST', 'Image format'],
  ['IMG-FW-NOT-BUNDLED', 'image', 'SHOULD', 'Image format'],
  ['FW-UEFI', 'vm', 'MUST', 'Virtual firmware'],
  ['FW-DEFAULT-BOOT', 'vm', 'MUST', 'Virtual firmware'],
  ['FW-NVRAM', 'vm', 'SHOULD', 'Virtual firmware'],
  ['FW-NVRAM-INSTANCE', 'vm', 'MUST', 'Virtual firmware'],
  ['HW-DESC', 'vm', 'MUST', 'Hardware description'],
  ['HW-ENUM', 'vm', 'MUST', 'Hardware description'],
  ['PLAT-EXEC', 'vm', 'MUST', 'VM platform'],
  ['PLAT-CONSOLE', 'vm', 'MUST', 'VM platform'],
  ['PLAT-GIC', 'vm', 'MUST', 'VM platform'],
  ['PLAT-TIMER', 'vm', 'SHOULD', 'VM platform'],
  ['PLAT-HOTPLUG', 'vm', 'MUST', 'VM platform'],
  ['GUEST-GIC', 'guest', 'MUST', 'Guest OS'],
  ['GUEST-VIRTIO', 'guest', 'SHOULD', 'Guest OS'],
  ['GUEST-CONSOLE', 'guest', 'SHOULD', 'Guest OS'],
  ['GUEST-HOTPLUG', 'guest', 'MUST', 'Guest OS'],
  ['GUEST-DESC', 'guest', 'MUST', 'Guest OS'],
];

export const CLAUSES: readonly Clause[] = table.map(([id, subject, level, section]) => ({
  id,
  subject,
  level,
  section,
}));

const byId = new Map(CLAUSES.map((c) => [c.id, c]));

export function clause(id: string): Clause {
  const found = byId.get(id);
  if (!found) throw new Error(`unknown clause id ${id}`);
  return found;
}

export function isClauseId(id: string): boolean {
  return byId.has(id);
}

/** Parses the tables of CLAUSES.md: `| ID | subject | level | requirement |` rows under `## ` headings. */
export function parseClausesMarkdown(markdown: string): Clause[] {
  const out: Clause[] = [];
  let section = '';
  for (const line of markdown.split('\n')) {
    const heading = /^## (.+)$/.exec(line);
    if (heading) section = heading[1].trim();
    const row = /^\| ([A-Z][A-Z0-9-]+) \| (image|vm|guest) \| (MUST|SHOULD|MAY) \|/.exec(line);
    if (row)
      out.push({ id: row[1], subject: row[2] as ClauseSubject, level: row[3] as ClauseLevel, section });
  }
  return out;
}
