/*
 * gen_random.h (private to the CLI): the randomness of `increstore gen`: a hash, two
 * generators and the distributions the model draws from, all deterministic for a
 * seed and identical on every machine.
 *
 *   irs_gen_mix64       splitmix64's finalizer: a bijective 64-bit hash. The model
 *                       describes every value and every column set as a hash of
 *                       (salt, id, version), so it never stores them.
 *   irs_gen_splitmix    splitmix64: seeds the others, and fills generated strings.
 *   irs_gen_rng         xoshiro256**: the per-(table, backup) stream that picks the
 *                       operations and the ids they touch.
 *   irs_gen_zipf        Zipf(theta) over [0, n) (Gray et al.'s method, as YCSB), with
 *                       the rank scrambled by a multiplicative permutation of [0, n)
 *                       so that the hot keys are spread over the key space.
 *   irs_gen_pow/_pow2i  portable math. The CLI does not link libm, and libm's pow()
 *                       may differ by an ulp between builds, which would break "same
 *                       seed, same bytes" for zipf. These are plain IEEE double
 *                       arithmetic (no FMA contraction in ISO C mode), accurate to a
 *                       few ulps, which is all Zipf sampling needs.
 */
#ifndef IRS_CLI_GEN_RANDOM_H
#define IRS_CLI_GEN_RANDOM_H

#include <stdint.h>
#include <string.h>

static inline uint64_t irs_gen_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9u;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebu;
	x ^= x >> 31;
	return x;
}

/* The next value of the splitmix64 sequence whose state is *s. */
static inline uint64_t irs_gen_splitmix(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15u;
	return irs_gen_mix64(*s);
}

/* ------------------------------------------------------------------ xoshiro256** */

typedef struct irs_gen_rng {
	uint64_t s[4];
} irs_gen_rng;

/* Seeds x from one 64-bit seed (through splitmix64, as xoshiro's authors advise). */
void irs_gen_rng_seed(irs_gen_rng *x, uint64_t seed);
uint64_t irs_gen_rng_next(irs_gen_rng *x);

/* Uniform in [0, n), n > 0 (the modulo bias is far below anything measurable here). */
static inline uint64_t irs_gen_rng_below(irs_gen_rng *x, uint64_t n)
{
	return irs_gen_rng_next(x) % n;
}

/* Uniform in [0, 1) with 53 bits. */
static inline double irs_gen_rng_double(irs_gen_rng *x)
{
	return (double)(irs_gen_rng_next(x) >> 11) * 0x1.0p-53;
}

/* A probability p as a 53-bit threshold: an event happens iff (hash >> 11) < threshold. */
uint64_t irs_gen_threshold(double p);

/* ------------------------------------------------------------------ math */

/* 2^e for -1022 <= e <= 1023, exactly. */
static inline double irs_gen_pow2i(int e)
{
	uint64_t b = (uint64_t)(e + 1023) << 52;
	double d;
	memcpy(&d, &b, sizeof d);
	return d;
}

/* x^y for x >= 0 (0 for x <= 0). */
double irs_gen_pow(double x, double y);

/* ------------------------------------------------------------------ Zipf */

/*
 * Zipf(theta) ranks over [0, n). zeta(n) is extended incrementally, so preparing for
 * a larger n costs only the new terms. Zero-initialise, then irs_gen_zipf_prepare
 * before the draws of each backup. The draws of a backup pass the current n, which
 * grows as the backup inserts keys; the constants stay those of the prepared n. The
 * tail is then approximate; computing them per draw would change what a seed generates.
 */
typedef struct irs_gen_zipf {
	uint64_t zeta_n;          /* zetan sums 1/i^theta for i in [1, zeta_n] */
	double zetan, zeta2, alpha, eta;
	uint64_t mul;             /* scramble multiplier, coprime to the prepared n */
} irs_gen_zipf;

/* Extends zeta to n and refreshes the derived constants and the scramble. */
void irs_gen_zipf_prepare(irs_gen_zipf *z, uint64_t n, double theta);

/* A scrambled Zipf draw in [0, n), n > 0: rank * mul mod n (no draw from x when n < 2). */
uint64_t irs_gen_zipf_next(const irs_gen_zipf *z, irs_gen_rng *x, double theta, uint64_t n);

#endif
