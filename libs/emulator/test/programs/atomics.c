/* Atomics: LL/SC and LSE (outline atomics pick LSE when the CPU has it), barriers, acquire/release. */
#pragma GCC target("+lse")
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

static _Atomic uint64_t c64;
static _Atomic uint32_t c32;
static _Atomic uint16_t c16;
static _Atomic uint8_t c8;
static _Atomic int64_t s64;
static uint64_t big;

int main(void) {
  uint64_t h = 0;
  for (int i = 0; i < 1000; i++) {
    h += atomic_fetch_add(&c64, i * 0x10001ull);
    h ^= atomic_fetch_sub_explicit(&c32, i, memory_order_acquire);
    h += atomic_fetch_or(&c16, (uint16_t)(i * 3));
    h += atomic_fetch_and_explicit(&c8, (uint8_t)~i, memory_order_release);
    h += atomic_fetch_xor(&c64, i);
    h += atomic_exchange(&c32, i * 7u);
    uint64_t exp = atomic_load(&c64);
    h += atomic_compare_exchange_strong(&c64, &exp, exp * 3 + 1);
    uint32_t e32 = 5;
    h += atomic_compare_exchange_weak_explicit(&c32, &e32, 9, memory_order_acq_rel, memory_order_relaxed);
    uint8_t e8 = atomic_load_explicit(&c8, memory_order_acquire);
    h += atomic_compare_exchange_strong(&c8, &e8, (uint8_t)(e8 + 1));
    atomic_store_explicit(&s64, -i, memory_order_release);
    h += (uint64_t)__atomic_fetch_add(&s64, 3, __ATOMIC_SEQ_CST);
    uint64_t old, t = i * 11u;
    __asm__ volatile("ldaddal %2, %0, %1" : "=r"(old), "+Q"(big) : "r"(t));
    h += old;
    __asm__ volatile("swpal %2, %0, %1" : "=r"(old), "+Q"(big) : "r"(t * 5));
    h += old;
    __asm__ volatile("ldsmax %2, %0, %1" : "=r"(old), "+Q"(big) : "r"(t - 3000));
    h += old;
    __asm__ volatile("ldumin %2, %0, %1" : "=r"(old), "+Q"(big) : "r"(t + 17));
    h += old;
    __asm__ volatile("ldclrl %2, %0, %1" : "=r"(old), "+Q"(big) : "r"(0x55ull));
    h += old;
    uint64_t cmp = big;
    __asm__ volatile("casal %0, %2, %1" : "+r"(cmp), "+Q"(big) : "r"(cmp + 99));
    h += cmp;
    uint32_t w = (uint32_t)i, ow;
    __asm__ volatile("ldeorh %w2, %w0, %1" : "=r"(ow), "+Q"(c16) : "r"(w));
    h += ow;
    atomic_thread_fence(memory_order_seq_cst);
    h = h * 31 + big;
  }
  printf("%016llx %llu %u %u %u\n", (unsigned long long)h, (unsigned long long)c64, c32, c16, c8);
  return 0;
}
