/*
 * import_values.c: the text forms of values the importers accept (import.h, VALUES):
 * exact integer parsing with range checks, doubles with their special names, RFC 3339
 * timestamps and strict base64. Used by the CSV importer for every field, by the JSON
 * importer for numbers and strings, and by tests directly.
 *
 * Integers are parsed digit by digit into a uint64 magnitude with overflow checks,
 * never through strtoll, so that every out-of-range value is reported as such (with
 * the type's range) instead of being clamped. Timestamps convert the civil date with
 * days_from_civil (proleptic Gregorian, no libc time zone involved).
 */
#include "importer.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_scan.h" /* irs_json_utf8_valid */

static const char *range_reason(irs_type t)
{
	switch (t) {
	case IRS_TYPE_INT32: return "out of range for int32 (-2147483648..2147483647)";
	case IRS_TYPE_INT64: return "out of range for int64 (-9223372036854775808..9223372036854775807)";
	case IRS_TYPE_UINT32: return "out of range for uint32 (0..4294967295)";
	case IRS_TYPE_UINT64: return "out of range for uint64 (0..18446744073709551615)";
	case IRS_TYPE_TIMESTAMP: return "out of range for timestamp (int64 microseconds)";
	default: return "out of range";
	}
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Decimal digits s[0..len) (at least one, nothing else) into *out; false on overflow
 * or a non-digit (*bad says which). */
static bool parse_digits(const char *s, size_t len, uint64_t *out, bool *bad)
{
	uint64_t v = 0;
	*bad = false;
	if (len == 0) {
		*bad = true;
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i])) {
			*bad = true;
			return false;
		}
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Stores sign/magnitude as an integer of type t; NULL or the range reason. */
static const char *int_store(irs_type t, bool neg, uint64_t mag, irs_value *v)
{
	const uint64_t i64_neg_max = (uint64_t)INT64_MAX + 1;
	switch (t) {
	case IRS_TYPE_INT32:
		if (neg ? mag > (uint64_t)INT32_MAX + 1 : mag > INT32_MAX)
			return range_reason(t);
		v->v.i64 = neg ? -(int64_t)mag : (int64_t)mag;
		break;
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP:
		if (neg ? mag > i64_neg_max : mag > INT64_MAX)
			return range_reason(t);
		v->v.i64 = !neg ? (int64_t)mag : mag == i64_neg_max ? INT64_MIN : -(int64_t)mag;
		break;
	case IRS_TYPE_UINT32:
		if ((neg && mag) || mag > UINT32_MAX)
			return range_reason(t);
		v->v.u64 = mag;
		break;
	case IRS_TYPE_UINT64:
		if (neg && mag)
			return range_reason(t);
		v->v.u64 = mag;
		break;
	default:
		return "not an integer type";
	}
	v->state = IRS_VALUE_SET;
	return NULL;
}

/* [+-]?digits as type t. */
const char *irs_import_parse_int(irs_type t, const char *s, size_t len, irs_value *v)
{
	bool neg = false;
	if (len && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		s++;
		len--;
	}
	uint64_t mag;
	bool bad;
	if (!parse_digits(s, len, &mag, &bad))
		return bad ? "expected an integer" : range_reason(t);
	return int_store(t, neg, mag, v);
}

static bool ieq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* NaN and the infinities by name (any case), as export writes them. */
bool irs_import_double_special(const char *s, size_t len, double *d)
{
	if (ieq(s, len, "nan")) {
		*d = NAN;
		return true;
	}
	bool neg = false;
	const char *p = s;
	size_t n = len;
	if (n && (p[0] == '-' || p[0] == '+')) {
		neg = p[0] == '-';
		p++;
		n--;
	}
	if (ieq(p, n, "infinity") || ieq(p, n, "inf")) {
		*d = neg ? -INFINITY : INFINITY;
		return true;
	}
	return false;
}

/* A decimal floating-point text s[0..len), NUL at s[len]. */
static const char *parse_double_cstr(const char *s, size_t len, double *d)
{
	if (irs_import_double_special(s, len, d))
		return NULL;
	/* Only decimal syntax: strtod alone would also take hex floats and "nan(...)". */
	for (size_t i = 0; i < len; i++)
		if (!is_digit(s[i]) && s[i] != '.' && s[i] != 'e' && s[i] != 'E' && s[i] != '+' &&
		    s[i] != '-')
			return "expected a number";
	if (len == 0)
		return "expected a number";
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (end != s + len)
		return "expected a number";
	if (errno == ERANGE && isinf(x))
		return "out of range for double";
	*d = x;
	return NULL;
}

static int days_in_month(int64_t y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n digits at s as a number, or -1. */
static int64_t fixed_digits(const char *s, int n)
{
	int64_t v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

const char *irs_import_parse_rfc3339(const char *s, size_t len, int64_t *us)
{
	static const char bad[] =
		"not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.ffffff] and Z or +HH:MM)";
	if (len < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
		return bad;
	int64_t y = fixed_digits(s, 4), mo = fixed_digits(s + 5, 2), d = fixed_digits(s + 8, 2);
	int64_t h = fixed_digits(s + 11, 2), mi = fixed_digits(s + 14, 2), sec = fixed_digits(s + 17, 2);
	if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0)
		return bad;
	size_t p = 19;
	int64_t frac = 0;
	if (s[p] == '.') {
		p++;
		size_t nd = 0;
		while (p < len && is_digit(s[p])) {
			if (nd < 6)
				frac = frac * 10 + (s[p] - '0');
			else if (s[p] != '0')
				return "more precision than microseconds";
			nd++;
			p++;
		}
		if (nd == 0)
			return bad;
		for (; nd < 6; nd++)
			frac *= 10;
	}
	int64_t off = 0;
	if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
		p++;
	} else if (p < len && (s[p] == '+' || s[p] == '-')) {
		if (len - p < 6 || s[p + 3] != ':')
			return bad;
		int64_t oh = fixed_digits(s + p + 1, 2), om = fixed_digits(s + p + 4, 2);
		if (oh < 0 || om < 0)
			return bad;
		if (oh > 23 || om > 59)
			return "invalid UTC offset";
		off = (oh * 60 + om) * 60;
		if (s[p] == '-')
			off = -off;
		p += 6;
	} else {
		return bad;
	}
	if (p != len)
		return bad;
	if (mo < 1 || mo > 12)
		return "invalid month";
	if (d < 1 || d > days_in_month(y, (int)mo))
		return "invalid day of month";
	if (h > 23 || mi > 59)
		return "invalid time of day";
	if (sec == 60)
		return "leap second (:60) cannot be represented";
	if (sec > 59)
		return "invalid time of day";
	int64_t days = days_from_civil(y, (int)mo, (int)d);
	int64_t secs = ((days * 24 + h) * 60 + mi) * 60 + sec - off;
	*us = secs * 1000000 + frac;
	return NULL;
}

static int b64val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

const char *irs_import_base64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
	const uint8_t *s = (const uint8_t *)in;
	if (len % 4)
		return "invalid base64 (length is not a multiple of 4)";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int pad = 0;
		if (last && s[i + 3] == '=')
			pad = s[i + 2] == '=' ? 2 : 1;
		int v[4];
		for (int k = 0; k < 4 - pad; k++) {
			v[k] = b64val(s[i + (size_t)k]);
			if (v[k] < 0)
				return "invalid base64 character";
		}
		if (pad == 2) {
			if (v[1] & 0x0F)
				return "invalid base64 (non-zero padding bits)";
			out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		} else if (pad == 1) {
			if (v[2] & 0x03)
				return "invalid base64 (non-zero padding bits)";
			out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
			out[o++] = (uint8_t)((v[1] & 0x0F) << 4 | v[2] >> 2);
		} else {
			out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
			out[o++] = (uint8_t)((v[1] & 0x0F) << 4 | v[2] >> 2);
			out[o++] = (uint8_t)((v[2] & 0x03) << 6 | v[3]);
		}
	}
	*outlen = o;
	return NULL;
}

/* An integer text (optional sign, digits only)? Used to tell timestamp forms apart. */
static bool looks_integer(const char *s, size_t len)
{
	size_t i = len && (s[0] == '-' || s[0] == '+');
	if (i == len)
		return false;
	for (; i < len; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

const char *irs_import_parse_text(irs_type type, const char *s, size_t len, irs_value *v)
{
	switch (type) {
	case IRS_TYPE_BOOL:
		if (ieq(s, len, "true") || ieq(s, len, "t") || (len == 1 && s[0] == '1'))
			v->v.b = 1;
		else if (ieq(s, len, "false") || ieq(s, len, "f") || (len == 1 && s[0] == '0'))
			v->v.b = 0;
		else
			return "expected true or false";
		v->state = IRS_VALUE_SET;
		return NULL;
	case IRS_TYPE_INT32:
	case IRS_TYPE_INT64:
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64:
		return irs_import_parse_int(type, s, len, v);
	case IRS_TYPE_DOUBLE: {
		const char *r = parse_double_cstr(s, len, &v->v.d);
		if (!r)
			v->state = IRS_VALUE_SET;
		return r;
	}
	case IRS_TYPE_UTF8:
		if (!irs_json_utf8_valid(s, len))
			return "invalid UTF-8";
		/* fall through */
	case IRS_TYPE_BYTES:
		v->v.s.ptr = s;
		v->v.s.len = len;
		v->state = IRS_VALUE_SET;
		return NULL;
	case IRS_TYPE_TIMESTAMP:
		if (looks_integer(s, len))
			return irs_import_parse_int(type, s, len, v);
		{
			const char *r = irs_import_parse_rfc3339(s, len, &v->v.i64);
			if (!r)
				v->state = IRS_VALUE_SET;
			return r;
		}
	}
	return "unknown column type";
}

