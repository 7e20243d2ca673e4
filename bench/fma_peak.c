// The f32 FMA throughput of this CPU's cores: independent chains of fused multiply-adds in
// registers (no memory traffic), per thread and with N threads at once. The roofline any f32
// matrix product (PyTorch's or ours) is bounded by; on CPUs with AVX512-BF16, also that of its
// pair products (the bf16 inference mode's).
//     cc -O2 -march=native -pthread bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak 2
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12
#define ITERS 200000000L

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

#if defined(__AVX512F__)
typedef __m512 vec;
#define WIDTH 16
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define SET1 _mm512_set1_ps
#define SUM(v) _mm512_reduce_add_ps(v)
#else
typedef __m256 vec;
#define WIDTH 8
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define SET1 _mm256_set1_ps
static float SUM(__m256 v) { float f[8]; _mm256_storeu_ps(f, v); float s = 0; for (int i = 0; i < 8; i++) s += f[i]; return s; }
#endif

static void *run(void *arg) {
  long iters = *(long *)arg;
  vec acc[CHAINS];
  for (int i = 0; i < CHAINS; i++) acc[i] = SET1(0.001f * i);
  vec a = SET1(0.999999f), b = SET1(1e-7f);
  for (long n = 0; n < iters; n++) {
#pragma GCC unroll 12
    for (int i = 0; i < CHAINS; i++) acc[i] = FMA(acc[i], a, b);
  }
  float s = 0;
  for (int i = 0; i < CHAINS; i++) s += SUM(acc[i]);
  static volatile float sink;
  sink = s;
  return NULL;
}

#if defined(__AVX512BF16__)
// The same with AVX512-BF16's pair products (`vdpbf16ps`: per f32 lane, two bf16 products
// added to the accumulator, 4 flops), the instruction of the bf16 inference mode.
static void *run_bf16(void *arg) {
  long iters = *(long *)arg;
  __m512 acc[CHAINS];
  for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps(0.001f * i);
  __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
  for (long n = 0; n < iters; n++) {
#pragma GCC unroll 12
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, a);
  }
  float s = 0;
  for (int i = 0; i < CHAINS; i++) s += _mm512_reduce_add_ps(acc[i]);
  static volatile float sink;
  sink = s;
  return NULL;
}
#endif

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  long iters = ITERS / 4;
  pthread_t t[64];
  for (int round = 0; round < 3; round++) {
    double start = now();
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, &iters);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double secs = now() - start;
    double flops = 2.0 * WIDTH * CHAINS * (double)iters * threads;
    printf("%d thread(s), %d-lane FMA: %.1f GFLOP/s (%.1f per thread)\n", threads, WIDTH,
           flops / secs / 1e9, flops / secs / 1e9 / threads);
  }
#if defined(__AVX512BF16__)
  for (int round = 0; round < 3; round++) {
    double start = now();
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run_bf16, &iters);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double secs = now() - start;
    double flops = 4.0 * 16 * CHAINS * (double)iters * threads;
    printf("%d thread(s), bf16 pair products: %.1f GFLOP/s (%.1f per thread)\n", threads,
           flops / secs / 1e9, flops / secs / 1e9 / threads);
  }
#endif
  return 0;
}
