/* Integer corners: carries, overflow, shifts, bitfields, multiply-high, division (incl. by zero). */
#pragma GCC target("+crc")
#include <stdint.h>
#include <stdio.h>
#include <limits.h>

static volatile uint64_t vals[] = {0, 1, 2, 3, 7, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff,
  0x80000000u, 0xffffffffu, 0x100000000ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
  0xffffffffffffffffull, 0x123456789abcdef0ull, 0xfedcba9876543210ull, 0x5555555555555555ull, 42, 1000000007};
#define N (sizeof(vals) / sizeof(vals[0]))

static uint64_t h = 1469598103934665603ull;
static void mix(uint64_t v) { h ^= v; h *= 1099511628211ull; }

__attribute__((noinline)) static uint64_t udiv64(uint64_t a, uint64_t b) { return b ? a / b : 0; }

int main(void) {
  for (unsigned i = 0; i < N; i++) {
    for (unsigned j = 0; j < N; j++) {
      uint64_t a = vals[i], b = vals[j];
      int64_t sa = (int64_t)a, sb = (int64_t)b;
      uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b;
      int32_t sa32 = (int32_t)a32, sb32 = (int32_t)b32;
      uint64_t r;
      mix(a + b); mix(a - b); mix(a * b); mix(a & b); mix(a | ~b); mix(a ^ b);
      mix(a32 + b32); mix(a32 - b32); mix(a32 * b32); mix((uint64_t)sa32 * sb32);
      mix((unsigned __int128)a * b >> 64); mix((uint64_t)((__int128)sa * sb >> 64));
      mix(__builtin_add_overflow(sa, sb, (int64_t *)&r)); mix(r);
      mix(__builtin_sub_overflow(sa32, sb32, (int32_t *)&r)); mix(r);
      mix(__builtin_mul_overflow(sa, sb, (int64_t *)&r)); mix(r);
      mix(__builtin_add_overflow(a, b, &r)); mix(r);
      mix(udiv64(a, b));
      mix(b ? a % b : 1);
      if (b != 0 && !(sa == LLONG_MIN && sb == -1)) { mix(sa / sb); mix(sa % sb); }
      if (b32 != 0) { mix(a32 / b32); mix(a32 % b32); }
      if (b32 != 0 && !(sa32 == INT_MIN && sb32 == -1)) { mix(sa32 / sb32); mix(sa32 % sb32); }
      mix(a << (b & 63)); mix(a >> (b & 63)); mix(sa >> (b & 63));
      mix(a32 << (b & 31)); mix(a32 >> (b & 31)); mix(sa32 >> (b & 31));
      mix((a >> (b & 63)) | (a << ((64 - (b & 63)) & 63)));
      mix(a < b); mix(sa < sb); mix(a32 <= b32); mix(sa32 > sb32);
      mix(a > b ? a : b); mix(sa < sb ? sa : sb);
    }
    uint64_t a = vals[i];
    mix(__builtin_clzll(a | 1)); mix(__builtin_ctzll(a | 0x8000000000000000ull)); mix(__builtin_popcountll(a));
    mix(__builtin_clz((uint32_t)a | 1)); mix(__builtin_bswap64(a)); mix(__builtin_bswap32((uint32_t)a));
    mix(__builtin_bswap16((uint16_t)a)); mix(__builtin_clrsbll((int64_t)a)); mix(__builtin_parityll(a));
    struct { uint64_t x : 13, y : 7, z : 44; } bf;
    bf.x = a; bf.y = a >> 3; bf.z = a >> 9;
    mix(bf.x); mix(bf.y); mix(bf.z); mix((int64_t)(int8_t)a); mix((int64_t)(int16_t)a); mix((int64_t)(int32_t)a);
    struct { int64_t x : 5, y : 23; } sbf;
    sbf.x = a; sbf.y = a >> 5;
    mix(sbf.x); mix(sbf.y);
    printf("%2u %016llx %016llx\n", i, (unsigned long long)a, (unsigned long long)h);
  }
  /* division by zero in the instruction itself: AArch64 gives 0 */
  volatile uint64_t z = 0, one = 12345;
  uint64_t q; uint32_t q32; int64_t sq;
  __asm__ volatile("udiv %0, %1, %2" : "=r"(q) : "r"(one), "r"(z));
  __asm__ volatile("sdiv %0, %1, %2" : "=r"(sq) : "r"(one), "r"(z));
  __asm__ volatile("udiv %w0, %w1, %w2" : "=r"(q32) : "r"(one), "r"(z));
  printf("div0 %llu %lld %u\n", (unsigned long long)q, (long long)sq, q32);
  int64_t mn = LLONG_MIN, m1 = -1;
  __asm__ volatile("sdiv %0, %1, %2" : "=r"(sq) : "r"(mn), "r"(m1));
  printf("min/-1 %lld\n", (long long)sq);
  uint64_t flags;
  __asm__ volatile("adds %0, %1, %2\n mrs %0, nzcv" : "=r"(flags) : "r"(0xffffffffffffffffull), "r"(1ull));
  printf("nzcv %llx\n", (unsigned long long)flags);
  __asm__ volatile("subs %w0, %w1, %w2\n mrs %0, nzcv" : "=r"(flags) : "r"(0x80000000u), "r"(1u));
  printf("nzcv %llx\n", (unsigned long long)flags);
  uint32_t crc = 0xffffffff;
  for (unsigned i = 0; i < N; i++) {
    __asm__("crc32x %w0, %w0, %1" : "+r"(crc) : "r"(vals[i]));
    __asm__("crc32cb %w0, %w0, %w1" : "+r"(crc) : "r"((uint32_t)vals[i]));
    __asm__("crc32h %w0, %w0, %w1" : "+r"(crc) : "r"((uint32_t)vals[i]));
  }
  printf("crc %08x\n", crc);
  return (int)(h & 0x7f);
}
