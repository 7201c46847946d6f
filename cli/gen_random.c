/*
 * gen_random.c: xoshiro256**, probability thresholds, portable log/exp/pow and the
 * scrambled Zipf sampler of `increstore gen` (gen_random.h says why each exists).
 *
 * DETERMINISM: nothing here depends on the platform's libm or on the floating-point
 * environment beyond IEEE double rounding, so a seed gives the same draws, hence the
 * same segment files, on every machine.
 */
#include "gen_random.h"

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t irs_gen_rng_next(irs_gen_rng *x)
{
	uint64_t *s = x->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

void irs_gen_rng_seed(irs_gen_rng *x, uint64_t seed)
{
	uint64_t sm = seed;
	for (int i = 0; i < 4; i++)
		x->s[i] = irs_gen_splitmix(&sm);
}

uint64_t irs_gen_threshold(double p)
{
	if (p <= 0)
		return 0;
	if (p >= 1)
		return (uint64_t)1 << 53;
	return (uint64_t)(p * 0x1.0p53);
}

/* ------------------------------------------------------------------ math */

static double bits_double(uint64_t b)
{
	double d;
	memcpy(&d, &b, sizeof d);
	return d;
}

static const double LN2 = 0.693147180559945309417232121458176568;

/* Natural log of a finite x > 0 (normal numbers only, which is all we use). */
static double gen_log(double x)
{
	uint64_t b;
	memcpy(&b, &x, sizeof b);
	int e = (int)((b >> 52) & 0x7ff) - 1023;
	double m = bits_double((b & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1023) << 52)); /* [1, 2) */
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	/* ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172 */
	double s = (m - 1.0) / (m + 1.0), s2 = s * s, term = s, sum = 0;
	for (int k = 1; k < 60; k += 2) {
		double add = term / k;
		sum += add;
		if (add < 1e-18 && add > -1e-18)
			break;
		term *= s2;
	}
	return (double)e * LN2 + 2.0 * sum;
}

/* e^y; 0 below the double range, which is where Zipf's tail ends anyway. */
static double gen_exp(double y)
{
	if (y < -700)
		return 0;
	if (y > 700)
		y = 700;
	double kd = y / LN2;
	int k = (int)(kd < 0 ? kd - 0.5 : kd + 0.5);
	double r = y - (double)k * LN2, term = 1, sum = 1;
	for (int i = 1; i < 30; i++) {
		term *= r / i;
		sum += term;
		if (term < 1e-18 && term > -1e-18)
			break;
	}
	if (k < -1022)
		return sum * irs_gen_pow2i(-1022) * irs_gen_pow2i(k + 1022 < -1022 ? -1022 : k + 1022);
	return sum * irs_gen_pow2i(k);
}

double irs_gen_pow(double x, double y)
{
	if (x <= 0)
		return 0;
	return gen_exp(y * gen_log(x));
}

/* ------------------------------------------------------------------ Zipf */

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

void irs_gen_zipf_prepare(irs_gen_zipf *z, uint64_t n, double th)
{
	while (z->zeta_n < n) {
		z->zeta_n++;
		z->zetan += irs_gen_pow((double)z->zeta_n, -th);
	}
	z->alpha = 1.0 / (1.0 - th);
	z->zeta2 = 1.0 + irs_gen_pow(0.5, th);
	if (n >= 2)
		z->eta = (1.0 - irs_gen_pow(2.0 / (double)n, 1.0 - th)) / (1.0 - z->zeta2 / z->zetan);
	uint64_t m = UINT64_C(2654435761) % (n ? n : 1);
	while (n > 1 && (m == 0 || gcd64(m, n) != 1))
		m++;
	z->mul = m ? m : 1;
}

/* The Zipf rank in [0, n): 0 is the most frequent. */
static uint64_t zipf_rank(const irs_gen_zipf *z, irs_gen_rng *x, double theta, uint64_t n)
{
	if (n < 2)
		return 0;
	double u = irs_gen_rng_double(x), uz = u * z->zetan;
	if (uz < 1.0)
		return 0;
	if (uz < 1.0 + irs_gen_pow(0.5, theta))
		return 1;
	uint64_t r = (uint64_t)((double)n * irs_gen_pow(z->eta * u - z->eta + 1.0, z->alpha));
	return r < n ? r : n - 1;
}

uint64_t irs_gen_zipf_next(const irs_gen_zipf *z, irs_gen_rng *x, double theta, uint64_t n)
{
	return zipf_rank(z, x, theta, n) * z->mul % n;
}
