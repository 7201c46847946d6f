/*
 * digits20.c: the first 20 significant decimal digits of a double, rounded to nearest,
 * exactly as printf("%.19e") writes them, without printf's multiple-precision path.
 * textout.c rounds every candidate text of a double from these digits.
 *
 * ALGORITHM: a normal double |d| is m x 2^e with m < 2^53. For the s that puts
 * |d| x 10^s in [10^19, 10^20), |d| x 10^s = m x 10^s x 2^e ~= m x P x 2^(e+b), where
 * 10^s ~= P x 2^b is a 128-bit mantissa P (top bit set) from a table built once: from
 * 10^0, each power is the one before times or over ten, truncated to 128 bits, so its
 * relative error stays below 330 x 2^-127 < 2^-118. The 181-bit product m x P, shifted
 * by -(e+b), gives the integer part N (20 digits, < 2^67) and 64 bits of fraction. N's
 * error is then below 2^-51 of a unit, far less than the 2^-40 margin: the fraction
 * rounds N correctly unless it lies within 2^-40 of one half. That case (an exact tie,
 * whose rounding printf decides by its own rule, or one too close to call) and
 * subnormals return false, and the caller asks printf. The estimate of the decimal
 * exponent may be one off either way; N outside [10^19, 10^20) moves s and tries again.
 *
 * THREADS: the table is built once (pthread_once) and then only read.
 */
#include "digits20.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#define POW_MIN (-300) /* 10^s for s in [POW_MIN, POW_MAX]: every normal double's s, +-1 */
#define POW_MAX 330

typedef unsigned __int128 u128;

typedef struct pow10_approx {
	u128 p;    /* in [2^127, 2^128) */
	int32_t b; /* 10^s ~= p x 2^b */
} pow10_approx;

static pow10_approx pow10_table[POW_MAX - POW_MIN + 1];
static pthread_once_t pow10_once = PTHREAD_ONCE_INIT;

static int bits_of(uint64_t v)
{
	return v ? 64 - __builtin_clzll(v) : 0;
}

static void pow10_init(void)
{
	pow10_approx *zero = &pow10_table[-POW_MIN];
	zero->p = (u128)1 << 127;
	zero->b = -127;
	for (int s = 1; s <= POW_MAX; s++) {
		/* ten times the last one is 131-132 bits: hi:lo, then back to 128 bits */
		const pow10_approx *prev = &pow10_table[s - 1 - POW_MIN];
		u128 lo = (u128)(uint64_t)prev->p * 10, hi = (u128)(uint64_t)(prev->p >> 64) * 10 + (lo >> 64);
		int k = bits_of((uint64_t)(hi >> 64)); /* hi < 2^68: the bits past 128 */
		pow10_table[s - POW_MIN].p = (hi << (64 - k)) | ((u128)(uint64_t)lo >> k);
		pow10_table[s - POW_MIN].b = prev->b + k;
	}
	for (int s = -1; s >= POW_MIN; s--) {
		/* a tenth of the last one, shifted back up by 3 or 4 bits: floor(p << k / 10),
		 * the remainder's share added exactly */
		const pow10_approx *prev = &pow10_table[s + 1 - POW_MIN];
		u128 q = prev->p / 10;
		unsigned r = (unsigned)(prev->p % 10);
		int k = 127 - (bits_of((uint64_t)(q >> 64)) + 63);
		pow10_table[s - POW_MIN].p = (q << k) + ((u128)(r << k) / 10);
		pow10_table[s - POW_MIN].b = prev->b - k;
	}
}

/* Writes v (< 10^10) as exactly 10 decimal digits. */
static void put10(char *o, uint64_t v)
{
	for (int i = 9; i >= 0; i--) {
		o[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

bool irs__digits20(double d, char *w, int *exp)
{
	uint64_t bits;
	memcpy(&bits, &d, sizeof bits);
	unsigned be = (unsigned)(bits >> 52) & 0x7FF;
	if (be == 0 || be == 0x7FF)
		return false; /* zero, subnormal, inf, NaN */
	uint64_t m = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
	int e = (int)be - 1075; /* |d| = m x 2^e */
	pthread_once(&pow10_once, pow10_init);
	const u128 lo20 = (u128)UINT64_C(10000000000000000000), hi20 = lo20 * 10;
	int k = (int)floor((e + 52) * 0.30102999566398120); /* about floor(log10 |d|) */
	for (int tries = 0; tries < 3; tries++) {
		int s = 19 - k;
		if (s < POW_MIN || s > POW_MAX)
			return false;
		const pow10_approx *pw = &pow10_table[s - POW_MIN];
		/* R = m x p, 181 bits: r2:r1:r0 */
		u128 a = (u128)m * (uint64_t)pw->p, c = (u128)m * (uint64_t)(pw->p >> 64);
		u128 mid = (a >> 64) + (uint64_t)c;
		uint64_t r0 = (uint64_t)a, r1 = (uint64_t)mid;
		uint64_t r2 = (uint64_t)(c >> 64) + (uint64_t)(mid >> 64);
		int t = -(e + pw->b) - 64; /* |d| x 10^s ~= R >> (64 + t) */
		if (t <= 0 || t >= 64)
			return false;
		u128 top = ((u128)r2 << 64) | r1;
		u128 n = top >> t;
		uint64_t frac = ((uint64_t)top << (64 - t)) | (r0 >> t);
		if (n < lo20) {
			k--;
			continue;
		}
		if (n >= hi20) {
			k++;
			continue;
		}
		const uint64_t half = UINT64_C(1) << 63;
		if ((frac > half ? frac - half : half - frac) < (UINT64_C(1) << 24))
			return false;
		n += frac > half;
		*exp = k;
		if (n == hi20) { /* 99..9.5 and up rounds to 10^20: 1.000..e(k+1) */
			n = lo20;
			(*exp)++;
		}
		uint64_t high = (uint64_t)(n / 10000000000u), low = (uint64_t)(n % 10000000000u);
		put10(w, high);
		put10(w + 10, low);
		w[20] = '\0';
		return true;
	}
	return false;
}
