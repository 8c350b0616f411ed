/* Compute-heavy workloads for bench/emulator-bench.mjs: `hash`, `sort`, `interp` (argv[1]). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_loop(void) {
  /* FNV-1a and a xorshift mixer over a buffer, many rounds. */
  static uint8_t buf[4096];
  uint64_t x = 88172645463325252ull, h = 1469598103934665603ull;
  for (int round = 0; round < 1500; round++) {
    for (int i = 0; i < 4096; i++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      buf[i] ^= (uint8_t)x;
      h = (h ^ buf[i]) * 1099511628211ull;
    }
  }
  return h;
}

static int cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t sort_bench(void) {
  enum { N = 200000 };
  uint32_t *a = malloc(N * sizeof *a);
  uint32_t s = 12345;
  for (int i = 0; i < N; i++) { s = s * 1103515245u + 12345u; a[i] = s >> 3; }
  qsort(a, N, sizeof *a, cmp);
  /* and an insertion-sorted run of small arrays */
  uint64_t h = 0;
  for (int k = 0; k < 2000; k++) {
    uint32_t b[64];
    for (int i = 0; i < 64; i++) { s = s * 1103515245u + 12345u; b[i] = s >> 7; }
    for (int i = 1; i < 64; i++) { uint32_t v = b[i]; int j = i - 1; while (j >= 0 && b[j] > v) { b[j + 1] = b[j]; j--; } b[j + 1] = v; }
    h = h * 31 + b[k % 64];
  }
  for (int i = 0; i < N; i += 1000) h = h * 31 + a[i];
  free(a);
  return h;
}

enum { PUSH, ADD, SUB, MUL, DUP, SWAP, JNZ, DEC, POP, HALT, LOAD, STORE };
static int64_t interp(void) {
  /* A stack-machine bytecode: nested loops computing a checksum. */
  static const int code[] = {
    PUSH, 0, STORE, 0,          /* acc = 0 */
    PUSH, 300000,               /* counter */
    /* loop: */ DUP, LOAD, 0, ADD, PUSH, 7, MUL, PUSH, 1000003, SWAP, SUB, STORE, 0,
    DEC, DUP, JNZ, 6, POP, LOAD, 0, HALT};
  int64_t stack[64], vars[4] = {0};
  int sp = 0, pc = 0;
  for (;;) {
    switch (code[pc++]) {
    case PUSH: stack[sp++] = code[pc++]; break;
    case ADD: sp--; stack[sp - 1] += stack[sp]; break;
    case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
    case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
    case DUP: stack[sp] = stack[sp - 1]; sp++; break;
    case SWAP: { int64_t t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; } break;
    case JNZ: { int t = code[pc++]; if (stack[--sp]) pc = t; } break;
    case DEC: stack[sp - 1]--; break;
    case POP: sp--; break;
    case LOAD: stack[sp++] = vars[code[pc++]]; break;
    case STORE: vars[code[pc++]] = stack[--sp]; break;
    case HALT: return stack[sp - 1];
    }
  }
}

int main(int argc, char **argv) {
  const char *w = argc > 1 ? argv[1] : "hash";
  if (!strcmp(w, "hash")) printf("hash %016llx\n", (unsigned long long)hash_loop());
  else if (!strcmp(w, "sort")) printf("sort %016llx\n", (unsigned long long)sort_bench());
  else if (!strcmp(w, "interp")) printf("interp %lld\n", (long long)interp());
  else return 2;
  return 0;
}
