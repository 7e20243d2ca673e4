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

// A thread's chains: `CHAINS` accumulators (`vec`), each updated `iters` times by
// `STEP(acc)` with operands `a` and `b` of type `operand_t`.
#define CHAIN_KERNEL(name, operand_t, a_init, b_init, STEP)                                   \
  static void *name(void *arg) {                                                              \
    long iters = *(long *)arg;                                                                \
    vec acc[CHAINS];                                                                          \
    for (int i = 0; i < CHAINS; i++) acc[i] = SET1(0.001f * i);                               \
    operand_t a = a_init, b = b_init;                                                         \
    for (long n = 0; n < iters; n++) {                                                        \
      _Pragma("GCC unroll 12") for (int i = 0; i < CHAINS; i++) acc[i] = STEP(acc[i], a, b); \
    }                                                                                         \
    float s = 0;                                                                              \
    for (int i = 0; i < CHAINS; i++) s += SUM(acc[i]);                                        \
    static volatile float sink;                                                               \
    sink = s;                                                                                 \
    return NULL;                                                                              \
  }

#define FMA_STEP(acc, a, b) FMA(acc, a, b)
CHAIN_KERNEL(run_fma, vec, SET1(0.999999f), SET1(1e-7f), FMA_STEP)

#if defined(__AVX512BF16__)
// AVX512-BF16's pair products (`vdpbf16ps`: per f32 lane, two bf16 products added to the
// accumulator, 4 flops), the instruction of the bf16 inference mode.
#define PAIRS(x) _mm512_cvtne2ps_pbh(_mm512_set1_ps(x), _mm512_set1_ps(x))
#define PAIR_STEP(acc, a, b) _mm512_dpbf16_ps(acc, a, b)
CHAIN_KERNEL(run_bf16, __m512bh, PAIRS(1e-3f), PAIRS(1e-3f), PAIR_STEP)
#endif

// Three timed runs of `kernel` on `threads` threads, each thread `flops_per_iter` per iteration.
static void measure(const char *what, void *(*kernel)(void *), double flops_per_iter,
                    int threads) {
  long iters = ITERS / 4;
  pthread_t t[64];
  for (int round = 0; round < 3; round++) {
    double start = now();
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, kernel, &iters);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double secs = now() - start;
    double flops = flops_per_iter * (double)iters * threads;
    printf("%d thread(s), %s: %.1f GFLOP/s (%.1f per thread)\n", threads, what,
           flops / secs / 1e9, flops / secs / 1e9 / threads);
  }
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  if (threads < 1 || threads > 64) threads = 1;
  char what[32];
  snprintf(what, sizeof what, "%d-lane FMA", WIDTH);
  measure(what, run_fma, 2.0 * WIDTH * CHAINS, threads);
#if defined(__AVX512BF16__)
  measure("bf16 pair products", run_bf16, 4.0 * 16 * CHAINS, threads);
#endif
  return 0;
}
