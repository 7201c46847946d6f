/*
 * textout.c: values and rows as JSON and CSV text (forms: textout.h).
 *
 * ALGORITHM
 *   Doubles: print with %.15g, read back with strtod, and keep it when the bits are
 *   identical; else %.16g, else %.17g (which always round-trips for IEEE binary64).
 *   This gives the short form for values typed by people ("0.1", not
 *   "0.10000000000000001") and exactness for everything else. The process must use
 *   the "C" LC_NUMERIC locale (the CLI never calls setlocale).
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

#include <inttypes.h>
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
}

void irs__textbuf_free(irs_textbuf *b)
{
	if (b->data)
		irs__free(b->mem, b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
}

int irs__textbuf_reserve(irs_textbuf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return 0;
	if (extra > SIZE_MAX / 2 - b->len)
		return IRS_ENOMEM;
	size_t want = b->len + extra;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	char *p = b->data ? irs__realloc(b->mem, b->data, b->cap, cap) : irs__malloc(b->mem, cap);
	if (!p)
		return IRS_ENOMEM;
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
	int n = 0;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(out, IRS_TEXT_DOUBLE_MAX, "%.*g", prec, d);
		double back = strtod(out, NULL);
		if (memcmp(&back, &d, sizeof d) == 0)
			break;
	}
	return (size_t)n;
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
	int n = snprintf(out, IRS_TEXT_TIMESTAMP_MAX, "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ",
			 (unsigned)y, m, d, secs / 3600, secs / 60 % 60, secs % 60, frac);
	return (size_t)n;
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

int irs__text_json_string(irs_textbuf *b, const void *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = str;
	/* Worst case: every byte becomes \u00XX (6 bytes). Reserve in pieces. */
	if (put_c(b, '"'))
		return IRS_ENOMEM;
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && s[j] >= 0x20 && s[j] != '"' && s[j] != '\\')
			j++;
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
	}
	return put_c(b, '"');
}

static int put_int(irs_textbuf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
	return irs__textbuf_put(b, tmp, (size_t)n);
}

static int put_uint(irs_textbuf *b, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
	return irs__textbuf_put(b, tmp, (size_t)n);
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

int irs__text_jsonl_row(irs_textbuf *b, const irs_schema_table *t, const irs_value *row)
{
	if (put_c(b, '{'))
		return IRS_ENOMEM;
	for (uint32_t i = 0; i < t->ncols; i++) {
		if (i && irs__textbuf_put(b, ", ", 2))
			return IRS_ENOMEM;
		const char *name = t->cols[i].name;
		if (irs__text_json_string(b, name, strlen(name)) || irs__textbuf_put(b, ": ", 2))
			return IRS_ENOMEM;
		int rc = irs__text_json_value(b, t->cols[i].type, &row[i]);
		if (rc)
			return rc;
	}
	return irs__textbuf_put(b, "}\n", 2);
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
