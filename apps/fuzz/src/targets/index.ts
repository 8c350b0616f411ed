import type { Target } from '../engine';
import { elf } from './elf';
import { fat } from './fat';
import { gpt } from './gpt';
import { pe } from './pe';
import { qcow2 } from './qcow2';
import { transcript } from './transcript';
import { varstore } from './varstore';

/** Every parser that reads what a tenant controls: disk images, firmware stores, programs, consoles. */
export const TARGETS: readonly Target[] = [gpt, fat, pe, qcow2, varstore, elf, transcript];

export function targetNamed(name: string): Target {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target '${name}' (known: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}
