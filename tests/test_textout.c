/*
 * test_textout.c: the text of a double (engine/textout.c, irs__text_double) is the
 * shortest that reads back identical, spelled as docs/cli.md says (ECMAScript's
 * Number::toString, as JSON.stringify writes numbers; -0.0 as "-0.0").
 *
 * SPELLING: fixed cases (5e-324, -0.0, 0, 1000, 1e+21, 1e-7, 0.1, DBL_MAX, ...).
 * SHORTEST: for random bit patterns (normal and subnormal), every power of two (whose
 * rounding interval is lopsided) and decimal-looking values, the text must read back to
 * the same bits (strtod) and equal, byte for byte, the one a Python script builds from
 * repr() (the shortest round-trip digits by David Gay's algorithm, nearest the value)
 * with ECMAScript's layout rules: an independent reference.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_shortest_against_python),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
