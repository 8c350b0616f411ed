/* Floating point: arithmetic, rounding modes, NaNs, denormals, conversions, FMA, libm. */
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <float.h>

static volatile double dv[] = {0.0, -0.0, 1.0, -1.0, 0.1, 1.5, 2.5, -2.5, 3.0, 1e300, -1e-300, 4.9e-324,
  2.2250738585072014e-308, 1e16, 9007199254740993.0, 123456.789, INFINITY, -INFINITY, NAN, 0.3333333333333333,
  9.2233720368547758e18, -9.2233720368547758e18, 4294967296.5, -2147483648.7};
static volatile float fv[] = {0.0f, -0.0f, 1.0f, 0.1f, 1.5f, -2.5f, 3.4e38f, 1e-45f, 1.17549435e-38f, 16777217.0f, INFINITY, NAN, 0.33333334f, -7.25f};
#define ND (sizeof(dv) / sizeof(dv[0]))
#define NF (sizeof(fv) / sizeof(fv[0]))

static uint64_t h = 1469598103934665603ull;
static void mix(uint64_t v) { h ^= v; h *= 1099511628211ull; }
static void mixd(double d) { uint64_t u; memcpy(&u, &d, 8); if (d != d) u = 0x7ff8000000000000ull | (u & 0x8000000000000000ull); mix(u); }
static void mixf(float f) { uint32_t u; memcpy(&u, &f, 4); mix(u); }

int main(void) {
  const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
  for (int mi = 0; mi < 4; mi++) {
    fesetround(modes[mi]);
    for (unsigned i = 0; i < ND; i++) {
      for (unsigned j = 0; j < ND; j++) {
        double a = dv[i], b = dv[j];
        mixd(a + b); mixd(a - b); mixd(a * b); mixd(a / b); mixd(fma(a, b, 0.1)); mixd(fma(a, 0.1, b));
        mixd(fmax(a, b)); mixd(fmin(a, b)); mix(a < b); mix(a == b); mix(a >= b); mix(isunordered(a, b));
      }
      double a = dv[i];
      mixd(sqrt(fabs(a))); mixd(rint(a)); mixd(nearbyint(a)); mixd(floor(a)); mixd(ceil(a)); mixd(trunc(a)); mixd(round(a));
      mixd((float)a); mixd(-a);
      if (a == a && fabs(a) < 9e18) { mix((int64_t)a); mix((int32_t)(a / 1e10)); mix(llrint(a)); }
      if (a == a && a >= 0 && a < 1.8e19) mix((uint64_t)a);
    }
    for (unsigned i = 0; i < NF; i++) for (unsigned j = 0; j < NF; j++) {
      float a = fv[i], b = fv[j];
      mixf(a + b); mixf(a - b); mixf(a * b); mixf(a / b); mixf(fmaf(a, b, 0.1f)); mixf(sqrtf(fabsf(a)));
      mixf((float)(int64_t)1234567891011ll * a);
    }
    for (int64_t k = -5; k < 5; k++) { mixd((double)(k * 0x1234567890123ll)); mixf((float)(k * 0x1234567890123ll)); mixf((float)((uint64_t)k * 0x7234567890123457ull)); }
    printf("mode %d: %016llx\n", mi, (unsigned long long)h);
  }
  fesetround(FE_TONEAREST);
  double x = 0.0;
  for (int k = 1; k < 200; k++) {
    double t = k * 0.173;
    x += sin(t) + cos(t) * exp(-t / 50) + log(t) + atan2(t, 3.0) + pow(t, 0.37) + tanh(t / 10) + cbrt(t) + hypot(t, 1.0);
  }
  printf("libm %.17g\n", x);
  printf("%.3f %.10e %g %a %.0f %.1f\n", 3.14159, 6.02214076e23, 1e-5, 0.1, 2.5, 0.05);
  printf("%f %f %f\n", (double)FLT_MAX, DBL_MIN, -0.0);
  float fs = 0; for (int k = 0; k < 1000; k++) fs += 1.0f / (k + 1);
  printf("harmonic %.9g\n", fs);
  printf("hash %016llx\n", (unsigned long long)h);
  return 0;
}
