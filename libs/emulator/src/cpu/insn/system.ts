/** System instructions: hints (incl. PAC/BTI hint space), barriers, PSTATE, SYS (DC/IC/TLBI), MRS/MSR. */
import { setX } from '../alu';
import type { Cpu } from '../cpu';
import type { InsnDef } from '../decoder';
import { UndefinedInstruction } from '../exceptions';
import { findSysReg, isIdSpace } from '../sysregs';

/**
 * Hint space. This CPU implements neither pointer authentication nor BTI (ID_AA64ISAR1/PFR1 say
 * so), so PACIASP, AUTIASP, XPACLRI, BTI... execute as NOPs, as the architecture defines for hints.
 */
function hint(c: Cpu, i: number): void {
  const op = (i >>> 5) & 0x7f;
  if (op === 3) c.waitForInterrupt();
  else if (op === 2) c.waitForEvent();
  else if (op === 4 || op === 5) c.sendEvent(); // SEV, SEVL
}

function barrier(c: Cpu, i: number): void {
  const op2 = (i >>> 5) & 7;
  if (op2 === 2)
    c.exclusiveAddr = -1; // CLREX
  else if (op2 === 6)
    return; // ISB: MSR, IC and TLBI already end the decoded run they change
  else if (op2 === 7 || op2 < 2) throw new UndefinedInstruction(i);
}

function msrImm(c: Cpu, i: number): void {
  const op1 = (i >>> 16) & 7;
  const op2 = (i >>> 5) & 7;
  const crm = (i >>> 8) & 15;
  if (op1 === 3 && (op2 === 6 || op2 === 7)) {
    if (c.el === 0) throw new UndefinedInstruction(i, 'DAIF at EL0');
    c.setDaif(op2 === 6 ? c.daif | crm : c.daif & ~crm);
    return;
  }
  if (op1 === 0 && op2 === 5 && c.el > 0) {
    c.setPstate(c.el, crm & 1);
    return;
  }
  throw new UndefinedInstruction(i, 'PSTATE field not implemented');
}

function sys(c: Cpu, i: number): void {
  const op1 = (i >>> 16) & 7;
  const crn = (i >>> 12) & 15;
  const crm = (i >>> 8) & 15;
  const op2 = (i >>> 5) & 7;
  const t = i & 31;
  if (crn === 7) {
    if (op1 === 3 && crm === 4 && op2 === 1) {
      // DC ZVA: zero the 64-byte block.
      const lo = c.x[t << 1] & ~63;
      const hi = c.x[(t << 1) | 1];
      for (let k = 0; k < 64; k += 4) c.st32((lo + k) >>> 0, hi, 0);
      return;
    }
    if (crm === 5 && op1 === 3 && op2 === 1) {
      c.invalidateCodeAt(c.x[t << 1], c.x[(t << 1) | 1]); // IC IVAU
      return;
    }
    if ((crm === 5 || crm === 1) && op1 === 0 && op2 === 0 && c.el > 0) {
      c.invalidateCode(); // IC IALLU / IALLUIS
      return;
    }
    if (op1 === 3 && (crm === 10 || crm === 11 || crm === 14 || crm === 12 || crm === 13)) return; // DC by VA to PoC/PoU
    if (op1 === 0 && crm === 8 && c.el > 0) {
      c.addressTranslate(i);
      return;
    }
    if (op1 === 0 && (crm === 6 || crm === 10 || crm === 14) && c.el > 0) return; // DC by set/way
  }
  if (crn === 8 && op1 === 0 && c.el > 0) {
    c.tlbInvalidate(crm, op2, t);
    return;
  }
  throw new UndefinedInstruction(i, 'SYS operation not implemented');
}

function mrsMsr(c: Cpu, i: number): void {
  const key = (i >>> 5) & 0xffff;
  const def = findSysReg(key);
  const read = ((i >>> 21) & 1) === 1;
  const t = i & 31;
  if (def === undefined || (def.available !== undefined && !def.available(c))) {
    if (read && c.el > 0 && isIdSpace(key)) return setX(c, t, 0, 0);
    throw new UndefinedInstruction(
      i,
      `system register s${key >>> 14}_${(key >>> 11) & 7}_c${(key >>> 7) & 15}_c${(key >>> 3) & 15}_${key & 7}`,
    );
  }
  if (read) {
    // In system mode the kernel, not the CPU, emulates EL0 reads of ID registers.
    const el =
      def.el === 0 && c.sink === null && def.op0 === 3 && def.op1 === 0 && def.crn === 0 ? 1 : def.el;
    if (c.el < el) throw new UndefinedInstruction(i, `${def.name} at EL${c.el}`);
    c.sys.readPair(c, def);
    setX(c, t, c.rlo, c.rhi);
  } else {
    if (def.writeEl === undefined || c.el < def.writeEl)
      throw new UndefinedInstruction(i, `write of ${def.name} at EL${c.el}`);
    // Writes that change translation, PSTATE or interrupt masking end the decoded run themselves.
    c.sys.writePair(c, def, t === 31 ? 0 : c.x[t << 1], t === 31 ? 0 : c.x[(t << 1) | 1]);
  }
}

const d = (name: string, mask: number, value: number, fn: InsnDef['fn']): InsnDef => ({
  cls: 'system',
  name,
  mask,
  value,
  fn,
});

export const SYSTEM: InsnDef[] = [
  d('HINT', 0xfffff01f, 0xd503201f, hint),
  d('barrier', 0xfffff01f, 0xd503301f, barrier),
  d('MSR (immediate)', 0xfff8f01f, 0xd500401f, msrImm),
  d('SYS', 0xfff80000, 0xd5080000, sys),
  d('MSR (register)', 0xfff00000, 0xd5100000, mrsMsr),
  d('MRS', 0xfff00000, 0xd5300000, mrsMsr),
];
