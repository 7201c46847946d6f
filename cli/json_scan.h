/*
 * json_scan.h (private to the CLI): a strict, allocation-free pull scanner for one
 * JSON text (one JSONL line), RFC 8259.
 *
 * Why not json-c or jansson: json-c 0.16 silently saturates integers above 2^64-1
 * (and above 2^63-1 for signed reads), and jansson stores every integer in a
 * json_int_t (long long), so it cannot represent uint64 values above 2^63-1. Our
 * tables hold uint64 up to 18446744073709551615 and doubles that must round-trip
 * bit for bit, so numbers are handed to the caller as their raw text span and the
 * caller parses them exactly for the column's type. A pull scanner also lets the
 * importer map object members straight to columns without building a DOM.
 *
 * USAGE
 *     irs_json_scanner s;
 *     irs_json_init(&s, line, len);
 *     for (;;) {
 *         int tok = irs_json_next(&s);       // IRS_JSON_* below
 *         if (tok == IRS_JSON_ERROR) ...     // s.err_msg, s.err_col (1-based byte)
 *         if (tok == IRS_JSON_END) break;    // the whole text was consumed
 *         ...                                // s.tok_ptr / s.tok_len / flags
 *     }
 *
 * Tokens come in document order. Object members produce IRS_JSON_KEY (the member
 * name, a string span) followed by the member's value tokens. The scanner checks the
 * whole grammar: commas, colons, bracket matching, one top-level value, nothing but
 * whitespace after it, numbers (no leading zeros, no NaN/Infinity, no '+', no '.5'),
 * strings (no raw control characters, valid escapes, surrogate pairs that pair up,
 * valid UTF-8: no overlongs, no encoded surrogates, nothing above U+10FFFF).
 *
 * Strings are returned as the raw span between the quotes; `tok_escaped` says whether
 * it holds a backslash. irs_json_unescape() turns such a span into its UTF-8 bytes;
 * the result is never longer than the span, so it may be done in place.
 *
 * Nesting is bounded by IRS_JSON_MAX_DEPTH (deeper input is an error, not a stack
 * overflow: the scanner has no recursion at all).
 */
#ifndef IRS_CLI_JSON_SCAN_H
#define IRS_CLI_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IRS_JSON_MAX_DEPTH 64

enum {
	IRS_JSON_ERROR = -1,
	IRS_JSON_END = 0,          /* the top-level value ended and only whitespace followed */
	IRS_JSON_OBJECT_BEGIN = 1,
	IRS_JSON_OBJECT_END = 2,
	IRS_JSON_ARRAY_BEGIN = 3,
	IRS_JSON_ARRAY_END = 4,
	IRS_JSON_KEY = 5,          /* member name: a string span */
	IRS_JSON_STRING = 6,
	IRS_JSON_NUMBER = 7,       /* raw text span, RFC 8259 grammar checked */
	IRS_JSON_TRUE = 8,
	IRS_JSON_FALSE = 9,
	IRS_JSON_NULL = 10
};

typedef struct irs_json_scanner {
	const uint8_t *buf;        /* the text (not NUL-terminated) */
	size_t len;
	size_t pos;                /* next byte to read */
	uint32_t depth;            /* open containers */
	uint8_t state;             /* what may come next (json_scan.c) */
	uint8_t stack[IRS_JSON_MAX_DEPTH]; /* 1 = object, 2 = array, per open container */

	/* The current token. */
	const char *tok_ptr;       /* string/key: first byte after the quote; number: first char */
	size_t tok_len;            /* bytes of the span (string: without quotes) */
	size_t tok_col;            /* 1-based byte column where the token starts */
	bool tok_escaped;          /* string/key: contains a backslash escape */
	bool num_negative;         /* number: starts with '-' */
	bool num_fraction;         /* number: has a '.' part */
	bool num_exponent;         /* number: has an 'e'/'E' part */
	int last;                  /* the token returned by the last irs_json_next() */

	/* The error, after IRS_JSON_ERROR (sticky: later calls return it again). */
	const char *err_msg;       /* static text, e.g. "expected ',' or '}'" */
	size_t err_col;            /* 1-based byte column of the offending byte */
} irs_json_scanner;

/* Starts scanning buf[0..len). The scanner keeps pointers into buf. Thread: any. */
void irs_json_init(irs_json_scanner *s, const void *buf, size_t len);

/* Returns the next token (IRS_JSON_*). After IRS_JSON_END or IRS_JSON_ERROR the same
 * value is returned again. */
int irs_json_next(irs_json_scanner *s);

/*
 * Skips the value whose first token was just returned: for OBJECT_BEGIN/ARRAY_BEGIN,
 * everything up to and including the matching end (still fully validated); for a
 * scalar, nothing. Returns 0, or IRS_JSON_ERROR.
 */
int irs_json_skip(irs_json_scanner *s);

/*
 * Decodes a validated string span (tok_ptr/tok_len of a STRING or KEY) into out,
 * which needs room for len bytes and may equal src (in-place). Returns the number
 * of bytes written. Escapes become their UTF-8 bytes (\u0000 gives a 0 byte).
 */
size_t irs_json_unescape(const char *src, size_t len, char *out);

/* True when buf[0..len) is valid UTF-8 (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). */
bool irs_json_utf8_valid(const void *buf, size_t len);

#endif
