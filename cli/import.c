/*
 * import.c: streaming importers of rows (JSONL, CSV) and changes (JSONL) into a sink
 * (import.h has the formats, the value forms and the error format).
 *
 * ALGORITHM
 *   A line reader fills a buffer with read() chunks (or copies from a memory buffer)
 *   and hands out one line at a time, in place, so that strings can be unescaped and
 *   base64-decoded in place (both only shrink). Memory is bounded by the longest
 *   line (max_line) plus one chunk.
 *   JSONL: each line goes through the pull scanner (json_scan.h); object members are
 *   mapped to columns through a small open-addressing hash of the column names and
 *   parsed straight into an irs_value array, which is handed to the sink.
 *   CSV: each physical line (with its '\n') is fed to libcsv (strict mode, spaces are
 *   data, empty unquoted field -> NULL pointer); fields are copied into a record
 *   buffer and parsed when libcsv reports the end of the record. A record's line is
 *   the line on which libcsv was between records (csv_parser.pstate == 0).
 *
 * INVARIANTS
 *   vals[c].state is ABSENT for every column outside a record; the columns a record
 *   set are listed in touched[] and reset after it. seen[c] == gen marks a column
 *   already listed in the current JSON object.
 */
#include "import.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/error.h"
#include "common/schema.h"
#include "json_scan.h"

#define READ_CHUNK ((size_t)1 << 20)
#define EXCERPT_MAX 48  /* bytes of an offending value quoted in a message */
#define NAME_MAX_SHOWN 80 /* bytes of a column name quoted in a message */

/* libcsv's parser state between records (ROW_NOT_BEGUN in libcsv.c). */
#define LIBCSV_ROW_NOT_BEGUN 0

enum { MODE_FULL, MODE_UPSERT, MODE_ERASE };

typedef struct reader {
	int fd;                 /* -1: read from mem */
	const uint8_t *mem;
	size_t mem_len, mem_pos;
	uint8_t *buf;
	size_t cap;
	size_t start, end;      /* unread bytes are buf[start..end) */
	size_t scanned;         /* buf[start..scanned) holds no '\n' */
	bool eof;
	bool bom_checked;
} reader;

typedef struct importer {
	const irs_table_def *t;
	const irs_import_options *o;
	const irs_import_sink *sink;
	irs_error *err;
	const char *name;       /* input name for messages */
	size_t max_line;
	reader rd;
	uint64_t lineno;        /* current line (1-based) */
	irs_import_stats st;

	uint32_t *slots;        /* column name hash: column index + 1, 0 = empty */
	uint32_t mask;
	size_t *name_len;       /* strlen of each column name */
	bool *is_key;
	uint32_t *seen;         /* per column: gen of the object that listed it */
	uint32_t gen;
	uint32_t *touched;      /* columns set by the current record */
	uint32_t ntouched;
	irs_value *vals;        /* one per column */

	char *scratch;          /* NUL-terminated copies of long numbers */
	size_t scratch_cap;
} importer;

/* ------------------------------------------------------------------ errors */

static const char *type_name(irs_type t)
{
	const char *n = irs_type_name(t);
	return n ? n : "?";
}

/* Sets im->err to "NAME:LINE[:COL]: <fmt>" with code IRS_EINPUT; returns IRS_EINPUT. */
static int IRS_PRINTF(3, 4) in_err(importer *im, size_t col, const char *fmt, ...)
{
	char msg[IRS_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (col)
		return irs__seterr(im->err, IRS_EINPUT, "%s:%" PRIu64 ":%zu: %s", im->name, im->lineno,
				   col, msg);
	return irs__seterr(im->err, IRS_EINPUT, "%s:%" PRIu64 ": %s", im->name, im->lineno, msg);
}

static int json_syntax_err(importer *im, const irs_json_scanner *s)
{
	return in_err(im, s->err_col, "malformed JSON: %s", s->err_msg);
}

static int oom(importer *im)
{
	return irs__seterr(im->err, IRS_ENOMEM, "%s: out of memory", im->name);
}

/* Copies an excerpt of s[0..len) into out (truncated with "..."), for messages. */
static const char *excerpt(const char *s, size_t len, char out[EXCERPT_MAX + 4])
{
	if (len <= EXCERPT_MAX) {
		memcpy(out, s, len);
		out[len] = '\0';
	} else {
		memcpy(out, s, EXCERPT_MAX);
		memcpy(out + EXCERPT_MAX, "...", 4);
	}
	/* An embedded NUL would cut the message short; show it as a space. */
	for (size_t i = 0; i < len && i < EXCERPT_MAX; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	return out;
}

/* ------------------------------------------------------------------ value parsing */

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
static const char *parse_int_text(irs_type t, const char *s, size_t len, irs_value *v)
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
static bool double_special(const char *s, size_t len, double *d)
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
	if (double_special(s, len, d))
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
		return parse_int_text(type, s, len, v);
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
			return parse_int_text(type, s, len, v);
		{
			const char *r = irs_import_parse_rfc3339(s, len, &v->v.i64);
			if (!r)
				v->state = IRS_VALUE_SET;
			return r;
		}
	}
	return "unknown column type";
}

/* ------------------------------------------------------------------ setup */

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

/* Column index of name s[0..n), or -1. */
static int find_column(const importer *im, const char *s, size_t n)
{
	uint32_t i = name_hash(s, n) & im->mask;
	for (;;) {
		uint32_t c = im->slots[i];
		if (!c)
			return -1;
		c--;
		if (im->name_len[c] == n && memcmp(im->t->columns[c].name, s, n) == 0)
			return (int)c;
		i = (i + 1) & im->mask;
	}
}

static void importer_free(importer *im)
{
	free(im->slots);
	free(im->name_len);
	free(im->is_key);
	free(im->seen);
	free(im->touched);
	free(im->vals);
	free(im->scratch);
	free(im->rd.buf);
}

static int importer_init(importer *im, const irs_table_def *t, const irs_import_options *o,
			 const irs_import_sink *sink, irs_error *err)
{
	memset(im, 0, sizeof *im);
	im->t = t;
	im->o = o;
	im->sink = sink;
	im->err = err;
	im->name = o->name ? o->name : "<input>";
	im->max_line = o->max_line ? o->max_line : IRS_IMPORT_MAX_LINE;
	im->rd.fd = -1;
	uint32_t n = t->column_count;
	if (n == 0 || t->primary_key_count == 0)
		return irs__seterr(err, IRS_EINVAL, "%s: table has no columns or no primary key",
				   im->name);
	uint32_t nslots = 8;
	while (nslots < 2 * n)
		nslots *= 2;
	im->mask = nslots - 1;
	im->slots = calloc(nslots, sizeof *im->slots);
	im->name_len = calloc(n, sizeof *im->name_len);
	im->is_key = calloc(n, sizeof *im->is_key);
	im->seen = calloc(n, sizeof *im->seen);
	im->touched = calloc(n, sizeof *im->touched);
	im->vals = calloc(n, sizeof *im->vals);
	if (!im->slots || !im->name_len || !im->is_key || !im->seen || !im->touched || !im->vals)
		return oom(im);
	im->gen = 1;
	for (uint32_t c = 0; c < n; c++) {
		const char *nm = t->columns[c].name;
		im->name_len[c] = strlen(nm);
		uint32_t i = name_hash(nm, im->name_len[c]) & im->mask;
		while (im->slots[i])
			i = (i + 1) & im->mask;
		im->slots[i] = c + 1;
	}
	for (uint32_t k = 0; k < t->primary_key_count; k++) {
		if (t->primary_key[k] >= n)
			return irs__seterr(err, IRS_EINVAL, "%s: primary key index out of range",
					   im->name);
		im->is_key[t->primary_key[k]] = true;
	}
	return 0;
}

/* Forgets the current record's values. */
static void record_reset(importer *im)
{
	for (uint32_t i = 0; i < im->ntouched; i++)
		im->vals[im->touched[i]].state = IRS_VALUE_ABSENT;
	im->ntouched = 0;
	if (++im->gen == 0) {
		memset(im->seen, 0, im->t->column_count * sizeof *im->seen);
		im->gen = 1;
	}
}

/* ------------------------------------------------------------------ line reader */

static int read_more(importer *im)
{
	reader *r = &im->rd;
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->scanned -= r->start;
		r->start = 0;
	}
	if (r->end == r->cap) {
		size_t limit = im->max_line + 2; /* a full line, its '\n', one more byte */
		size_t first = READ_CHUNK;
		if (r->fd < 0 && r->mem_len - r->mem_pos + 2 < first)
			first = r->mem_len - r->mem_pos + 2; /* a small buffer for a small input */
		if (first < 64)
			first = 64;
		size_t ncap = r->cap ? r->cap * 2 : (first < limit ? first : limit);
		if (ncap > limit)
			ncap = limit;
		if (ncap <= r->cap)
			ncap = r->cap + READ_CHUNK; /* cannot happen: the caller stops first */
		uint8_t *nb = realloc(r->buf, ncap);
		if (!nb)
			return oom(im);
		r->buf = nb;
		r->cap = ncap;
	}
	size_t room = r->cap - r->end;
	if (r->fd < 0) {
		size_t n = r->mem_len - r->mem_pos;
		if (n > room)
			n = room;
		if (n)
			memcpy(r->buf + r->end, r->mem + r->mem_pos, n);
		r->mem_pos += n;
		r->end += n;
		im->st.bytes += n;
		if (r->mem_pos == r->mem_len)
			r->eof = true;
		return 0;
	}
	for (;;) {
		ssize_t n = read(r->fd, r->buf + r->end, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return irs__seterr(im->err, IRS_EIO, "%s: read error: %s", im->name,
					   strerror(errno));
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
		im->st.bytes += (uint64_t)n;
		return 0;
	}
}

/*
 * Next line into *line and *len (without the '\n'; *nl says whether one followed, and it
 * is then at (*line)[*len]). Returns 1, 0 at the end of the input, or an error code.
 */
static int read_line(importer *im, char **line, size_t *len, bool *nl)
{
	reader *r = &im->rd;
	for (;;) {
		uint8_t *f = r->scanned < r->end
				     ? memchr(r->buf + r->scanned, '\n', r->end - r->scanned)
				     : NULL;
		size_t llen;
		if (f) {
			llen = (size_t)(f - (r->buf + r->start));
			*nl = true;
		} else {
			r->scanned = r->end;
			if (r->end - r->start > im->max_line) {
				im->lineno++;
				return irs__seterr(im->err, IRS_EINPUT,
						   "%s:%" PRIu64 ": line longer than %zu bytes",
						   im->name, im->lineno, im->max_line);
			}
			if (!r->eof) {
				int rc = read_more(im);
				if (rc)
					return rc;
				continue;
			}
			if (r->start == r->end)
				return 0;
			llen = r->end - r->start;
			*nl = false;
		}
		im->lineno++;
		im->st.lines++;
		if (llen > im->max_line)
			return irs__seterr(im->err, IRS_EINPUT, "%s:%" PRIu64 ": line longer than %zu bytes",
					   im->name, im->lineno, im->max_line);
		*line = (char *)r->buf + r->start;
		*len = llen;
		r->start += llen + (*nl ? 1 : 0);
		r->scanned = r->start;
		if (!r->bom_checked) {
			r->bom_checked = true;
			if (llen >= 3 && memcmp(*line, "\xEF\xBB\xBF", 3) == 0) {
				*line += 3;
				*len -= 3;
			}
		}
		return 1;
	}
}

static bool cancelled(const importer *im)
{
	return im->o->cancel && *im->o->cancel;
}

static int cancel_err(importer *im)
{
	return irs__seterr(im->err, IRS_ECANCELED, "%s:%" PRIu64 ": cancelled", im->name,
			   im->lineno);
}

/* ------------------------------------------------------------------ JSON records */

static const char *tok_kind(int tok)
{
	switch (tok) {
	case IRS_JSON_OBJECT_BEGIN: return "an object";
	case IRS_JSON_ARRAY_BEGIN: return "an array";
	case IRS_JSON_STRING: return "a string";
	case IRS_JSON_NUMBER: return "a number";
	case IRS_JSON_TRUE: return "true";
	case IRS_JSON_FALSE: return "false";
	case IRS_JSON_NULL: return "null";
	default: return "something else";
	}
}

/* The mutable bytes of the scanner's current token (the line buffer is ours). */
static char *tok_mut(const irs_json_scanner *s, char *line)
{
	return line + (s->tok_ptr - (const char *)s->buf);
}

/* Unescapes the current string token in place; returns its length. */
static size_t tok_string(const irs_json_scanner *s, char *line, char **out)
{
	char *p = tok_mut(s, line);
	*out = p;
	return s->tok_escaped ? irs_json_unescape(p, s->tok_len, p) : s->tok_len;
}

/* A NUL-terminated copy of the number token (stack for short ones). */
static const char *number_cstr(importer *im, const irs_json_scanner *s, char *small, size_t small_cap)
{
	char *dst = small;
	if (s->tok_len + 1 > small_cap) {
		if (s->tok_len + 1 > im->scratch_cap) {
			char *n = realloc(im->scratch, s->tok_len + 1);
			if (!n)
				return NULL;
			im->scratch = n;
			im->scratch_cap = s->tok_len + 1;
		}
		dst = im->scratch;
	}
	memcpy(dst, s->tok_ptr, s->tok_len);
	dst[s->tok_len] = '\0';
	return dst;
}

typedef struct value_problem {
	const char *reason;     /* NULL: fine */
	const char *got;        /* what was found, for "(got ...)"; may be NULL */
	size_t got_len;
	bool syntax;            /* a JSON syntax error inside the value: use the scanner's */
	bool nomem;
} value_problem;

static void problem(value_problem *vp, const char *reason, const char *got, size_t got_len)
{
	vp->reason = reason;
	vp->got = got;
	vp->got_len = got_len;
}

static void problem_kind(value_problem *vp, const char *reason, int tok)
{
	problem(vp, reason, tok_kind(tok), strlen(tok_kind(tok)));
}

/* Parses {"base64": "..."} after its OBJECT_BEGIN into v. */
static void json_base64(irs_json_scanner *s, char *line, irs_value *v, value_problem *vp)
{
	static const char want[] = "expected a string or {\"base64\": \"...\"}";
	int tok = irs_json_next(s);
	if (tok == IRS_JSON_ERROR) {
		vp->syntax = true;
		return;
	}
	char *k;
	size_t klen = tok == IRS_JSON_KEY ? tok_string(s, line, &k) : 0;
	if (tok != IRS_JSON_KEY || klen != 6 || memcmp(k, "base64", 6) != 0) {
		problem(vp, want, "another object", 14);
		return;
	}
	tok = irs_json_next(s);
	if (tok == IRS_JSON_ERROR) {
		vp->syntax = true;
		return;
	}
	if (tok != IRS_JSON_STRING) {
		problem_kind(vp, "\"base64\" must be a string", tok);
		return;
	}
	char *p;
	size_t n = tok_string(s, line, &p);
	size_t outlen;
	const char *r = irs_import_base64_decode(p, n, (uint8_t *)p, &outlen);
	if (r) {
		problem(vp, r, p, n);
		return;
	}
	tok = irs_json_next(s);
	if (tok == IRS_JSON_ERROR) {
		vp->syntax = true;
		return;
	}
	if (tok != IRS_JSON_OBJECT_END) {
		problem(vp, want, "an object with more members", 27);
		return;
	}
	v->v.s.ptr = p;
	v->v.s.len = outlen;
	v->state = IRS_VALUE_SET;
}

/* Parses the value whose first token `tok` was just read into v (column type t). */
static void json_value(importer *im, irs_json_scanner *s, char *line, int tok, irs_type t,
		       irs_value *v, value_problem *vp)
{
	char small[64];
	switch (t) {
	case IRS_TYPE_BOOL:
		if (tok == IRS_JSON_TRUE || tok == IRS_JSON_FALSE) {
			v->v.b = tok == IRS_JSON_TRUE;
			v->state = IRS_VALUE_SET;
			return;
		}
		if (tok == IRS_JSON_NUMBER || tok == IRS_JSON_STRING)
			problem(vp, "expected true or false", s->tok_ptr, s->tok_len);
		else
			problem_kind(vp, "expected true or false", tok);
		return;
	case IRS_TYPE_INT32:
	case IRS_TYPE_INT64:
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64:
	case IRS_TYPE_TIMESTAMP:
		if (tok == IRS_JSON_NUMBER) {
			if (s->num_fraction || s->num_exponent) {
				problem(vp, t == IRS_TYPE_TIMESTAMP
						    ? "expected integer microseconds or an RFC 3339 string"
						    : "expected an integer (no fraction or exponent)",
					s->tok_ptr, s->tok_len);
				return;
			}
			const char *r = parse_int_text(t, s->tok_ptr, s->tok_len, v);
			if (r)
				problem(vp, r, s->tok_ptr, s->tok_len);
			return;
		}
		if (t == IRS_TYPE_TIMESTAMP && tok == IRS_JSON_STRING) {
			char *p;
			size_t n = tok_string(s, line, &p);
			const char *r = irs_import_parse_rfc3339(p, n, &v->v.i64);
			if (r)
				problem(vp, r, p, n);
			else
				v->state = IRS_VALUE_SET;
			return;
		}
		problem_kind(vp, t == IRS_TYPE_TIMESTAMP
					 ? "expected integer microseconds or an RFC 3339 string"
					 : "expected an integer",
			     tok);
		return;
	case IRS_TYPE_DOUBLE:
		if (tok == IRS_JSON_NUMBER) {
			const char *c = number_cstr(im, s, small, sizeof small);
			if (!c) {
				vp->nomem = true;
				return;
			}
			char *end;
			errno = 0;
			double d = strtod(c, &end);
			if (errno == ERANGE && isinf(d)) {
				problem(vp, "out of range for double", s->tok_ptr, s->tok_len);
				return;
			}
			v->v.d = d;
			v->state = IRS_VALUE_SET;
			return;
		}
		if (tok == IRS_JSON_STRING) {
			char *p;
			size_t n = tok_string(s, line, &p);
			if (double_special(p, n, &v->v.d)) {
				v->state = IRS_VALUE_SET;
				return;
			}
			problem(vp, "expected a number (or \"NaN\", \"Infinity\", \"-Infinity\")", p, n);
			return;
		}
		problem_kind(vp, "expected a number", tok);
		return;
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES:
		if (tok == IRS_JSON_STRING) {
			char *p;
			v->v.s.len = tok_string(s, line, &p);
			v->v.s.ptr = p;
			v->state = IRS_VALUE_SET;
			return;
		}
		if (t == IRS_TYPE_BYTES && tok == IRS_JSON_OBJECT_BEGIN) {
			json_base64(s, line, v, vp);
			return;
		}
		problem_kind(vp, t == IRS_TYPE_UTF8 ? "expected a string"
						    : "expected a string or {\"base64\": \"...\"}",
			     tok);
		return;
	}
	problem(vp, "unknown column type", NULL, 0);
}

static int column_err(importer *im, size_t col, uint32_t c, const value_problem *vp)
{
	char ex[EXCERPT_MAX + 4];
	const irs_column_def *cd = &im->t->columns[c];
	int nlen = (int)(im->name_len[c] < NAME_MAX_SHOWN ? im->name_len[c] : NAME_MAX_SHOWN);
	if (vp->got)
		return in_err(im, col, "column \"%.*s\" (%s): %s (got %s)", nlen, cd->name,
			      type_name(cd->type), vp->reason, excerpt(vp->got, vp->got_len, ex));
	return in_err(im, col, "column \"%.*s\" (%s): %s", nlen, cd->name, type_name(cd->type),
		      vp->reason);
}

/*
 * Reads the members of an object whose OBJECT_BEGIN was just returned, up to its
 * OBJECT_END, into im->vals. mode: MODE_FULL / MODE_UPSERT (any column) or
 * MODE_ERASE (key columns only).
 */
static int json_members(importer *im, irs_json_scanner *s, char *line, int mode)
{
	for (;;) {
		int tok = irs_json_next(s);
		if (tok == IRS_JSON_ERROR)
			return json_syntax_err(im, s);
		if (tok == IRS_JSON_OBJECT_END)
			return 0;
		size_t kcol = s->tok_col;
		char *name;
		size_t nlen = tok_string(s, line, &name);
		int shown = (int)(nlen < NAME_MAX_SHOWN ? nlen : NAME_MAX_SHOWN);
		int c = find_column(im, name, nlen);
		if (c < 0) {
			const char *hint = "";
			if (mode == MODE_FULL && nlen == 2 && memcmp(name, "op", 2) == 0)
				hint = " (this looks like a changes file: use --incremental)";
			return in_err(im, kcol, "unknown column \"%.*s\" in table \"%s\"%s", shown,
				      name, im->t->name, hint);
		}
		if (im->seen[c] == im->gen)
			return in_err(im, kcol, "column \"%.*s\" is listed twice", shown, name);
		im->seen[c] = im->gen;
		if (mode == MODE_ERASE && !im->is_key[c])
			return in_err(im, kcol,
				      "column \"%.*s\" is not a primary key column (an erase lists "
				      "the key only)",
				      shown, name);
		tok = irs_json_next(s);
		if (tok == IRS_JSON_ERROR)
			return json_syntax_err(im, s);
		size_t vcol = s->tok_col;
		irs_value *v = &im->vals[c];
		im->touched[im->ntouched++] = (uint32_t)c;
		if (tok == IRS_JSON_NULL) {
			if (im->is_key[c])
				return in_err(im, vcol, "key column \"%.*s\" is null", shown, name);
			v->state = IRS_VALUE_NULL;
			continue;
		}
		value_problem vp = {0};
		json_value(im, s, line, tok, im->t->columns[c].type, v, &vp);
		if (vp.syntax)
			return json_syntax_err(im, s);
		if (vp.nomem)
			return oom(im);
		if (vp.reason)
			return column_err(im, vcol, (uint32_t)c, &vp);
	}
}

/* Every key column must be SET. */
static int check_key(importer *im)
{
	for (uint32_t k = 0; k < im->t->primary_key_count; k++) {
		uint32_t c = im->t->primary_key[k];
		if (im->vals[c].state != IRS_VALUE_SET)
			return in_err(im, 0, "key column \"%s\" is missing", im->t->columns[c].name);
	}
	return 0;
}

static int sink_call(importer *im, bool erase)
{
	irs_error local;
	irs_error *e = im->err ? im->err : &local;
	int rc = erase ? im->sink->erase(im->sink->ctx, im->o->table, im->vals, im->lineno, e)
		       : im->sink->upsert(im->sink->ctx, im->o->table, im->vals, im->lineno, e);
	if (rc) {
		if (!e->code)
			irs__seterr(e, rc, "%s", irs_strerror(rc));
		irs__errprefix(e, "%s:%" PRIu64, im->name, im->lineno);
		return rc;
	}
	if (erase)
		im->st.erases++;
	else
		im->st.upserts++;
	return 0;
}

static int expect_end(importer *im, irs_json_scanner *s)
{
	int tok = irs_json_next(s);
	if (tok == IRS_JSON_END)
		return 0;
	return json_syntax_err(im, s);
}

static int jsonl_row(importer *im, char *line, size_t len)
{
	irs_json_scanner s;
	irs_json_init(&s, line, len);
	int tok = irs_json_next(&s);
	if (tok == IRS_JSON_ERROR)
		return json_syntax_err(im, &s);
	if (tok != IRS_JSON_OBJECT_BEGIN)
		return in_err(im, s.tok_col, "expected a JSON object (one row per line), got %s",
			      tok_kind(tok));
	int rc = json_members(im, &s, line, MODE_FULL);
	if (!rc)
		rc = expect_end(im, &s);
	if (!rc)
		rc = check_key(im);
	if (!rc)
		rc = sink_call(im, false);
	return rc;
}

static int jsonl_change(importer *im, char *line, size_t len)
{
	static const char shape[] =
		"a change is {\"op\": \"upsert\", \"row\": {...}} or {\"op\": \"erase\", \"key\": {...}}";
	irs_json_scanner s;
	irs_json_init(&s, line, len);
	int tok = irs_json_next(&s);
	if (tok == IRS_JSON_ERROR)
		return json_syntax_err(im, &s);
	if (tok != IRS_JSON_OBJECT_BEGIN)
		return in_err(im, s.tok_col, "expected a JSON object (one change per line), got %s",
			      tok_kind(tok));
	int op = -1;              /* MODE_UPSERT or MODE_ERASE */
	int body = -1;            /* MODE_UPSERT: "row" seen; MODE_ERASE: "key" seen */
	size_t op_col = 0;
	for (;;) {
		tok = irs_json_next(&s);
		if (tok == IRS_JSON_ERROR)
			return json_syntax_err(im, &s);
		if (tok == IRS_JSON_OBJECT_END)
			break;
		size_t kcol = s.tok_col;
		char *k;
		size_t klen = tok_string(&s, line, &k);
		int shown = (int)(klen < NAME_MAX_SHOWN ? klen : NAME_MAX_SHOWN);
		if (klen == 2 && memcmp(k, "op", 2) == 0) {
			if (op >= 0)
				return in_err(im, kcol, "\"op\" is listed twice");
			tok = irs_json_next(&s);
			if (tok == IRS_JSON_ERROR)
				return json_syntax_err(im, &s);
			op_col = s.tok_col;
			char *v = NULL;
			size_t vlen = tok == IRS_JSON_STRING ? tok_string(&s, line, &v) : 0;
			if (tok == IRS_JSON_STRING && vlen == 6 && memcmp(v, "upsert", 6) == 0)
				op = MODE_UPSERT;
			else if (tok == IRS_JSON_STRING && vlen == 5 && memcmp(v, "erase", 5) == 0)
				op = MODE_ERASE;
			else
				return in_err(im, op_col, "\"op\" must be \"upsert\" or \"erase\"");
		} else if ((klen == 3 && memcmp(k, "row", 3) == 0) ||
			   (klen == 3 && memcmp(k, "key", 3) == 0)) {
			int mode = k[0] == 'r' ? MODE_UPSERT : MODE_ERASE;
			if (body >= 0)
				return in_err(im, kcol, body == mode ? "\"%.*s\" is listed twice"
								     : "a change has \"row\" or \"key\", "
								       "not both (%.*s)",
					      shown, k);
			if (op >= 0 && op != mode)
				return in_err(im, kcol, "\"%s\" takes \"%s\", not \"%.*s\"",
					      op == MODE_UPSERT ? "upsert" : "erase",
					      op == MODE_UPSERT ? "row" : "key", shown, k);
			body = mode;
			tok = irs_json_next(&s);
			if (tok == IRS_JSON_ERROR)
				return json_syntax_err(im, &s);
			if (tok != IRS_JSON_OBJECT_BEGIN)
				return in_err(im, s.tok_col, "\"%.*s\" must be an object, got %s", shown,
					      k, tok_kind(tok));
			int rc = json_members(im, &s, line, mode);
			if (rc)
				return rc;
		} else {
			int c = find_column(im, k, klen);
			return in_err(im, kcol, "unknown member \"%.*s\": %s%s", shown, k, shape,
				      c >= 0 ? " (this looks like a rows file: use --full)" : "");
		}
	}
	int rc = expect_end(im, &s);
	if (rc)
		return rc;
	if (op < 0)
		return in_err(im, 0, "missing \"op\": %s", shape);
	if (body < 0)
		return in_err(im, 0, "\"%s\" needs \"%s\"", op == MODE_UPSERT ? "upsert" : "erase",
			      op == MODE_UPSERT ? "row" : "key");
	if (body != op)
		return in_err(im, op_col, "\"%s\" takes \"%s\", not \"%s\"",
			      op == MODE_UPSERT ? "upsert" : "erase", op == MODE_UPSERT ? "row" : "key",
			      body == MODE_UPSERT ? "row" : "key");
	rc = check_key(im);
	if (!rc)
		rc = sink_call(im, op == MODE_ERASE);
	return rc;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static int run_jsonl(importer *im)
{
	bool changes = im->o->format == IRS_IMPORT_CHANGES_JSONL;
	for (;;) {
		char *line;
		size_t len;
		bool nl;
		int rc = read_line(im, &line, &len, &nl);
		if (rc <= 0)
			return rc;
		if (cancelled(im))
			return cancel_err(im);
		if (blank(line, len))
			continue;
		rc = changes ? jsonl_change(im, line, len) : jsonl_row(im, line, len);
		record_reset(im);
		if (rc)
			return rc;
	}
}

/* ------------------------------------------------------------------ CSV records */

typedef struct csv_field {
	size_t off, len;
	bool null;
} csv_field;

typedef struct csv_state {
	importer *im;
	int rc;                 /* first error; later callbacks do nothing */
	bool have_header;
	uint32_t nheader;       /* fields in the header */
	int32_t *field_col;     /* per header field: column index */
	csv_field *fields;      /* the current record's fields */
	uint32_t nfields, fields_cap;
	char *rbuf;             /* their bytes, each followed by a NUL */
	size_t rlen, rcap;
	uint64_t rec_line;      /* line where the current record started */
} csv_state;

static int csv_err(csv_state *cs, const char *fmt, ...) IRS_PRINTF(2, 3);
static int csv_err(csv_state *cs, const char *fmt, ...)
{
	char msg[IRS_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cs->rc = irs__seterr(cs->im->err, IRS_EINPUT, "%s:%" PRIu64 ": %s", cs->im->name,
			     cs->rec_line, msg);
	return cs->rc;
}

static void csv_on_field(void *data, size_t len, void *ctx)
{
	csv_state *cs = ctx;
	importer *im = cs->im;
	if (cs->rc)
		return;
	uint32_t limit = cs->have_header ? cs->nheader : IRS_MAX_COLUMNS;
	if (cs->nfields >= limit) {
		if (cs->have_header)
			csv_err(cs, "record has more fields than the header (%" PRIu32 ")", cs->nheader);
		else
			csv_err(cs, "header has more than %d fields", IRS_MAX_COLUMNS);
		return;
	}
	if (cs->nfields == cs->fields_cap) {
		uint32_t ncap = cs->fields_cap ? cs->fields_cap * 2 : 16;
		csv_field *nf = realloc(cs->fields, ncap * sizeof *nf);
		if (!nf) {
			cs->rc = oom(im);
			return;
		}
		cs->fields = nf;
		cs->fields_cap = ncap;
	}
	if (len + 1 > cs->rcap - cs->rlen) {
		size_t ncap = cs->rcap ? cs->rcap : 4096;
		while (ncap - cs->rlen < len + 1)
			ncap *= 2;
		char *nb = realloc(cs->rbuf, ncap);
		if (!nb) {
			cs->rc = oom(im);
			return;
		}
		cs->rbuf = nb;
		cs->rcap = ncap;
	}
	csv_field *f = &cs->fields[cs->nfields++];
	f->off = cs->rlen;
	f->len = data ? len : 0;
	f->null = data == NULL;
	if (data && len)
		memcpy(cs->rbuf + cs->rlen, data, len);
	cs->rbuf[cs->rlen + f->len] = '\0';
	cs->rlen += f->len + 1;
}

static void csv_header(csv_state *cs)
{
	importer *im = cs->im;
	const irs_table_def *t = im->t;
	cs->field_col = malloc((cs->nfields ? cs->nfields : 1) * sizeof *cs->field_col);
	if (!cs->field_col) {
		cs->rc = oom(im);
		return;
	}
	for (uint32_t i = 0; i < cs->nfields; i++) {
		const csv_field *f = &cs->fields[i];
		const char *name = cs->rbuf + f->off;
		int shown = (int)(f->len < NAME_MAX_SHOWN ? f->len : NAME_MAX_SHOWN);
		if (f->null || f->len == 0) {
			csv_err(cs, "header field %" PRIu32 " is empty (expected a column name)", i + 1);
			return;
		}
		int c = find_column(im, name, f->len);
		if (c < 0) {
			csv_err(cs, "header field %" PRIu32 ": unknown column \"%.*s\" in table \"%s\"",
				i + 1, shown, name, t->name);
			return;
		}
		if (im->seen[c] == im->gen) {
			csv_err(cs, "header field %" PRIu32 ": column \"%.*s\" is listed twice", i + 1,
				shown, name);
			return;
		}
		im->seen[c] = im->gen;
		cs->field_col[i] = c;
	}
	for (uint32_t k = 0; k < t->primary_key_count; k++) {
		uint32_t c = t->primary_key[k];
		if (im->seen[c] != im->gen) {
			csv_err(cs, "header lacks key column \"%s\"", t->columns[c].name);
			return;
		}
	}
	cs->nheader = cs->nfields;
	cs->have_header = true;
	record_reset(im);
}

static void csv_record(csv_state *cs)
{
	importer *im = cs->im;
	const irs_table_def *t = im->t;
	if (cs->nfields != cs->nheader) {
		csv_err(cs, "record has %" PRIu32 " fields, the header has %" PRIu32, cs->nfields,
			cs->nheader);
		return;
	}
	for (uint32_t i = 0; i < cs->nfields; i++) {
		const csv_field *f = &cs->fields[i];
		uint32_t c = (uint32_t)cs->field_col[i];
		const irs_column_def *cd = &t->columns[c];
		irs_value *v = &im->vals[c];
		im->touched[im->ntouched++] = c;
		if (f->null) {
			if (im->is_key[c]) {
				csv_err(cs, "field %" PRIu32 " (column \"%s\", %s): key column is NULL "
					    "(an empty unquoted field)",
					i + 1, cd->name, type_name(cd->type));
				return;
			}
			v->state = IRS_VALUE_NULL;
			continue;
		}
		const char *text = cs->rbuf + f->off;
		const char *r = irs_import_parse_text(cd->type, text, f->len, v);
		if (r) {
			char ex[EXCERPT_MAX + 4];
			csv_err(cs, "field %" PRIu32 " (column \"%s\", %s): %s (got \"%s\")", i + 1,
				cd->name, type_name(cd->type), r, excerpt(text, f->len, ex));
			return;
		}
	}
	uint64_t saved = im->lineno;
	im->lineno = cs->rec_line;
	cs->rc = sink_call(im, false);
	im->lineno = saved;
}

static void csv_on_record(int term, void *ctx)
{
	csv_state *cs = ctx;
	(void)term;
	if (cs->rc)
		return;
	if (!cs->have_header)
		csv_header(cs);
	else
		csv_record(cs);
	record_reset(cs->im);
	cs->nfields = 0;
	cs->rlen = 0;
}

static int never_space(unsigned char c)
{
	(void)c;
	return 0;
}

static int run_csv(importer *im)
{
	struct csv_parser p;
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL | CSV_APPEND_NULL))
		return oom(im);
	csv_set_space_func(&p, never_space);
	csv_state cs = {.im = im};
	size_t rec_bytes = 0;
	int rc = 0;
	for (;;) {
		char *line;
		size_t len;
		bool nl;
		rc = read_line(im, &line, &len, &nl);
		if (rc <= 0)
			break;
		if (cancelled(im)) {
			rc = cancel_err(im);
			break;
		}
		if (p.pstate == LIBCSV_ROW_NOT_BEGUN) {
			cs.rec_line = im->lineno;
			rec_bytes = 0;
		}
		size_t feed = len + (nl ? 1 : 0);
		rec_bytes += feed;
		if (rec_bytes > im->max_line + 1) {
			rc = csv_err(&cs, "record longer than %zu bytes", im->max_line);
			break;
		}
		size_t done = csv_parse(&p, line, feed, csv_on_field, csv_on_record, &cs);
		if (cs.rc) {
			rc = cs.rc;
			break;
		}
		if (done != feed) {
			if (csv_error(&p) == CSV_EPARSE)
				rc = in_err(im, done + 1,
					    "malformed CSV: a quote inside an unquoted field, or text "
					    "after a closing quote");
			else
				rc = oom(im);
			break;
		}
	}
	if (rc == 0) {
		if (csv_fini(&p, csv_on_field, csv_on_record, &cs) != 0 && !cs.rc)
			rc = csv_err(&cs, "malformed CSV: a quoted field is not closed");
		else
			rc = cs.rc;
	}
	csv_free(&p);
	free(cs.field_col);
	free(cs.fields);
	free(cs.rbuf);
	return rc;
}

/* ------------------------------------------------------------------ entry points */

void irs_import_options_init(irs_import_options *o)
{
	memset(o, 0, sizeof *o);
	o->format = IRS_IMPORT_ROWS_JSONL;
}

static int run(importer *im, irs_import_stats *stats)
{
	int rc;
	switch (im->o->format) {
	case IRS_IMPORT_ROWS_JSONL:
	case IRS_IMPORT_CHANGES_JSONL:
		rc = run_jsonl(im);
		break;
	case IRS_IMPORT_ROWS_CSV:
		rc = run_csv(im);
		break;
	default:
		rc = irs__seterr(im->err, IRS_EINVAL, "%s: unknown import format", im->name);
	}
	if (stats)
		*stats = im->st;
	importer_free(im);
	return rc;
}

int irs_import_fd(const irs_table_def *table, int fd, const irs_import_options *o,
		  const irs_import_sink *sink, irs_import_stats *stats, irs_error *err)
{
	importer im;
	int rc = importer_init(&im, table, o, sink, err);
	if (rc) {
		importer_free(&im);
		return rc;
	}
	im.rd.fd = fd;
	return run(&im, stats);
}

int irs_import_buffer(const irs_table_def *table, const void *data, size_t len,
		      const irs_import_options *o, const irs_import_sink *sink,
		      irs_import_stats *stats, irs_error *err)
{
	importer im;
	int rc = importer_init(&im, table, o, sink, err);
	if (rc) {
		importer_free(&im);
		return rc;
	}
	im.rd.mem = data;
	im.rd.mem_len = len;
	im.rd.eof = len == 0;
	return run(&im, stats);
}

int irs_import_path(const irs_table_def *table, const char *path, const irs_import_options *o,
		    const irs_import_sink *sink, irs_import_stats *stats, irs_error *err)
{
	irs_import_options opts = *o;
	if (strcmp(path, "-") == 0) {
		if (!opts.name)
			opts.name = "<stdin>";
		return irs_import_fd(table, STDIN_FILENO, &opts, sink, stats, err);
	}
	if (!opts.name)
		opts.name = path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return irs__seterr(err, IRS_EIO, "%s: cannot open: %s", path, strerror(errno));
	int rc = irs_import_fd(table, fd, &opts, sink, stats, err);
	close(fd);
	return rc;
}

static int writer_upsert(void *ctx, uint32_t table, const irs_value *values, uint64_t tag,
			 irs_error *err)
{
	return irs_backup_writer_upsert(ctx, table, values, tag, err);
}

static int writer_erase(void *ctx, uint32_t table, const irs_value *values, uint64_t tag,
			irs_error *err)
{
	return irs_backup_writer_erase(ctx, table, values, tag, err);
}

irs_import_sink irs_import_writer_sink(irs_backup_writer *w)
{
	irs_import_sink s = {writer_upsert, writer_erase, w};
	return s;
}
