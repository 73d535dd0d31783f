// Peak f32 multiply-add rate of this CPU's AVX-512 units: each thread runs 12 independent chains of 512-bit FMAs
// (enough to cover the FMA latency on two ports), so the rate is the machine's ceiling for an f32 matrix product.
// Build and run by hand (never by tests):
//     gcc -O3 -funroll-loops -march=native -pthread scripts/bench/peak_fma.c -o /tmp/peak_fma && /tmp/peak_fma 2
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12
#define ITERATIONS 100000000L

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *unused) {
    (void)unused;
    __m512 acc[CHAINS];
    const __m512 scale = _mm512_set1_ps(0.999999f), shift = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < ITERATIONS; k++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], scale, shift);
    float sum = 0;
    for (int i = 0; i < CHAINS; i++) sum += _mm512_reduce_add_ps(acc[i]);
    static volatile float sink;
    sink = sum; // keeps the chains from being optimized away
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "usage: %s [threads 1..64]\n", argv[0]);
        return 1;
    }
    pthread_t t[64];
    double start = now();
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, NULL);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double seconds = now() - start;
    printf("%d thread(s): %.1f GFLOP/s f32 (AVX-512 FMA)\n", threads, threads * (double)ITERATIONS * CHAINS * 16 * 2 / seconds / 1e9);
    return 0;
}
