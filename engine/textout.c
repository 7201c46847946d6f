/*
 * textout.c: values and rows as JSON and CSV text (forms: textout.h).
 *
 * ALGORITHM
 *   Doubles: the shortest text that reads back identical: the fewest significant
 *   digits for which a decimal reads back (strtod) to the same bits, the one nearest
 *   the value when several do, written as ECMAScript's Number::toString (and so
 *   JSON.stringify) writes them ("0.1", "1000", "5e-324", "1e+21"), except that -0.0
 *   is "-0.0". irs__text_double says why 15, 16 and 17 digits suffice to try for most
 *   values. The first 20 digits are found once (digits20.c, without printf but for
 *   exact ties and subnormals); each candidate is rounded from them (digits_round) and
 *   whether it reads back is settled by its distance from them against half an ulp
 *   (reads_back_near), printf and strtod deciding only the few cases those digits
 *   cannot. The process must use the "C" LC_NUMERIC locale (the
 *   CLI never calls setlocale).
 *   Integers and timestamps are written digit by digit, JSON strings with nothing to
 *   escape (found 8 bytes at a time) in one copy: printf's general path was most of
 *   an export's time.
 *   Timestamps: floor-divide the microseconds into days and time of day, then the
 *   days-to-civil-date algorithm of H. Hinnant ("chrono-Compatible Low-Level Date
 *   Algorithms"), valid for every int64 without overflow.
 *
 * INVARIANTS
 *   b->len <= b->cap; data is allocated through b->mem with size b->cap; every
 *   append either fully happens or returns IRS_ENOMEM leaving the contents unchanged
 *   up to the call (a row append may leave a partial row: the caller resets).
 */
#include "textout.h"

#include "digits20.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void irs__textbuf_init(irs_textbuf *b, irs_mem *mem)
{
	b->mem = mem ? mem : irs__mem_default();
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void irs__textbuf_free(irs_textbuf *b)
{
	if (b->data)
		irs__free(b->mem, b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}

int irs__textbuf_reserve(irs_textbuf *b, size_t extra)
{
	if (b->failed)
		return IRS_ENOMEM;
	if (b->cap - b->len >= extra)
		return 0;
	b->failed = true; /* until it grows */
	if (extra > SIZE_MAX / 2 - b->len)
		return IRS_ENOMEM;
	size_t want = b->len + extra;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	char *p = b->data ? irs__realloc(b->mem, b->data, b->cap, cap) : irs__malloc(b->mem, cap);
	if (!p)
		return IRS_ENOMEM;
	b->failed = false;
	b->data = p;
	b->cap = cap;
	return 0;
}

int irs__textbuf_put(irs_textbuf *b, const void *p, size_t n)
{
	if (irs__textbuf_reserve(b, n))
		return IRS_ENOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static int put_c(irs_textbuf *b, char c)
{
	if (b->len == b->cap && irs__textbuf_reserve(b, 1))
		return IRS_ENOMEM;
	b->data[b->len++] = c;
	return 0;
}

static int put_s(irs_textbuf *b, const char *s)
{
	return irs__textbuf_put(b, s, strlen(s));
}

int irs__textbuf_cstr(irs_textbuf *b)
{
	if (irs__textbuf_reserve(b, 1))
		return IRS_ENOMEM;
	b->data[b->len] = '\0';
	return 0;
}

/*
 * The p significant decimal digits of |d| rounded to nearest (p <= 17), NUL-terminated
 * in dig[], and the decimal exponent of the first one, from printf's %.*e.
 */
static int decimal_digits(double d, int p, char *dig)
{
	char e[40];
	snprintf(e, sizeof e, "%.*e", p - 1, fabs(d));
	int n = 0;
	const char *c = e;
	for (; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			dig[n++] = *c;
	dig[n] = '\0';
	return atoi(c + 1);
}

/* Adds one unit in the last place of the n digits in dig[]; the exponent of the result
 * (one more when 99..9 carries into 100..0). */
static int digits_increment(char *dig, int n, int exp)
{
	int i = n - 1;
	while (i >= 0 && dig[i] == '9')
		dig[i--] = '0';
	if (i >= 0) {
		dig[i]++;
		return exp;
	}
	dig[0] = '1';
	return exp + 1;
}

#define WIDE 20 /* the digits of d found once (WIDE > 17): irs__digits20's, or printf's */

/*
 * decimal_digits(d, p) for p < WIDE, from d's WIDE digits w (exponent ew) without asking
 * printf again. Rounding the exact value of d and rounding its WIDE-digit rounding give
 * the same p digits unless the WIDE-p digits dropped are exactly 5 followed by zeros:
 * the WIDE-digit rounding moved the value by at most half a unit of its last digit, so
 * only a dropped tail of exactly one half can lie on the other side of the halfway
 * point from the exact one (printf then decides, from the exact value). A carry out of
 * the WIDE-digit rounding (...999 up to 1000...) is one the p-digit rounding makes too.
 * *dist gets the distance between the p-digit result and w, in units of w's last digit.
 */
static int digits_round(double d, const char *w, int ew, int p, char *dig, double *dist)
{
	_Static_assert(WIDE <= 20, "19 dropped digits and their unit fit in 64 bits");
	uint64_t tail = 0, unit = 1; /* the dropped digits as a number, and one unit of p */
	for (int i = p; i < WIDE; i++) {
		tail = tail * 10 + (uint64_t)(w[i] - '0');
		unit *= 10;
	}
	*dist = (double)(tail <= unit / 2 ? tail : unit - tail);
	if (tail == unit / 2)
		return decimal_digits(d, p, dig);
	memcpy(dig, w, (size_t)p);
	dig[p] = '\0';
	return tail < unit / 2 ? ew : digits_increment(dig, p, ew);
}

/* True when the text reads back (strtod, round to nearest) to exactly d. */
static bool reads_back(const char *text, double d)
{
	double back = strtod(text, NULL);
	return memcmp(&back, &d, sizeof d) == 0;
}

/*
 * Half an ulp of d (normal, not a power of two) in units of the last of its WIDE digits
 * w: strtod takes a decimal to d when it lies closer to d than that (at exactly that,
 * when d's last bit is 0). It is w's digits x 2^-53 / (2 x the mantissa of d in
 * [0.5, 1)), to a relative 1e-15.
 */
static double half_ulp_units(double d, const char *w)
{
	int k;
	double f = frexp(fabs(d), &k), m = 0;
	for (int i = 0; i < WIDE; i++)
		m = m * 10 + (w[i] - '0');
	return m * 0x1p-54 / f;
}

/* Whether a decimal at dist units of w's last digit from w reads back to d, from h =
 * half_ulp_units(d, w): d lies within half a unit of w, so the distance settles it
 * unless it falls within a unit of h. 1 yes, 0 no, -1 not settled (ask strtod). */
static int reads_back_near(double dist, double h)
{
	if (dist + 0.5 < h * (1 - 1e-12))
		return 1;
	if (dist - 0.5 > h * (1 + 1e-12))
		return 0;
	return -1;
}

/*
 * Writes sign, digits and exponent as ECMAScript's Number::toString does (so as
 * JSON.stringify): with k significant digits (trailing zeros dropped) and the value
 * d.ddd x 10^exp, positional when -7 < exp < 21 ("1000", "0.000001", "123.5"), else
 * d[.ddd]e+X / d[.ddd]e-X ("1e+21", "5e-324", "1.5e-7"). Returns the length.
 */
static size_t format_es(bool neg, const char *dig, int p, int exp, char *out)
{
	int k = p;
	while (k > 1 && dig[k - 1] == '0')
		k--;
	size_t n = 0;
	if (neg)
		out[n++] = '-';
	if (exp >= 21 || exp < -6) {
		out[n++] = dig[0];
		if (k > 1) {
			out[n++] = '.';
			for (int i = 1; i < k; i++)
				out[n++] = dig[i];
		}
		out[n++] = 'e';
		out[n++] = exp < 0 ? '-' : '+';
		n += irs__text_uint((uint64_t)(exp < 0 ? -exp : exp), out + n);
		return n;
	}
	if (exp < 0) {
		out[n++] = '0';
		out[n++] = '.';
		for (int i = 0; i < -exp - 1; i++)
			out[n++] = '0';
		for (int i = 0; i < k; i++)
			out[n++] = dig[i];
	} else {
		for (int i = 0; i <= exp; i++)
			out[n++] = i < k ? dig[i] : '0';
		if (k > exp + 1) {
			out[n++] = '.';
			for (int i = exp + 1; i < k; i++)
				out[n++] = dig[i];
		}
	}
	out[n] = '\0';
	return n;
}

size_t irs__text_double(double d, char *out)
{
	if (isnan(d)) {
		memcpy(out, "NaN", 4);
		return 3;
	}
	if (isinf(d)) {
		if (d > 0) {
			memcpy(out, "Infinity", 9);
			return 8;
		}
		memcpy(out, "-Infinity", 10);
		return 9;
	}
	if (d == 0) {
		/* "-0" would read back as the integer 0 in many JSON readers */
		const char *z = signbit(d) ? "-0.0" : "0";
		memcpy(out, z, strlen(z) + 1);
		return strlen(z);
	}
	/*
	 * The fewest significant digits p whose nearest p-digit decimal reads back to d.
	 * For a normal double other than a power of two, trying 15, 16 and 17 digits (and
	 * dropping trailing zeros) finds it: the rounding interval of d is symmetric and
	 * narrower than the gap between 15-digit decimals, so no shorter decimal lies in it
	 * when the 15-digit one does. Subnormals (wide intervals) and powers of two (whose
	 * interval is twice as wide above d as below, so the nearest p-digit decimal may
	 * miss below while the next one up fits) search p from 1, trying that next one too.
	 * WIDE digits are found once (irs__digits20, or printf); every p-digit candidate is
	 * rounded from them, and whether it reads back is mostly settled by its distance
	 * (reads_back_near).
	 */
	uint64_t bits;
	memcpy(&bits, &d, sizeof bits);
	bool pow2 = (bits & ((UINT64_C(1) << 52) - 1)) == 0;
	bool search = pow2 || fabs(d) < DBL_MIN;
	char w[WIDE + 8], dig[24];
	int ew, exp;
	if (!irs__digits20(d, w, &ew))
		ew = decimal_digits(d, WIDE, w);
	double dist, h = search ? 0 : half_ulp_units(d, w);
	for (int p = search ? 1 : 15; p < 17; p++) {
		exp = digits_round(d, w, ew, p, dig, &dist);
		int near = search ? -1 : reads_back_near(dist, h);
		if (near) {
			size_t n = format_es(signbit(d), dig, p, exp, out);
			if (near > 0 || reads_back(out, d))
				return n;
		}
		if (pow2) {
			exp = digits_increment(dig, p, exp);
			size_t n = format_es(signbit(d), dig, p, exp, out);
			if (reads_back(out, d))
				return n;
		}
	}
	/* 17 significant digits always read back (IEEE 754 binary64) */
	exp = digits_round(d, w, ew, 17, dig, &dist);
	return format_es(signbit(d), dig, 17, exp, out);
}

/* Writes v (< 10^width) as exactly width decimal digits, zero-padded; returns the end. */
static char *put_digits(char *o, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		o[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return o + width;
}

size_t irs__text_uint(uint64_t v, char *out)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[sizeof tmp - ++n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(out, tmp + sizeof tmp - n, n);
	out[n] = '\0';
	return n;
}

size_t irs__text_int(int64_t v, char *out)
{
	if (v >= 0)
		return irs__text_uint((uint64_t)v, out);
	out[0] = '-';
	return 1 + irs__text_uint(0 - (uint64_t)v, out + 1); /* INT64_MIN too */
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

size_t irs__text_timestamp(int64_t us, char *out)
{
	const int64_t day_us = INT64_C(86400000000);
	int64_t days = us / day_us;
	int64_t rem = us % day_us;
	if (rem < 0) {
		rem += day_us;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return 0;
	unsigned secs = (unsigned)(rem / 1000000);
	unsigned frac = (unsigned)(rem % 1000000);
	/* YYYY-MM-DDTHH:MM:SS.ffffffZ, every field zero-padded to its width */
	char *o = out;
	o = put_digits(o, (unsigned)y, 4);
	*o++ = '-';
	o = put_digits(o, m, 2);
	*o++ = '-';
	o = put_digits(o, d, 2);
	*o++ = 'T';
	o = put_digits(o, secs / 3600, 2);
	*o++ = ':';
	o = put_digits(o, secs / 60 % 60, 2);
	*o++ = ':';
	o = put_digits(o, secs % 60, 2);
	*o++ = '.';
	o = put_digits(o, frac, 6);
	*o++ = 'Z';
	*o = '\0';
	return (size_t)(o - out);
}

int irs__text_base64(irs_textbuf *b, const void *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *s = p;
	if (n > (SIZE_MAX / 4) * 3 - 3)
		return IRS_ENOMEM;
	size_t outlen = (n + 2) / 3 * 4;
	if (irs__textbuf_reserve(b, outlen))
		return IRS_ENOMEM;
	char *o = b->data + b->len;
	size_t i = 0;
	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		*o++ = tab[v >> 18];
		*o++ = tab[v >> 12 & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		*o++ = tab[v >> 18];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = '=';
	}
	b->len += outlen;
	return 0;
}

/* The length of the prefix of s[0..len) that JSON takes as it is: no control byte, no
 * '"' and no '\\'. Eight bytes at a time (the tests of "Bit Twiddling Hacks": a byte
 * below 0x20, a byte equal to 0x22 or 0x5C; each is exact for the word as a whole),
 * then byte by byte from the first word that holds one. */
static size_t json_plain_prefix(const uint8_t *s, size_t len)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w, q, bs;
		memcpy(&w, s + i, 8);
		q = w ^ (ones * '"');
		bs = w ^ (ones * '\\');
		if (((w - ones * 0x20) & ~w & highs) | ((q - ones) & ~q & highs) | ((bs - ones) & ~bs & highs))
			break;
	}
	while (i < len && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
		i++;
	return i;
}

int irs__text_json_string(irs_textbuf *b, const void *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = str;
	size_t j = json_plain_prefix(s, len); /* the end of the plain run from i */
	if (j == len) { /* nothing to escape, the common case: one copy */
		if (len > SIZE_MAX - 2 || irs__textbuf_reserve(b, len + 2))
			return IRS_ENOMEM;
		char *o = b->data + b->len;
		o[0] = '"';
		if (len)
			memcpy(o + 1, s, len);
		o[len + 1] = '"';
		b->len += len + 2;
		return 0;
	}
	/* Worst case: every byte becomes \u00XX (6 bytes). Reserve in pieces. */
	if (put_c(b, '"'))
		return IRS_ENOMEM;
	for (size_t i = 0;;) {
		if (j > i && irs__textbuf_put(b, s + i, j - i))
			return IRS_ENOMEM;
		if (j == len)
			break;
		char esc[6] = {'\\', 0, 0, 0, 0, 0};
		size_t elen = 2;
		switch (s[j]) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[s[j] >> 4];
			esc[5] = hex[s[j] & 15];
			elen = 6;
		}
		if (irs__textbuf_put(b, esc, elen))
			return IRS_ENOMEM;
		i = j + 1;
		j = i + json_plain_prefix(s + i, len - i);
	}
	return put_c(b, '"');
}

static int put_int(irs_textbuf *b, int64_t v)
{
	char tmp[IRS_TEXT_INT_MAX];
	return irs__textbuf_put(b, tmp, irs__text_int(v, tmp));
}

static int put_uint(irs_textbuf *b, uint64_t v)
{
	char tmp[IRS_TEXT_INT_MAX];
	return irs__textbuf_put(b, tmp, irs__text_uint(v, tmp));
}

#define NOT_A_NUMBER 1 /* put_number: the type is not bool or integer */

/* Appends a bool or integer value: the same text in JSON and in CSV. Returns 0,
 * IRS_ENOMEM, or NOT_A_NUMBER for the other types. */
static int put_number(irs_textbuf *b, irs_type type, const irs_value *v)
{
	switch (type) {
	case IRS_TYPE_BOOL:
		return put_s(b, v->v.b ? "true" : "false");
	case IRS_TYPE_INT32:
	case IRS_TYPE_INT64:
		return put_int(b, v->v.i64);
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64:
		return put_uint(b, v->v.u64);
	default:
		return NOT_A_NUMBER;
	}
}

int irs__text_json_value(irs_textbuf *b, irs_type type, const irs_value *v)
{
	if (v->state != IRS_VALUE_SET)
		return put_s(b, "null");
	int rc = put_number(b, type, v);
	if (rc != NOT_A_NUMBER)
		return rc;
	char tmp[IRS_TEXT_DOUBLE_MAX > IRS_TEXT_TIMESTAMP_MAX ? IRS_TEXT_DOUBLE_MAX
							     : IRS_TEXT_TIMESTAMP_MAX];
	size_t n;
	switch (type) {
	case IRS_TYPE_DOUBLE:
		n = irs__text_double(v->v.d, tmp);
		if (isfinite(v->v.d))
			return irs__textbuf_put(b, tmp, n);
		return irs__text_json_string(b, tmp, n);
	default:
		break;
	case IRS_TYPE_UTF8:
		return irs__text_json_string(b, v->v.s.ptr, v->v.s.len);
	case IRS_TYPE_BYTES:
		if (irs__utf8_valid(v->v.s.ptr, v->v.s.len))
			return irs__text_json_string(b, v->v.s.ptr, v->v.s.len);
		if (put_s(b, "{\"base64\": \"") || irs__text_base64(b, v->v.s.ptr, v->v.s.len))
			return IRS_ENOMEM;
		return put_s(b, "\"}");
	case IRS_TYPE_TIMESTAMP:
		n = irs__text_timestamp(v->v.i64, tmp);
		if (!n)
			return put_int(b, v->v.i64);
		if (put_c(b, '"') || irs__textbuf_put(b, tmp, n))
			return IRS_ENOMEM;
		return put_c(b, '"');
	}
	return IRS_EINVAL;
}

/* True when a CSV field holding s[0..len) must be quoted (textout.h). */
static bool csv_needs_quotes(const uint8_t *s, size_t len)
{
	if (len == 0)
		return true;
	if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t')
		return true;
	if (len == 2 && s[0] == '\\' && s[1] == '.')
		return true;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return true;
	return false;
}

int irs__text_csv_field(irs_textbuf *b, const void *str, size_t len)
{
	const uint8_t *s = str;
	if (!csv_needs_quotes(s, len))
		return irs__textbuf_put(b, s, len);
	if (put_c(b, '"'))
		return IRS_ENOMEM;
	size_t i = 0;
	while (i < len) {
		const uint8_t *q = memchr(s + i, '"', len - i);
		size_t j = q ? (size_t)(q - s) + 1 : len; /* include the quote, then double it */
		if (irs__textbuf_put(b, s + i, j - i))
			return IRS_ENOMEM;
		if (q && put_c(b, '"'))
			return IRS_ENOMEM;
		i = j;
	}
	return put_c(b, '"');
}

int irs__text_csv_value(irs_textbuf *b, irs_type type, const irs_value *v)
{
	if (v->state != IRS_VALUE_SET)
		return 0;
	int rc = put_number(b, type, v);
	if (rc != NOT_A_NUMBER)
		return rc;
	char tmp[IRS_TEXT_DOUBLE_MAX > IRS_TEXT_TIMESTAMP_MAX ? IRS_TEXT_DOUBLE_MAX
							     : IRS_TEXT_TIMESTAMP_MAX];
	size_t n;
	switch (type) {
	case IRS_TYPE_DOUBLE:
		n = irs__text_double(v->v.d, tmp);
		return irs__textbuf_put(b, tmp, n);
	default:
		break;
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES:
		return irs__text_csv_field(b, v->v.s.ptr, v->v.s.len);
	case IRS_TYPE_TIMESTAMP:
		n = irs__text_timestamp(v->v.i64, tmp);
		if (!n)
			return put_int(b, v->v.i64);
		return irs__textbuf_put(b, tmp, n);
	}
	return IRS_EINVAL;
}

/* The text before column i's value in a JSONL row: `"name": `, after ", " but for the first. */
static int jsonl_prefix(irs_textbuf *b, const irs_schema_table *t, uint32_t i)
{
	const char *name = t->cols[i].name;
	if ((i && irs__textbuf_put(b, ", ", 2)) || irs__text_json_string(b, name, strlen(name)) ||
	    irs__textbuf_put(b, ": ", 2))
		return IRS_ENOMEM;
	return 0;
}

/* A JSONL row, each column's prefix copied from n when given, else escaped here. */
static int jsonl_row(irs_textbuf *b, const irs_schema_table *t, const irs_jsonl_names *n,
		     const irs_value *row)
{
	if (put_c(b, '{'))
		return IRS_ENOMEM;
	for (uint32_t i = 0; i < t->ncols; i++) {
		if (n ? irs__textbuf_put(b, n->text.data + n->at[i], n->at[i + 1] - n->at[i])
		      : jsonl_prefix(b, t, i))
			return IRS_ENOMEM;
		int rc = irs__text_json_value(b, t->cols[i].type, &row[i]);
		if (rc)
			return rc;
	}
	return irs__textbuf_put(b, "}\n", 2);
}

int irs__text_jsonl_row(irs_textbuf *b, const irs_schema_table *t, const irs_value *row)
{
	return jsonl_row(b, t, NULL, row);
}

int irs__jsonl_names_init(irs_jsonl_names *n, const irs_schema_table *t, irs_mem *mem)
{
	irs__textbuf_init(&n->text, mem);
	n->ncols = t->ncols;
	n->at = irs__calloc(n->text.mem, sizeof *n->at * ((size_t)t->ncols + 1));
	if (!n->at)
		return IRS_ENOMEM;
	for (uint32_t i = 0; i < t->ncols; i++) {
		n->at[i] = n->text.len;
		if (jsonl_prefix(&n->text, t, i))
			return IRS_ENOMEM;
	}
	n->at[t->ncols] = n->text.len;
	return 0;
}

void irs__jsonl_names_free(irs_jsonl_names *n)
{
	irs__free(n->text.mem, n->at, sizeof *n->at * ((size_t)n->ncols + 1));
	n->at = NULL;
	irs__textbuf_free(&n->text);
}

int irs__text_jsonl_row_named(irs_textbuf *b, const irs_jsonl_names *n, const irs_schema_table *t,
			      const irs_value *row)
{
	if (n->ncols != t->ncols)
		return IRS_EINVAL; /* names made for another table */
	return jsonl_row(b, t, n, row);
}

int irs__text_csv_row(irs_textbuf *b, const irs_schema_table *t, const irs_value *row)
{
	for (uint32_t i = 0; i < t->ncols; i++) {
		if (i && put_c(b, ','))
			return IRS_ENOMEM;
		int rc = irs__text_csv_value(b, t->cols[i].type, &row[i]);
		if (rc)
			return rc;
	}
	return put_c(b, '\n');
}

int irs__text_csv_header(irs_textbuf *b, const irs_schema_table *t)
{
	for (uint32_t i = 0; i < t->ncols; i++) {
		if (i && put_c(b, ','))
			return IRS_ENOMEM;
		const char *name = t->cols[i].name;
		if (irs__text_csv_field(b, name, strlen(name)))
			return IRS_ENOMEM;
	}
	return put_c(b, '\n');
}
