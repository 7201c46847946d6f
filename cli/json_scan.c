/*
 * json_scan.c: the strict JSON pull scanner of json_scan.h.
 *
 * Hand-written rather than json-c/jansson because numbers must reach the caller as
 * exact text: json-c 0.16 saturates integers above 2^64-1 (json_object_get_uint64 of
 * 18446744073709551616 is 18446744073709551615, no error), and jansson keeps integers
 * in a long long, so it cannot hold a uint64 above 2^63-1 at all. See json_scan.h.
 *
 * ALGORITHM
 *   A state machine with an explicit container stack (no recursion). `state` says
 *   what may come next:
 *     ST_VALUE            a value (top level, after ':', after ',' in an array)
 *     ST_VALUE_OR_AEND    a value or ']' (just after '[')
 *     ST_KEY              a member name (after ',' in an object)
 *     ST_KEY_OR_OEND      a member name or '}' (just after '{')
 *     ST_COLON            ':' then a value (after a member name)
 *     ST_AFTER            ',' or the closing bracket, or end of text at depth 0
 *   Each call skips whitespace (space, tab, CR, LF), reads one token and moves on.
 *   Strings are validated in one pass: escapes, surrogate pairing and UTF-8 (with an
 *   ASCII fast path). Nothing is copied or allocated.
 *
 * INVARIANTS
 *   0 <= depth <= IRS_JSON_MAX_DEPTH; stack[0..depth) holds the open containers.
 *   After an error the scanner is stuck in ST_ERROR and keeps returning it.
 */
#include "json_scan.h"

#include "cli.h"

#include <string.h>

enum {
	ST_VALUE,
	ST_VALUE_OR_AEND,
	ST_KEY,
	ST_KEY_OR_OEND,
	ST_COLON,
	ST_AFTER,
	ST_END,
	ST_ERROR
};

enum { CT_OBJECT = 1, CT_ARRAY = 2 };

void irs_json_init(irs_json_scanner *s, const void *buf, size_t len)
{
	memset(s, 0, sizeof *s);
	s->buf = buf;
	s->len = len;
	s->state = ST_VALUE;
	s->last = IRS_JSON_END;
}

static int fail(irs_json_scanner *s, size_t at, const char *msg)
{
	s->state = ST_ERROR;
	s->err_msg = msg;
	s->err_col = at + 1;
	s->last = IRS_JSON_ERROR;
	return IRS_JSON_ERROR;
}

static void skip_ws(irs_json_scanner *s)
{
	const uint8_t *b = s->buf;
	size_t p = s->pos, n = s->len;
	while (p < n && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r'))
		p++;
	s->pos = p;
}

/* Reads 4 hex digits at b[p..p+4); -1 when they are not there. */
static long hex4(const uint8_t *b, size_t p, size_t n)
{
	if (n - p < 4)
		return -1;
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = irs_cli_hexval(b[p + (size_t)i]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/*
 * Length of the valid UTF-8 sequence (2..4 bytes) starting with the non-ASCII byte
 * b[p], or 0 when it is invalid (RFC 3629 table: overlongs, surrogates and code
 * points above U+10FFFF are refused by the second-byte ranges).
 */
static size_t utf8_seq(const uint8_t *b, size_t p, size_t n)
{
	uint8_t c = b[p];
	size_t need;
	uint8_t lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n - p < need)
		return 0;
	if (b[p + 1] < lo || b[p + 1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if ((b[p + i] & 0xC0) != 0x80)
			return 0;
	return need;
}

bool irs_json_utf8_valid(const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t p = 0;
	while (p < len) {
		/* ASCII fast path, 8 bytes at a time. */
		while (len - p >= 8) {
			uint64_t w;
			memcpy(&w, b + p, 8);
			if (w & 0x8080808080808080ull)
				break;
			p += 8;
		}
		if (p >= len)
			break;
		if (b[p] < 0x80) {
			p++;
			continue;
		}
		size_t k = utf8_seq(b, p, len);
		if (!k)
			return false;
		p += k;
	}
	return true;
}

/* Strings are checked 8 bytes a word where a word loads little-endian (its first
 * byte lowest, which the first-flag arithmetic below relies on). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define IRS_JSON_SWAR 1
#else
#define IRS_JSON_SWAR 0
#endif

/* Scans the string whose opening quote is at s->pos; sets the token span. */
static int scan_string(irs_json_scanner *s)
{
	const uint8_t *b = s->buf;
	size_t n = s->len;
	size_t open = s->pos;
	size_t p = open + 1;
	bool esc = false;
	for (;;) {
		/* Fast path over plain ASCII: 8 bytes at a time up to the first control
		 * character, quote, backslash or byte of a multi-byte sequence, then the rest
		 * byte by byte. (v - ones) & ~v & high flags the bytes of v that are zero; its
		 * lowest flag is always exact, so it gives the first such byte. */
		const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
		for (uint64_t w; IRS_JSON_SWAR && p + 8 <= n; p += 8) {
			memcpy(&w, b + p, 8);
			uint64_t quote = w ^ (ones * '"'), bslash = w ^ (ones * '\\');
			uint64_t stop = (((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
					 ((bslash - ones) & ~bslash) | w) & high;
			if (stop) {
				p += (size_t)__builtin_ctzll(stop) >> 3;
				break;
			}
		}
		while (p < n && b[p] >= 0x20 && b[p] < 0x80 && b[p] != '"' && b[p] != '\\')
			p++;
		if (p >= n)
			return fail(s, open, "unterminated string");
		uint8_t c = b[p];
		if (c == '"')
			break;
		if (c == '\\') {
			esc = true;
			if (p + 1 >= n)
				return fail(s, open, "unterminated string");
			uint8_t e = b[p + 1];
			switch (e) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				p += 2;
				continue;
			case 'u':
				break;
			default:
				return fail(s, p, "invalid escape in string");
			}
			long cp = hex4(b, p + 2, n);
			if (cp < 0)
				return fail(s, p, "invalid \\u escape (needs 4 hex digits)");
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return fail(s, p, "unpaired low surrogate in \\u escape");
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				long lo = -1;
				if (n - p >= 12 && b[p + 6] == '\\' && b[p + 7] == 'u')
					lo = hex4(b, p + 8, n);
				if (lo < 0xDC00 || lo > 0xDFFF)
					return fail(s, p, "unpaired high surrogate in \\u escape");
				p += 12;
			} else {
				p += 6;
			}
			continue;
		}
		if (c < 0x20)
			return fail(s, p, "control character in string (must be escaped)");
		size_t k = utf8_seq(b, p, n);
		if (!k)
			return fail(s, p, "invalid UTF-8 in string");
		p += k;
	}
	s->tok_ptr = (const char *)b + open + 1;
	s->tok_len = p - open - 1;
	s->tok_col = open + 1;
	s->tok_escaped = esc;
	s->pos = p + 1;
	return 0;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Scans a number at s->pos (its first byte is '-' or a digit). */
static int scan_number(irs_json_scanner *s)
{
	const uint8_t *b = s->buf;
	size_t n = s->len;
	size_t start = s->pos, p = start;
	s->num_negative = s->num_fraction = s->num_exponent = false;
	if (b[p] == '-') {
		s->num_negative = true;
		p++;
		if (p < n && (b[p] == 'I' || b[p] == 'N'))
			return fail(s, start, "NaN and Infinity are not JSON numbers");
	}
	if (p >= n || !is_digit(b[p]))
		return fail(s, start, "invalid number");
	if (b[p] == '0') {
		p++;
		if (p < n && is_digit(b[p]))
			return fail(s, start, "leading zeros are not allowed in numbers");
	} else {
		while (p < n && is_digit(b[p]))
			p++;
	}
	if (p < n && b[p] == '.') {
		s->num_fraction = true;
		p++;
		if (p >= n || !is_digit(b[p]))
			return fail(s, p < n ? p : start, "invalid number (digits must follow '.')");
		while (p < n && is_digit(b[p]))
			p++;
	}
	if (p < n && (b[p] == 'e' || b[p] == 'E')) {
		s->num_exponent = true;
		p++;
		if (p < n && (b[p] == '+' || b[p] == '-'))
			p++;
		if (p >= n || !is_digit(b[p]))
			return fail(s, p < n ? p : start, "invalid number (digits must follow the exponent)");
		while (p < n && is_digit(b[p]))
			p++;
	}
	s->tok_ptr = (const char *)b + start;
	s->tok_len = p - start;
	s->tok_col = start + 1;
	s->tok_escaped = false;
	s->pos = p;
	return 0;
}

static int literal(irs_json_scanner *s, const char *word, size_t wlen, int tok)
{
	size_t p = s->pos;
	if (s->len - p < wlen || memcmp(s->buf + p, word, wlen) != 0)
		return fail(s, p, "invalid literal (expected true, false or null)");
	s->tok_ptr = (const char *)s->buf + p;
	s->tok_len = wlen;
	s->tok_col = p + 1;
	s->pos = p + wlen;
	s->state = ST_AFTER;
	return tok;
}

static int open_container(irs_json_scanner *s, uint8_t kind)
{
	if (s->depth >= IRS_JSON_MAX_DEPTH)
		return fail(s, s->pos, "nesting too deep");
	s->stack[s->depth++] = kind;
	s->tok_ptr = (const char *)s->buf + s->pos;
	s->tok_len = 1;
	s->tok_col = s->pos + 1;
	s->pos++;
	s->state = kind == CT_OBJECT ? ST_KEY_OR_OEND : ST_VALUE_OR_AEND;
	return kind == CT_OBJECT ? IRS_JSON_OBJECT_BEGIN : IRS_JSON_ARRAY_BEGIN;
}

static int close_container(irs_json_scanner *s)
{
	uint8_t kind = s->stack[--s->depth];
	s->tok_ptr = (const char *)s->buf + s->pos;
	s->tok_len = 1;
	s->tok_col = s->pos + 1;
	s->pos++;
	s->state = ST_AFTER;
	return kind == CT_OBJECT ? IRS_JSON_OBJECT_END : IRS_JSON_ARRAY_END;
}

static int scan_value(irs_json_scanner *s)
{
	if (s->pos >= s->len)
		return fail(s, s->pos, "unexpected end of input (expected a value)");
	uint8_t c = s->buf[s->pos];
	switch (c) {
	case '{':
		return open_container(s, CT_OBJECT);
	case '[':
		return open_container(s, CT_ARRAY);
	case '"':
		if (scan_string(s))
			return IRS_JSON_ERROR;
		s->state = ST_AFTER;
		return IRS_JSON_STRING;
	case 't':
		return literal(s, "true", 4, IRS_JSON_TRUE);
	case 'f':
		return literal(s, "false", 5, IRS_JSON_FALSE);
	case 'n':
		return literal(s, "null", 4, IRS_JSON_NULL);
	case 'N':
	case 'I':
		return fail(s, s->pos, "NaN and Infinity are not JSON numbers");
	default:
		if (c == '-' || is_digit(c)) {
			if (scan_number(s))
				return IRS_JSON_ERROR;
			s->state = ST_AFTER;
			return IRS_JSON_NUMBER;
		}
		return fail(s, s->pos, "expected a value");
	}
}

static int scan_next(irs_json_scanner *s)
{
	for (;;) {
		switch (s->state) {
		case ST_ERROR:
			return IRS_JSON_ERROR;
		case ST_END:
			return IRS_JSON_END;
		case ST_VALUE_OR_AEND:
			skip_ws(s);
			if (s->pos < s->len && s->buf[s->pos] == ']')
				return close_container(s);
			/* fall through */
		case ST_VALUE:
			skip_ws(s);
			return scan_value(s);
		case ST_KEY_OR_OEND:
			skip_ws(s);
			if (s->pos < s->len && s->buf[s->pos] == '}')
				return close_container(s);
			/* fall through */
		case ST_KEY:
			skip_ws(s);
			if (s->pos >= s->len)
				return fail(s, s->pos, "unexpected end of input (expected a member name)");
			if (s->buf[s->pos] != '"')
				return fail(s, s->pos, "expected a member name (a string)");
			if (scan_string(s))
				return IRS_JSON_ERROR;
			s->state = ST_COLON;
			return IRS_JSON_KEY;
		case ST_COLON:
			skip_ws(s);
			if (s->pos >= s->len || s->buf[s->pos] != ':')
				return fail(s, s->pos, "expected ':' after the member name");
			s->pos++;
			s->state = ST_VALUE;
			continue;
		case ST_AFTER:
			skip_ws(s);
			if (s->depth == 0) {
				if (s->pos < s->len)
					return fail(s, s->pos, "unexpected text after the JSON value");
				s->state = ST_END;
				return IRS_JSON_END;
			}
			if (s->pos >= s->len)
				return fail(s, s->pos, s->stack[s->depth - 1] == CT_OBJECT
						       ? "unexpected end of input (expected ',' or '}')"
						       : "unexpected end of input (expected ',' or ']')");
			{
				uint8_t c = s->buf[s->pos];
				bool obj = s->stack[s->depth - 1] == CT_OBJECT;
				if (c == ',') {
					s->pos++;
					s->state = obj ? ST_KEY : ST_VALUE;
					continue;
				}
				if (c == (obj ? '}' : ']'))
					return close_container(s);
				return fail(s, s->pos, obj ? "expected ',' or '}'" : "expected ',' or ']'");
			}
		}
	}
}

int irs_json_next(irs_json_scanner *s)
{
	int t = scan_next(s);
	s->last = t;
	return t;
}

int irs_json_skip(irs_json_scanner *s)
{
	if (s->last == IRS_JSON_ERROR)
		return IRS_JSON_ERROR;
	if (s->last != IRS_JSON_OBJECT_BEGIN && s->last != IRS_JSON_ARRAY_BEGIN)
		return 0;
	uint32_t target = s->depth - 1;
	for (;;) {
		int t = irs_json_next(s);
		if (t == IRS_JSON_ERROR)
			return IRS_JSON_ERROR;
		if ((t == IRS_JSON_OBJECT_END || t == IRS_JSON_ARRAY_END) && s->depth == target)
			return 0;
	}
}

static size_t put_utf8(char *out, unsigned long cp)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* The span was validated by scan_string, so every escape is well formed. Output never
 * overtakes input: "\n" (2) -> 1 byte, "\uXXXX" (6) -> <= 3, a pair (12) -> 4. */
size_t irs_json_unescape(const char *src, size_t len, char *out)
{
	const uint8_t *b = (const uint8_t *)src;
	size_t i = 0, o = 0;
	while (i < len) {
		const void *bs = memchr(b + i, '\\', len - i);
		size_t run = bs ? (size_t)((const uint8_t *)bs - (b + i)) : len - i;
		if (run) {
			memmove(out + o, b + i, run);
			o += run;
			i += run;
		}
		if (!bs)
			break;
		uint8_t e = b[i + 1];
		i += 2;
		switch (e) {
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u': {
			unsigned long cp = (unsigned long)hex4(b, i, len);
			i += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned long lo = (unsigned long)hex4(b, i + 2, len);
				i += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			o += put_utf8(out + o, cp);
			break;
		}
		default: out[o++] = (char)e; break; /* " \ / */
		}
	}
	return o;
}
