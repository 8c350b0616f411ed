/* Random-instruction fuzz harness: for each case read from argv[1] (u32 seed, u32 fpcr, u32 n,
 * n instruction words), fill all registers from the seed, run prologue + words + epilogue from an
 * executable buffer and print x0..x30, NZCV and v0..v31 as one line of hex. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

extern char fuzz_prologue[], fuzz_prologue_end[], fuzz_epilogue[], fuzz_epilogue_end[];

struct state {
  uint64_t x[31], sp, nzcv, fpcr, fpsr, saved[13];
  uint8_t pad[384 - 280 - 13 * 8];
  uint8_t v[32][16];
} __attribute__((aligned(16)));

static uint64_t rng;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static const uint64_t specials[] = {0, 1, 2, 0xffffffffffffffffull, 0x7fffffffffffffffull, 0x8000000000000000ull,
  0xffffffff, 0x7fffffff, 0x80000000, 0x100000000ull, 63, 64, 31, 32,
  0x3ff0000000000000ull, 0xbff8000000000000ull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
  0x7ff8000000000001ull, 0x7ff4000000000000ull, 0x0000000000000001ull, 0x000fffffffffffffull, 0x4000000000000000ull,
  0x3f800000bf800000ull, 0x7fc000007f800000ull, 0x00000001ff7fffffull, 0x7fa0000000800000ull, 0x4049000000000000ull};
#define NSPEC (sizeof(specials) / sizeof(specials[0]))

static uint64_t value(void) {
  uint64_t r = next();
  switch (r % 4) {
  case 0: return specials[(r >> 8) % NSPEC];
  case 1: return (next() >> (r >> 58)) ^ ((r >> 20) & 1 ? 0 : ~0ull) * ((r >> 21) & 1);
  default: return next();
  }
}

int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 2;
  size_t plen = fuzz_prologue_end - fuzz_prologue, elen = fuzz_epilogue_end - fuzz_epilogue;
  uint8_t *buf = mmap(0, 1 << 16, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  static struct state st;
  uint32_t hdr[3];
  uint64_t tp;
  __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
  while (fread(hdr, 4, 3, f) == 3) {
    uint32_t n = hdr[2];
    memcpy(buf, fuzz_prologue, plen);
    if (fread(buf + plen, 4, n, f) != n) return 2;
    memcpy(buf + plen + 4 * n, fuzz_epilogue, elen);
    __builtin___clear_cache((char *)buf, (char *)buf + plen + 4 * n + elen);
    rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)hdr[0] * 0x2545f4914f6cdd1dull);
    for (int i = 0; i < 31; i++) st.x[i] = value();
    for (int i = 0; i < 32; i++) { uint64_t a = value(), b = value(); memcpy(st.v[i], &a, 8); memcpy(st.v[i] + 8, &b, 8); }
    st.nzcv = (next() & 0xf) << 28;
    st.fpcr = hdr[1];
    ((void (*)(struct state *))buf)(&st);
    __asm__ volatile("msr tpidr_el0, %0" ::"r"(tp));
    for (int i = 0; i < 31; i++) printf("%016llx ", (unsigned long long)st.x[i]);
    printf("%08llx", (unsigned long long)st.nzcv);
    for (int i = 0; i < 32; i++) {
      printf(" ");
      for (int b = 15; b >= 0; b--) printf("%02x", st.v[i][b]);
    }
    printf("\n");
    fflush(stdout); /* a case that dies leaves the lines before it */
  }
  return 0;
}
