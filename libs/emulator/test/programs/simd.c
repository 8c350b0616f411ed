/* Advanced SIMD through intrinsics and auto-vectorised loops, plus glibc string routines. */
#include <arm_neon.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t h = 1469598103934665603ull;
static void mix(uint64_t v) { h ^= v; h *= 1099511628211ull; }
static void mixv(uint8x16_t v) { uint8_t b[16]; vst1q_u8(b, v); for (int i = 0; i < 16; i++) mix(b[i]); }
#define MIXQ(T, v) mixv(vreinterpretq_u8_##T(v))
#define MIXS(v) mixv(vreinterpretq_u8_s8(v))

__attribute__((noinline)) void saxpy(float *y, const float *x, float a, int n) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }
__attribute__((noinline)) long dot(const int *a, const int *b, int n) { long s = 0; for (int i = 0; i < n; i++) s += (long)a[i] * b[i]; return s; }
__attribute__((noinline)) void bytes(uint8_t *d, const uint8_t *s, int n) { for (int i = 0; i < n; i++) d[i] = (uint8_t)(s[i] * 3 + (s[i] >> 2)); }
__attribute__((noinline)) double dsum(const double *a, int n) { double s = 0; for (int i = 0; i < n; i++) s += a[i] * a[i]; return s; }
__attribute__((noinline)) void shorts(int16_t *d, const int16_t *s, int n) { for (int i = 0; i < n; i++) d[i] = s[i] < 0 ? -s[i] : s[i] >> 1; }

int main(void) {
  uint8_t buf[64];
  for (int i = 0; i < 64; i++) buf[i] = (uint8_t)(i * 37 + 11);
  uint8x16_t a = vld1q_u8(buf), b = vld1q_u8(buf + 16);
  mixv(vaddq_u8(a, b)); mixv(vsubq_u8(a, b)); mixv(vmulq_u8(a, b)); mixv(vceqq_u8(a, b)); mixv(vcgtq_u8(a, b));
  mixv(vcgeq_s8(vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b))); mixv(vmaxq_u8(a, b)); MIXS(vminq_s8(vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b)));
  mixv(vandq_u8(a, b)); mixv(vorrq_u8(a, b)); mixv(veorq_u8(a, b)); mixv(vbicq_u8(a, b)); mixv(vbslq_u8(a, b, vld1q_u8(buf + 32)));
  mixv(vextq_u8(a, b, 5)); mixv(vrev64q_u8(a)); mixv(vcntq_u8(a)); mixv(vclzq_u8(a)); mixv(vmvnq_u8(a));
  mixv(vzip1q_u8(a, b)); mixv(vzip2q_u8(a, b)); mixv(vuzp1q_u8(a, b)); mixv(vuzp2q_u8(a, b)); mixv(vtrn1q_u8(a, b)); mixv(vtrn2q_u8(a, b));
  mixv(vqtbl1q_u8(a, vandq_u8(b, vdupq_n_u8(31)))); mixv(vhaddq_u8(a, b)); mixv(vrhaddq_u8(a, b)); mixv(vqaddq_u8(a, b)); MIXS(vqsubq_s8(vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b)));
  mixv(vabdq_u8(a, b)); mixv(vshrq_n_u8(a, 3)); mixv(vshlq_n_u8(a, 2)); mixv(vreinterpretq_u8_s8(vshrq_n_s8(vreinterpretq_s8_u8(a), 2)));
  mixv(vsriq_n_u8(a, b, 3)); mixv(vsliq_n_u8(a, b, 3)); mixv(vreinterpretq_u8_s8(vabsq_s8(vreinterpretq_s8_u8(a)))); mixv(vreinterpretq_u8_s8(vnegq_s8(vreinterpretq_s8_u8(a))));
  uint16x8_t w = vmovl_u8(vget_low_u8(a)), w2 = vmovl_high_u8(b);
  MIXQ(u16, (vaddq_u16(w, w2))); MIXQ(u16, (vmull_u8(vget_low_u8(a), vget_low_u8(b)))); MIXQ(u16, (vmlal_u8(w, vget_low_u8(a), vget_low_u8(b))));
  MIXQ(u16, (vpaddlq_u8(a))); MIXQ(u16, (vaddl_u8(vget_low_u8(a), vget_low_u8(b)))); MIXQ(u16, (vaddw_u8(w, vget_low_u8(b))));
  mixv(vcombine_u8(vmovn_u16(w), vshrn_n_u16(w2, 3))); mixv(vcombine_u8(vqmovn_u16(w2), vrshrn_n_u16(w, 2)));
  MIXQ(u16, (vmulq_n_u16(w, 77))); MIXQ(u16, (vmlaq_laneq_u16(w, w2, w, 3)));
  uint32x4_t u = vreinterpretq_u32_u8(a), v = vreinterpretq_u32_u8(b);
  MIXQ(u32, (vaddq_u32(u, v))); MIXQ(u32, (vmulq_u32(u, v))); MIXQ(u32, (vshrq_n_u32(u, 7))); MIXQ(u32, (vcltq_s32(vreinterpretq_s32_u32(u), vreinterpretq_s32_u32(v))));
  mix(vaddvq_u32(u)); mix(vmaxvq_u8(a)); mix(vminvq_u8(a)); mix(vaddvq_u8(a)); mix(vaddlvq_u8(a)); mix(vmaxvq_s32(vreinterpretq_s32_u32(v)));
  uint64x2_t q = vreinterpretq_u64_u8(a), r = vreinterpretq_u64_u8(b);
  MIXQ(u64, (vaddq_u64(q, r))); MIXQ(u64, (vsubq_u64(q, r))); MIXQ(u64, (vshrq_n_u64(q, 13))); MIXQ(u64, (vshlq_n_u64(q, 13))); MIXQ(u64, (vceqq_u64(q, q)));
  MIXQ(u64, (vmull_u32(vget_low_u32(u), vget_low_u32(v)))); MIXQ(u64, (vpaddlq_u32(u))); mix(vaddvq_u64(q)); mix(vgetq_lane_u64(q, 1));
  mix(vgetq_lane_u8(a, 7)); mix(vgetq_lane_s16(vreinterpretq_s16_u8(a), 3)); MIXQ(u32, (vsetq_lane_u32(12345, u, 2))); mixv(vdupq_laneq_u8(a, 9));
  float32x4_t f = vcvtq_f32_u32(vandq_u32(u, vdupq_n_u32(0xffff))), g = vcvtq_f32_s32(vreinterpretq_s32_u32(v));
  MIXQ(f32, (vaddq_f32(f, g))); MIXQ(f32, (vmulq_f32(f, g))); MIXQ(f32, (vdivq_f32(f, g))); MIXQ(f32, (vfmaq_f32(f, g, f))); MIXQ(f32, (vsqrtq_f32(f)));
  MIXQ(f32, (vmaxq_f32(f, g))); MIXQ(f32, (vminnmq_f32(f, g))); MIXQ(s32, (vcvtq_s32_f32(vmulq_n_f32(g, 0.001f)))); MIXQ(f32, (vrndnq_f32(vmulq_n_f32(f, 0.01f))));
  MIXQ(u32, (vcgtq_f32(f, g))); MIXQ(f32, (vabsq_f32(g))); MIXQ(f32, (vnegq_f32(g))); MIXQ(f32, (vpaddq_f32(f, g))); MIXQ(f32, (vmulq_laneq_f32(f, g, 2)));
  float64x2_t d = vcvt_f64_f32(vget_low_f32(f)), e = vcvt_high_f64_f32(g);
  MIXQ(f64, (vaddq_f64(d, e))); MIXQ(f64, (vmulq_f64(d, e))); MIXQ(f64, (vfmaq_f64(d, d, e))); MIXQ(f32, (vcvt_high_f32_f64(vcvt_f32_f64(d), e))); mix((uint64_t)vaddvq_f64(d));
  printf("intrinsics %016llx\n", (unsigned long long)h);

  enum { N = 1003 };
  float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
  int *ia = malloc(N * sizeof(int)), *ib = malloc(N * sizeof(int));
  uint8_t *s8 = malloc(N), *d8 = malloc(N);
  double *dd = malloc(N * sizeof(double));
  int16_t *s16 = malloc(N * 2), *d16 = malloc(N * 2);
  for (int i = 0; i < N; i++) { x[i] = i * 0.25f; y[i] = (float)(N - i); ia[i] = i * 7 - 3000; ib[i] = (i ^ 0x55) - 100; s8[i] = (uint8_t)(i * 13); dd[i] = i / 7.0; s16[i] = (int16_t)(i * 123 - 30000); }
  saxpy(y, x, 1.5f, N); bytes(d8, s8, N); shorts(d16, s16, N);
  for (int i = 0; i < N; i++) { uint32_t t; memcpy(&t, &y[i], 4); mix(t); mix(d8[i]); mix((uint16_t)d16[i]); }
  printf("loops %016llx %ld %.17g\n", (unsigned long long)h, dot(ia, ib, N), dsum(dd, N));

  char text[300];
  for (int i = 0; i < 299; i++) text[i] = 'a' + (i * 7) % 26;
  text[299] = 0;
  for (int k = 0; k < 40; k++) {
    mix(strlen(text + k)); mix((uintptr_t)strchr(text + k, 'z') - (uintptr_t)text); mix((uintptr_t)memchr(text, 'a' + k % 26, 299) - (uintptr_t)text);
    mix(strcmp(text + k, text + k + 1) > 0); mix(memcmp(text, text + k, 50 - k) > 0); mix(strncmp(text, text + 26 * (k % 3), 100) == 0);
    mix((uintptr_t)strrchr(text, 'b' + k % 20) - (uintptr_t)text); mix(strnlen(text + k, 100 + k));
    char tmp[320]; memset(tmp, k, sizeof tmp); memcpy(tmp + k % 16, text, 200 + k); strcpy(tmp + 3, text + k); mix(strlen(tmp)); mix(tmp[250]);
    memmove(tmp + 5, tmp + 1 + k % 7, 100); mix(tmp[17]); mix((uintptr_t)strstr(text, "hov") - (uintptr_t)text);
  }
  printf("strings %016llx\n", (unsigned long long)h);
  return 0;
}
