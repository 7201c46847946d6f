/*
 * test_textout.c: the number and string texts of engine/textout.c. The text of a double
 * (irs__text_double) is the shortest that reads back identical, spelled as docs/cli.md says (ECMAScript's
 * Number::toString, as JSON.stringify writes numbers; -0.0 as "-0.0").
 *
 * SPELLING: fixed cases (5e-324, -0.0, 0, 1000, 1e+21, 1e-7, 0.1, DBL_MAX, ...).
 * SHORTEST: for random bit patterns (normal and subnormal), every power of two (whose
 * rounding interval is lopsided) and decimal-looking values, the text must read back to
 * the same bits (strtod) and equal, byte for byte, the one a Python script builds from
 * repr() (the shortest round-trip digits by David Gay's algorithm, nearest the value)
 * with ECMAScript's layout rules: an independent reference.
 * AGAINST PRINTF AND STRTOD: irs__text_double finds 20 digits once (digits20.c, printf
 * for exact ties and subnormals) and rounds and judges its candidates from them, so the test also checks it against its definition
 * (reads back; no shorter decimal does; printf's nearest digits) where that shortcut has
 * edges: 15- and 16-digit decimals followed by a 5 (ties), powers of two, subnormals.
 * The 20 digits themselves (engine/digits20.c) against printf's %.19e, over every
 * exponent, the neighbours of every power of ten and values a hair from a tie.
 * Integers and timestamps against printf; JSON strings against an escaper that goes a
 * byte at a time, with every escaped byte at every position (the scan takes 8 at once).
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/digits20.h"
#include "engine/textout.h"
#include "test_util.h"

static void test_spellings(void **state)
{
	(void)state;
	static const struct {
		double d;
		const char *text;
	} cases[] = {
		{5e-324, "5e-324"},
		{-5e-324, "-5e-324"},
		{1e-323, "1e-323"},
		{-0.0, "-0.0"},
		{0.0, "0"},
		{0.1, "0.1"},
		{-2.5, "-2.5"},
		{100, "100"},
		{1000, "1000"},
		{74930000, "74930000"},
		{1e15, "1000000000000000"},
		{1e20, "100000000000000000000"},
		{1e21, "1e+21"},
		{1.5e21, "1.5e+21"},
		{1e100, "1e+100"},
		{0.000001, "0.000001"},
		{1e-7, "1e-7"},
		{-1.5e-7, "-1.5e-7"},
		{0.0001234, "0.0001234"},
		{1.0 / 3.0, "0.3333333333333333"},
		{0.30000000000000004, "0.30000000000000004"},
		{123456.789, "123456.789"},
		{DBL_MAX, "1.7976931348623157e+308"},
		{DBL_MIN, "2.2250738585072014e-308"},
		{9007199254740992.0, "9007199254740992"},
		{9007199254740993.0, "9007199254740992"}, /* the same double */
		{18446744073709551616.0, "18446744073709552000"},
		{INFINITY, "Infinity"},
		{-INFINITY, "-Infinity"},
		{NAN, "NaN"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[IRS_TEXT_DOUBLE_MAX];
		size_t n = irs__text_double(cases[i].d, buf);
		if (strcmp(buf, cases[i].text) != 0)
			fail_msg("%.17g: \"%s\", want \"%s\"", cases[i].d, buf, cases[i].text);
		assert_int_equal(n, strlen(cases[i].text));
	}
}

static void test_shortest_against_python(void **state)
{
	(void)state;
	if (system("python3 -c 'pass' 2>/dev/null") != 0)
		skip(); /* python3 is in ci/deps.sh; without it there is no reference */
	enum { NRAND = 60000 };
	size_t cap = NRAND + 2200 + 2000;
	double *ds = malloc(cap * sizeof *ds);
	size_t n = 0;
	uint64_t rng = 42;
	while (n < NRAND) {
		uint64_t bits = tu_rand(&rng);
		if (n % 4 == 0)
			bits &= 0x800FFFFFFFFFFFFFull; /* subnormals */
		double d;
		memcpy(&d, &bits, 8);
		if (isfinite(d) && d != 0)
			ds[n++] = d;
	}
	for (int k = -1074; k <= 1023; k++)
		ds[n++] = ldexp(1.0, k);
	for (int i = 0; i < 2000; i++) {
		/* values people type: few digits, any scale */
		double m = (double)(tu_rand_below(&rng, 100000) + 1);
		ds[n++] = m * pow(10.0, (double)((int)tu_rand_below(&rng, 600) - 300));
	}
	char in[] = "/tmp/irs_test_textout_XXXXXX";
	int fd = mkstemp(in);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	for (size_t i = 0; i < n; i++) {
		uint64_t bits;
		memcpy(&bits, &ds[i], 8);
		fprintf(f, "%016llx\n", (unsigned long long)bits);
	}
	fclose(f);
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "python3 -c '\n"
		 "import struct, sys\n"
		 "from decimal import Decimal\n"
		 "def es(x):\n"
		 "    r = repr(x)\n"
		 "    t = Decimal(r.lstrip(\"-\")).as_tuple()\n"
		 "    exp = len(t.digits) + t.exponent - 1\n"
		 "    d = \"\".join(map(str, t.digits)).rstrip(\"0\")\n"
		 "    k = len(d)\n"
		 "    if exp >= 21 or exp < -6:\n"
		 "        s = d[0] + (\".\" + d[1:] if k > 1 else \"\") + \"e\" + (\"-\" if exp < 0 else \"+\") + str(abs(exp))\n"
		 "    elif exp < 0:\n"
		 "        s = \"0.\" + \"0\" * (-exp - 1) + d\n"
		 "    else:\n"
		 "        s = d[:exp + 1].ljust(exp + 1, \"0\") + (\".\" + d[exp + 1:] if k > exp + 1 else \"\")\n"
		 "    return (\"-\" if r.startswith(\"-\") else \"\") + s\n"
		 "for l in open(sys.argv[1]):\n"
		 "    print(es(struct.unpack(\">d\", bytes.fromhex(l.strip()))[0]))\n"
		 "' %s",
		 in);
	FILE *py = popen(cmd, "r");
	assert_non_null(py);
	char line[64];
	size_t i = 0;
	int failures = 0;
	for (; i < n && fgets(line, sizeof line, py); i++) {
		line[strcspn(line, "\n")] = '\0';
		char ours[IRS_TEXT_DOUBLE_MAX];
		irs__text_double(ds[i], ours);
		double back = strtod(ours, NULL);
		if (memcmp(&back, &ds[i], 8) != 0 || strcmp(ours, line) != 0) {
			if (failures++ < 5)
				fprintf(stderr, "%a: ours \"%s\", reference \"%s\"\n", ds[i], ours, line);
		}
	}
	pclose(py);
	unlink(in);
	free(ds);
	assert_int_equal(i, n);
	assert_int_equal(failures, 0);
}

/* ---- number texts against printf and strtod */

/* The significant digits of a number text (sign, point and exponent dropped, leading
 * and trailing zeros too) and the decimal exponent of the first one. */
static int text_digits(const char *text, char *dig)
{
	int n = 0, point = -1, lead = 0, exp = 0;
	const char *c = text + (*text == '-');
	for (; *c && *c != 'e'; c++) {
		if (*c == '.') {
			point = (int)(c - text) - (*text == '-');
			continue;
		}
		if (n == 0 && *c == '0') {
			lead++;
			continue;
		}
		dig[n++] = *c;
	}
	int intdigits = point < 0 ? lead + n : point; /* digits before the point */
	if (*c == 'e')
		exp = atoi(c + 1);
	while (n > 1 && dig[n - 1] == '0')
		n--;
	dig[n] = '\0';
	return exp + intdigits - lead - 1;
}

/* True when the decimal m x 10^x (exact text) reads back to exactly d. */
static bool decimal_reads_back(int64_t m, int x, double d)
{
	char t[48];
	snprintf(t, sizeof t, "%" PRId64 "e%d", m, x);
	double v = strtod(t, NULL);
	return memcmp(&v, &d, sizeof d) == 0;
}

/* Checks irs__text_double(d) against its definition: it reads back to d; no decimal
 * with fewer significant digits does (the nearest one and its two neighbours are the
 * only candidates); its digits are printf's nearest decimal with that many (or, for a
 * power of two, possibly the next one up). */
static void check_double_text(double d)
{
	char out[IRS_TEXT_DOUBLE_MAX], e[48], dig[24], want[24];
	assert_true(isfinite(d));
	irs__text_double(d, out);
	double back = strtod(out, NULL);
	if (memcmp(&back, &d, sizeof d) != 0)
		fail_msg("%a: \"%s\" reads back as %a", d, out, back);
	if (d == 0)
		return;
	int exp = text_digits(out, dig), k = (int)strlen(dig);
	snprintf(e, sizeof e, "%.*e", k - 1, d);
	int wexp = text_digits(e, want);
	uint64_t bits;
	memcpy(&bits, &d, sizeof bits);
	bool pow2 = !(bits & ((UINT64_C(1) << 52) - 1));
	if ((strcmp(dig, want) != 0 || exp != wexp) && !pow2)
		fail_msg("%a: \"%s\" is not the nearest %d-digit decimal (%s)", d, out, k, e);
	if (k == 1)
		return;
	/* the nearest (k-1)-digit decimal, m x 10^x, and its neighbours do not read back */
	snprintf(e, sizeof e, "%.*e", k - 2, fabs(d));
	int64_t m = 0;
	const char *c = e;
	for (; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			m = m * 10 + (*c - '0');
	assert_int_equal(*c, 'e');
	int x = atoi(c + 1) - (k - 2);
	int64_t sign = signbit(d) ? -1 : 1;
	for (int64_t step = -1; step <= 1; step++)
		if (decimal_reads_back(sign * (m + step), x, d))
			fail_msg("%a: \"%s\" but %" PRId64 "e%d reads back too", d, out, sign * (m + step), x);
}

static void test_text_numbers_match_printf(void **state)
{
	(void)state;
	uint64_t rng = 20261202;
	char out[64], ref[64];
	/* integers: every length, both signs, the ends */
	static const int64_t ints[] = {0, 1, -1, 9, 10, -10, 99, 100, INT32_MAX, INT32_MIN,
				       INT64_MAX, INT64_MIN, INT64_MIN + 1, 999999999999999999,
				       1000000000000000000};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		snprintf(ref, sizeof ref, "%" PRId64, ints[i]);
		assert_int_equal(irs__text_int(ints[i], out), strlen(ref));
		assert_string_equal(out, ref);
	}
	for (int i = 0; i < 200000; i++) {
		uint64_t u = tu_rand(&rng) >> (tu_rand(&rng) % 64);
		snprintf(ref, sizeof ref, "%" PRIu64, u);
		assert_int_equal(irs__text_uint(u, out), strlen(ref));
		assert_string_equal(out, ref);
		snprintf(ref, sizeof ref, "%" PRId64, (int64_t)u);
		assert_int_equal(irs__text_int((int64_t)u, out), strlen(ref));
		assert_string_equal(out, ref);
	}
	snprintf(ref, sizeof ref, "%" PRIu64, UINT64_MAX);
	irs__text_uint(UINT64_MAX, out);
	assert_string_equal(out, ref);
	/* timestamps in range: printf's zero-padded fields */
	const int64_t lo = INT64_C(-62167219200000000), hi = INT64_C(253402300799999999);
	for (int i = 0; i < 200000; i++) {
		int64_t us = lo + (int64_t)tu_rand_below(&rng, (uint64_t)(hi - lo) + 1);
		if (i < 2)
			us = i ? hi : lo;
		size_t n = irs__text_timestamp(us, out);
		int64_t day = INT64_C(86400000000), days = us / day, rem = us % day;
		if (rem < 0) {
			rem += day;
			days--;
		}
		time_t t = (time_t)(days * 86400);
		struct tm tm;
		gmtime_r(&t, &tm);
		unsigned secs = (unsigned)(rem / 1000000);
		snprintf(ref, sizeof ref, "%04d-%02d-%02dT%02u:%02u:%02u.%06uZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, secs / 3600, secs / 60 % 60, secs % 60,
			 (unsigned)(rem % 1000000));
		assert_int_equal(n, strlen(ref));
		assert_string_equal(out, ref);
	}
	/* doubles: random bit patterns (every exponent), random decimals of 15 and 16 digits
	 * followed by a 5 (the 17-digit rounding then ends in 50 or 5, where the digits of
	 * fewer places are printf's to decide), powers of two, subnormals */
	for (int i = 0; i < 100000; i++) {
		uint64_t bits = tu_rand(&rng);
		double d;
		memcpy(&d, &bits, sizeof d);
		if (isfinite(d))
			check_double_text(d);
	}
	for (int i = 0; i < 40000; i++) {
		char dec[48];
		int p = 15 + i % 2;
		uint64_t m = 1 + tu_rand_below(&rng, 9);
		for (int j = 1; j < p; j++)
			m = m * 10 + tu_rand_below(&rng, 10);
		snprintf(dec, sizeof dec, "%" PRIu64 "%se%d", m, p == 15 ? "50" : "5",
			 (int)tu_rand_below(&rng, 600) - 300);
		double d = strtod(dec, NULL);
		if (isfinite(d) && d != 0)
			check_double_text(d);
	}
	for (int x = -1074; x <= 1023; x++)
		check_double_text(ldexp(1.0, x));
	for (int i = 0; i < 20000; i++) {
		uint64_t bits = tu_rand(&rng) & ((UINT64_C(1) << 52) - 1);
		double d;
		memcpy(&d, &bits, sizeof d);
		if (d != 0)
			check_double_text(d);
	}
}

/* JSON text of s by the rules, a byte at a time: the reference for the fast scan. */
/* irs__digits20(d) against printf("%.19e", |d|): the same 20 digits and exponent
 * whenever it answers. Returns whether it answered. */
static bool check_digits20(double d)
{
	char w[24], ref[40];
	int exp;
	if (!irs__digits20(d, w, &exp))
		return false;
	snprintf(ref, sizeof ref, "%.19e", fabs(d));
	char want[24];
	int n = 0;
	const char *c = ref;
	for (; *c != 'e'; c++)
		if (*c != '.')
			want[n++] = *c;
	want[n] = '\0';
	if (strcmp(w, want) != 0 || exp != atoi(c + 1))
		fail_msg("%a: digits20 %s e%d, printf %s", d, w, exp, ref);
	return true;
}

/*
 * A double's 20 digits without printf (engine/digits20.c), against printf: random bit
 * patterns (every exponent), every power of ten and its neighbours (where the decimal
 * exponent estimate is off by one and the digits carry into the next power), values a
 * hair from the halfway points of 20 digits (16-17 significant digits, then 5, then
 * noise), small integers and every power of two. It must decline zero, subnormals,
 * infinities and NaN, and answer nearly every other value (printf is its fallback).
 */
static void test_digits20_matches_printf(void **state)
{
	(void)state;
	uint64_t rng = 777;
	long asked = 0, answered = 0;
	for (int i = 0; i < 1000000; i++) {
		uint64_t bits = tu_rand(&rng);
		double d;
		memcpy(&d, &bits, sizeof d);
		if (!isnormal(d))
			continue;
		asked++;
		answered += check_digits20(d);
	}
	for (int k = -307; k <= 308; k++) {
		char dec[16];
		snprintf(dec, sizeof dec, "1e%d", k);
		double p = strtod(dec, NULL);
		double near[] = {p, nextafter(p, 0), nextafter(p, INFINITY), nextafter(nextafter(p, 0), 0)};
		for (size_t j = 0; j < sizeof near / sizeof near[0]; j++)
			if (isnormal(near[j])) {
				asked++;
				answered += check_digits20(near[j]);
			}
	}
	/* m x 2^-k, m odd: exactly digits(m x 5^k) significant digits, the last a 5, so
	 * for k about 6-8 an exact tie at the 21st digit, and near ties around it */
	long ties = 0;
	for (int i = 0; i < 200000; i++) {
		uint64_t m = (tu_rand(&rng) >> 11) | (UINT64_C(1) << 52) | 1;
		int k = 1 + (int)(tu_rand(&rng) % 24);
		double d = ldexp((double)m, -k);
		ties += !irs__digits20(d, (char[24]){0}, &(int){0});
		check_digits20(d);
		check_digits20(nextafter(d, 0));
	}
	assert_true(ties > 0); /* the fallback was reached */
	for (int64_t v = 1; v < 100000; v++) /* exact: the fraction is 0 */
		assert_true(check_digits20((double)v));
	for (int x = -1022; x <= 1023; x++)
		check_digits20(ldexp(1.0, x));
	static const double declined[] = {0.0, -0.0, 5e-324, 2.2250738585072009e-308, INFINITY, -INFINITY, NAN};
	char w[24];
	int exp;
	for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++)
		assert_false(irs__digits20(declined[i], w, &exp));
	print_message("  digits20: %ld of %ld random and power-of-ten neighbour doubles answered without printf\n",
		      answered, asked);
	assert_true(answered >= asked - asked / 1000);
}

static size_t json_reference(const uint8_t *s, size_t len, char *out)
{
	size_t n = 0;
	out[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];
		const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
				: c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
		if (esc) {
			n += (size_t)sprintf(out + n, "%s", esc);
		} else if (c < 0x20) {
			n += (size_t)sprintf(out + n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n++] = '"';
	return n;
}

/* Every byte that JSON escapes, and bytes next to them in value, at every position of
 * strings from 1 to 40 bytes (the scan takes 8 at a time), amid ASCII and UTF-8 bytes. */
static void test_json_string_escapes(void **state)
{
	(void)state;
	static const uint8_t fill[] = {'a', 0xC3, 0xA9, '!', '#', '[', ']', 0x7F, 0xFF, 0x80, '0', ' '};
	uint8_t special[40];
	size_t nspecial = 0;
	for (int c = 0; c < 0x20; c++)
		special[nspecial++] = (uint8_t)c;
	special[nspecial++] = '"';
	special[nspecial++] = '\\';
	special[nspecial++] = 0x21; /* neighbours: taken as they are */
	special[nspecial++] = 0x5B;
	special[nspecial++] = 0x5D;
	irs_textbuf b;
	irs__textbuf_init(&b, NULL);
	uint8_t str[40];
	char want[40 * 6 + 3];
	for (size_t len = 0; len <= 40; len++) {
		for (size_t at = 0; at < (len ? len : 1); at++) {
			for (size_t k = 0; k < nspecial; k++) {
				for (size_t i = 0; i < len; i++)
					str[i] = fill[(i + k) % sizeof fill];
				if (len)
					str[at] = special[k];
				irs__textbuf_reset(&b);
				assert_int_equal(irs__text_json_string(&b, str, len), 0);
				size_t n = json_reference(str, len, want);
				if (b.len != n || memcmp(b.data, want, n) != 0)
					fail_msg("length %zu, byte 0x%02x at %zu: %.*s, want %.*s", len, special[k], at,
						 (int)b.len, b.data, (int)n, want);
			}
		}
	}
	irs__textbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_shortest_against_python),
		cmocka_unit_test(test_text_numbers_match_printf),
		cmocka_unit_test(test_digits20_matches_printf),
		cmocka_unit_test(test_json_string_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
