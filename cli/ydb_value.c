/*
 * ydb_value.c: splitting and parsing the fields of a YDB dump's data files
 * (ydb_value.h has the text forms and the type mapping).
 *
 * The rules follow the reader YDB itself restores dumps with (MakeCell in
 * ydb/core/io_formats/cell_maker/cell_maker.cpp): a bare `null` is NULL for every type;
 * strings must be quoted and are CGI-unescaped; doubles go through double-conversion
 * with "inf"/"nan" symbols, leading spaces and hex allowed and nothing after the
 * number; Date/Datetime/Timestamp through TInstant's ISO 8601 parser and are then
 * truncated to days / seconds and range-checked against 2106-01-01; Interval is an
 * integer whose magnitude stays below that same bound.
 *
 * The hot path is one pass over each field with no allocation: integers are
 * accumulated directly, strings decoded in place.
 */
#include "ydb_value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "engine/cli_support.h"
#include "import.h"

/* YDB's MAX_DATE (days), MAX_DATETIME (seconds) and MAX_TIMESTAMP (microseconds):
 * 2106-01-01T00:00:00Z, exclusive. */
#define YDB_MAX_DATE 49673
#define YDB_MAX_DATETIME (86400LL * YDB_MAX_DATE)
#define YDB_MAX_TIMESTAMP (YDB_MAX_DATETIME * 1000000LL)
#define US_PER_DAY (86400LL * 1000000LL)

static const struct {
	const char *name;
	irs_type type;
} kinds[IRS_YDB_KIND_COUNT] = {
	[IRS_YDB_UNSUPPORTED] = {"?", (irs_type)0},
	[IRS_YDB_BOOL] = {"Bool", IRS_TYPE_BOOL},
	[IRS_YDB_INT8] = {"Int8", IRS_TYPE_INT32},
	[IRS_YDB_INT16] = {"Int16", IRS_TYPE_INT32},
	[IRS_YDB_INT32] = {"Int32", IRS_TYPE_INT32},
	[IRS_YDB_INT64] = {"Int64", IRS_TYPE_INT64},
	[IRS_YDB_UINT8] = {"Uint8", IRS_TYPE_UINT32},
	[IRS_YDB_UINT16] = {"Uint16", IRS_TYPE_UINT32},
	[IRS_YDB_UINT32] = {"Uint32", IRS_TYPE_UINT32},
	[IRS_YDB_UINT64] = {"Uint64", IRS_TYPE_UINT64},
	[IRS_YDB_FLOAT] = {"Float", IRS_TYPE_DOUBLE},
	[IRS_YDB_DOUBLE] = {"Double", IRS_TYPE_DOUBLE},
	[IRS_YDB_DATE] = {"Date", IRS_TYPE_TIMESTAMP},
	[IRS_YDB_DATETIME] = {"Datetime", IRS_TYPE_TIMESTAMP},
	[IRS_YDB_TIMESTAMP] = {"Timestamp", IRS_TYPE_TIMESTAMP},
	[IRS_YDB_INTERVAL] = {"Interval", IRS_TYPE_INT64},
	[IRS_YDB_STRING] = {"String", IRS_TYPE_BYTES},
	[IRS_YDB_UTF8] = {"Utf8", IRS_TYPE_UTF8},
	[IRS_YDB_YSON] = {"Yson", IRS_TYPE_BYTES},
	[IRS_YDB_JSON] = {"Json", IRS_TYPE_UTF8},
	[IRS_YDB_JSON_DOCUMENT] = {"JsonDocument", IRS_TYPE_UTF8},
};

const char *irs_ydb_kind_name(irs_ydb_kind k)
{
	return (unsigned)k < IRS_YDB_KIND_COUNT ? kinds[k].name : "?";
}

irs_type irs_ydb_kind_type(irs_ydb_kind k)
{
	return (unsigned)k < IRS_YDB_KIND_COUNT ? kinds[k].type : (irs_type)0;
}

size_t irs_ydb_split(char *line, size_t len, irs_ydb_field *fields, size_t max)
{
	size_t n = 0;
	char *p = line, *end = line + len;
	for (;;) {
		char *c = memchr(p, ',', (size_t)(end - p));
		char *fe = c ? c : end;
		if (n < max) {
			fields[n].ptr = p;
			fields[n].len = (size_t)(fe - p);
		}
		n++;
		if (!c)
			return n;
		p = c + 1;
	}
}

size_t irs_ydb_cgi_unescape(char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < len) {
			int h = irs_cli_hexval((unsigned char)s[i + 1]), l = irs_cli_hexval((unsigned char)s[i + 2]);
			if (h >= 0 && l >= 0) {
				c = (char)(h << 4 | l);
				i += 2;
			}
		}
		s[o++] = c;
	}
	return o;
}

/* [+-]digits into a magnitude: 1, 0 on a syntax error, -1 when above UINT64_MAX. */
static int parse_digits(const char *s, size_t len, bool allow_minus, bool *neg, uint64_t *mag)
{
	size_t i = 0;
	*neg = false;
	if (i < len && (s[i] == '+' || (allow_minus && s[i] == '-'))) {
		*neg = s[i] == '-';
		i++;
	}
	if (i == len)
		return 0;
	uint64_t v = 0;
	bool over = false;
	for (; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9)
			return 0;
		if (v > (UINT64_MAX - d) / 10)
			over = true;
		v = v * 10 + d;
	}
	*mag = v;
	return over ? -1 : 1;
}

static const char *parse_signed(const char *s, size_t len, int64_t lo, int64_t hi, const char *range,
				irs_value *out)
{
	bool neg;
	uint64_t mag;
	int r = parse_digits(s, len, true, &neg, &mag);
	if (r == 0)
		return "not an integer";
	if (r < 0 || (neg ? mag > (uint64_t)hi + 1 || (int64_t)(0 - mag) < lo : mag > (uint64_t)hi))
		return range;
	out->v.i64 = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	out->state = IRS_VALUE_SET;
	return NULL;
}

static const char *parse_unsigned(const char *s, size_t len, uint64_t hi, const char *range,
				  irs_value *out)
{
	bool neg;
	uint64_t mag;
	if (len && s[0] == '-')
		return range;
	int r = parse_digits(s, len, false, &neg, &mag);
	if (r == 0)
		return "not an unsigned integer";
	if (r < 0 || mag > hi)
		return range;
	out->v.u64 = mag;
	out->state = IRS_VALUE_SET;
	return NULL;
}

static bool word_is(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && strncasecmp(s, w, len) == 0;
}

static const char *parse_bool(const char *s, size_t len, irs_value *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
	for (int i = 0; i < 4; i++) {
		if (word_is(s, len, yes[i]) || word_is(s, len, no[i])) {
			out->v.b = word_is(s, len, yes[i]);
			out->state = IRS_VALUE_SET;
			return NULL;
		}
	}
	return "not a Bool (1 or 0)";
}

/* Like double-conversion with ALLOW_LEADING_SPACES | ALLOW_HEX and the symbols "inf"
 * and "nan": the whole field must be the number. */
static const char *parse_double(const char *s, size_t len, double *out)
{
	static const char bad[] = "not a number";
	size_t i = 0;
	while (i < len && s[i] == ' ')
		i++;
	size_t start = i;
	bool neg = false;
	if (i < len && (s[i] == '+' || s[i] == '-')) {
		neg = s[i] == '-';
		i++;
	}
	if (len - i == 3 && memcmp(s + i, "inf", 3) == 0) {
		*out = neg ? -INFINITY : INFINITY;
		return NULL;
	}
	if (len - i == 3 && memcmp(s + i, "nan", 3) == 0) {
		*out = NAN;
		return NULL;
	}
	bool hex = len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X');
	size_t digits = 0;
	if (hex) {
		for (i += 2; i < len && irs_cli_hexval((unsigned char)s[i]) >= 0; i++)
			digits++;
	} else {
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (i < len && s[i] == '.')
			for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
				digits++;
		if (digits && i < len && (s[i] == 'e' || s[i] == 'E')) {
			i++;
			if (i < len && (s[i] == '+' || s[i] == '-'))
				i++;
			size_t ed = 0;
			for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
				ed++;
			if (!ed)
				return bad;
		}
	}
	if (!digits || i != len)
		return bad;
	char buf[512];
	if (len - start >= sizeof buf)
		return "number too long";
	memcpy(buf, s + start, len - start);
	buf[len - start] = '\0';
	*out = strtod(buf, NULL); /* out of range gives +-inf (or 0), as double-conversion */
	return NULL;
}

static const char *parse_instant(const char *s, size_t len, int64_t *us)
{
	const char *r;
	if (len == 10) {
		char buf[32];
		memcpy(buf, s, 10);
		memcpy(buf + 10, "T00:00:00Z", 11);
		r = irs_import_parse_rfc3339(buf, 20, us);
	} else {
		r = irs_import_parse_rfc3339(s, len, us);
	}
	if (r)
		return "not an ISO 8601 time (YYYY-MM-DDThh:mm:ss.ffffffZ)";
	if (*us < 0)
		return "before 1970-01-01, the start of YDB's Date, Datetime and Timestamp";
	return NULL;
}

static const char *parse_string(char *s, size_t len, bool utf8, irs_value *out)
{
	out->v.s.ptr = NULL; /* not decoded (yet) */
	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return "not a quoted string";
	size_t n = irs_ydb_cgi_unescape(s + 1, len - 2);
	out->v.s.ptr = s + 1;
	out->v.s.len = n;
	if (utf8 && !irs__utf8_valid((const uint8_t *)s + 1, n))
		return "invalid UTF-8 after percent-decoding";
	out->state = IRS_VALUE_SET;
	return NULL;
}

const char *irs_ydb_parse_field(irs_ydb_kind k, char *s, size_t len, irs_value *out)
{
	if (len == 4 && memcmp(s, "null", 4) == 0) {
		out->state = IRS_VALUE_NULL;
		return NULL;
	}
	const char *r;
	int64_t us;
	switch (k) {
	case IRS_YDB_BOOL:
		return parse_bool(s, len, out);
	case IRS_YDB_INT8:
		return parse_signed(s, len, INT8_MIN, INT8_MAX, "out of range for Int8", out);
	case IRS_YDB_INT16:
		return parse_signed(s, len, INT16_MIN, INT16_MAX, "out of range for Int16", out);
	case IRS_YDB_INT32:
		return parse_signed(s, len, INT32_MIN, INT32_MAX, "out of range for Int32", out);
	case IRS_YDB_INT64:
		return parse_signed(s, len, INT64_MIN, INT64_MAX, "out of range for Int64", out);
	case IRS_YDB_INTERVAL:
		return parse_signed(s, len, -YDB_MAX_TIMESTAMP + 1, YDB_MAX_TIMESTAMP - 1,
				    "out of range for Interval (|x| < 4291747200000000)", out);
	case IRS_YDB_UINT8:
		return parse_unsigned(s, len, UINT8_MAX, "out of range for Uint8", out);
	case IRS_YDB_UINT16:
		return parse_unsigned(s, len, UINT16_MAX, "out of range for Uint16", out);
	case IRS_YDB_UINT32:
		return parse_unsigned(s, len, UINT32_MAX, "out of range for Uint32", out);
	case IRS_YDB_UINT64:
		return parse_unsigned(s, len, UINT64_MAX, "out of range for Uint64", out);
	case IRS_YDB_FLOAT:
	case IRS_YDB_DOUBLE:
		if ((r = parse_double(s, len, &out->v.d)) != NULL)
			return r;
		if (k == IRS_YDB_FLOAT)
			out->v.d = (double)(float)out->v.d;
		out->state = IRS_VALUE_SET;
		return NULL;
	case IRS_YDB_DATE:
	case IRS_YDB_DATETIME:
	case IRS_YDB_TIMESTAMP:
		if ((r = parse_instant(s, len, &us)) != NULL)
			return r;
		if (k == IRS_YDB_DATE) {
			us -= us % US_PER_DAY;
			if (us / US_PER_DAY >= YDB_MAX_DATE)
				return "out of range for Date (before 2106-01-01)";
		} else if (k == IRS_YDB_DATETIME) {
			us -= us % 1000000;
			if (us / 1000000 >= YDB_MAX_DATETIME)
				return "out of range for Datetime (before 2106-01-01)";
		} else if (us >= YDB_MAX_TIMESTAMP) {
			return "out of range for Timestamp (before 2106-01-01)";
		}
		out->v.i64 = us;
		out->state = IRS_VALUE_SET;
		return NULL;
	case IRS_YDB_STRING:
	case IRS_YDB_YSON:
		return parse_string(s, len, false, out);
	case IRS_YDB_UTF8:
	case IRS_YDB_JSON:
	case IRS_YDB_JSON_DOCUMENT:
		return parse_string(s, len, true, out);
	case IRS_YDB_UNSUPPORTED:
	case IRS_YDB_KIND_COUNT:
		break;
	}
	return "unsupported YDB type";
}
