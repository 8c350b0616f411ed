/*
 * The `hash` and `interp` workloads of emulator-bench.c as a bare-metal EL1 image for
 * bench/emulator-bench.mjs's system-mode figure: an ELF linked at 0x40000000 (QEMU virt's RAM),
 * entered at `_start` at EL1 with the MMU off (as `qemu-system-aarch64 -kernel` does); built with -DMMU=1 it first maps RAM with 4 KiB pages (so every access goes through the
 * TLB) and the UART with a block, and turns the MMU and caches on. It prints the results on the
 * PL011 and powers off with PSCI SYSTEM_OFF over HVC (QEMU's virt conduit without EL2/EL3).
 */
#define main user_main
#include "emulator-bench.c"
#undef main

#define RAM 0x40000000ull
#define UART ((volatile uint32_t *)0x09000000)

__asm__(".pushsection .text.start, \"ax\"\n"
        ".globl _start\n"
        "_start:\n"
        "  ldr x0, =0x40800000\n"
        "  mov sp, x0\n"
        "  mov x0, #(3 << 20)\n" /* CPACR_EL1.FPEN: the compiler may use SIMD */
        "  msr cpacr_el1, x0\n"
        "  isb\n"
        "  bl cmain\n"
        "  ldr x0, =0x84000008\n"
        "  hvc #0\n"
        "1: b 1b\n"
        ".ltorg\n"
        ".popsection\n");

static void puts_uart(const char *s) {
  while (*s) *UART = (uint32_t)*s++;
}

static void put_hex(uint64_t v) {
  for (int i = 60; i >= 0; i -= 4) *UART = (uint32_t)"0123456789abcdef"[(v >> i) & 15];
  *UART = '\n';
}

#if MMU
/* L0 -> L1; L1[0]: device block (UART); L1[1] -> L2; L2[0..63] -> L3 tables for 128 MiB of RAM. */
static uint64_t l0[512] __attribute__((aligned(4096)));
static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t l2[512] __attribute__((aligned(4096)));
static uint64_t l3[64][512] __attribute__((aligned(4096)));

static void mmu_on(void) {
  l0[0] = (uint64_t)l1 | 3;
  l1[0] = 0x0060000000000405ull; /* device nGnRnE (AttrIndx 1), AF, UXN, PXN */
  l1[1] = (uint64_t)l2 | 3;
  for (int t = 0; t < 64; t++) {
    l2[t] = (uint64_t)l3[t] | 3;
    for (int p = 0; p < 512; p++) l3[t][p] = (RAM + ((uint64_t)t << 21) + ((uint64_t)p << 12)) | 0x703;
  }
  __asm__ volatile("msr mair_el1, %0\n"
                   "msr tcr_el1, %1\n"
                   "msr ttbr0_el1, %2\n"
                   "dsb sy\n"
                   "isb\n"
                   "mrs x9, sctlr_el1\n"
                   "orr x9, x9, #1\n"
                   "orr x9, x9, #(1 << 2)\n"
                   "orr x9, x9, #(1 << 12)\n"
                   "msr sctlr_el1, x9\n"
                   "isb\n"
                   :
                   : "r"(0xffull), "r"(0x500803510ull), "r"((uint64_t)l0)
                   : "x9", "memory");
}
#endif

void cmain(void) {
#if MMU
  mmu_on();
#endif
  puts_uart("hash ");
  put_hex(hash_loop());
  puts_uart("interp ");
  put_hex((uint64_t)interp());
}
