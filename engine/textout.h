/*
 * textout.h (private): values and rows as text, for export (engine/export.c) and the
 * CLI. Output goes into a growable irs_textbuf allocated through an irs_mem.
 *
 * TEXT FORMS (the import side, cli/import.c, reads every one of them back exactly)
 *
 *   type       JSON                               CSV field
 *   bool       true / false                       true / false
 *   int32,     decimal number                     decimal
 *   int64,
 *   uint32,
 *   uint64     (uint64 full range, 0..18446744073709551615)
 *   double     the shortest text that strtod()s    the same text
 *              back to the same bits (the fewest
 *              significant digits, the nearest
 *              such decimal), spelled as
 *              ECMAScript's Number::toString:
 *              "0.1", "1000", "1e+21", "5e-324",
 *              "1.5e-7"; -0.0 as "-0.0" (JSON
 *              readers keep the sign of a float
 *              literal, not of "-0"); NaN, +inf,
 *              -inf as the STRINGS "NaN",
 *              "Infinity", "-Infinity" (JSON has
 *              no such numbers, and writing null
 *              would turn a value into a NULL)
 *   utf8       JSON string (escaped)              raw bytes, RFC 4180 quoted when needed
 *   bytes      JSON string when valid UTF-8,      raw bytes, quoted when needed
 *              else {"base64": "<std, padded>"}
 *   timestamp  "YYYY-MM-DDTHH:MM:SS.ffffffZ" for  the same
 *              years 0000..9999 (UTC, always 6
 *              fractional digits); outside those
 *              years RFC 3339 has no form, so the
 *              integer microseconds are written
 *              as a JSON number instead
 *   NULL       null                               empty, unquoted
 *
 * CSV: fields are separated by ',' and rows end with "\n". A field is quoted (RFC 4180,
 * '"' doubled) when it is an empty string (so "" differs from NULL: PostgreSQL COPY's
 * CSV convention), contains ',', '"', CR or LF, starts or ends with a space or tab,
 * or is exactly "\." (PostgreSQL's end-of-data marker).
 *
 * All NaNs print as "NaN": the sign and payload bits of a NaN are not kept.
 */
#ifndef IRS_ENGINE_TEXTOUT_H
#define IRS_ENGINE_TEXTOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/alloc.h"
#include "common/schema.h"

/*
 * A growable byte buffer. data is not NUL-terminated unless irs__textbuf_cstr() is used.
 * A failure to grow is sticky until the next reset: every later reserve, put and cstr
 * fails too, so that a text built by many puts with one check at the end (cstr) is
 * never used with a piece missing.
 */
typedef struct irs_textbuf {
	irs_mem *mem;   /* allocates data */
	char *data;
	size_t len;     /* bytes in use */
	size_t cap;     /* bytes allocated */
	bool failed;    /* a reserve failed since the last reset */
} irs_textbuf;

/* Initialises an empty buffer; mem NULL = irs__mem_default(). Pair with irs__textbuf_free. */
void irs__textbuf_init(irs_textbuf *b, irs_mem *mem);
/* Releases data (the struct itself is the caller's). */
void irs__textbuf_free(irs_textbuf *b);
/* Forgets the contents, keeps the memory. */
static inline void irs__textbuf_reset(irs_textbuf *b)
{
	b->len = 0;
	b->failed = false;
}
/* Makes room for `extra` more bytes. 0 or IRS_ENOMEM (the contents stay intact, and
 * the buffer stays failed until the next reset). */
int irs__textbuf_reserve(irs_textbuf *b, size_t extra);
/* Appends bytes. 0 or IRS_ENOMEM. */
int irs__textbuf_put(irs_textbuf *b, const void *p, size_t n);
/* Makes data a C string (a NUL after len, not counted in len). 0 or IRS_ENOMEM. */
int irs__textbuf_cstr(irs_textbuf *b);

/*
 * Appends one value of column type `type` in the JSON form above. An ABSENT or NULL
 * value is written as null. 0, IRS_ENOMEM, or IRS_EINVAL for an unknown type.
 */
int irs__text_json_value(irs_textbuf *b, irs_type type, const irs_value *v);

/* Appends s[0..len) as a JSON string: quotes, escapes for '"', '\\' and control
 * characters; other bytes are copied as they are (the caller passes valid UTF-8). */
int irs__text_json_string(irs_textbuf *b, const void *s, size_t len);

/* Appends one value in the CSV form above (NULL/ABSENT = nothing, unquoted). */
int irs__text_csv_value(irs_textbuf *b, irs_type type, const irs_value *v);

/* Appends one CSV field holding s[0..len), quoted when needed. */
int irs__text_csv_field(irs_textbuf *b, const void *s, size_t len);

/*
 * Appends a whole row, row[] holding one value per column of t in schema order:
 *   _jsonl_row: {"col": value, ...} with every column (NULL as null) and "\n";
 *   _csv_row:   the fields in schema order and "\n";
 *   _csv_header: the column names in schema order and "\n".
 * 0, IRS_ENOMEM or IRS_EINVAL.
 */
int irs__text_jsonl_row(irs_textbuf *b, const irs_schema_table *t, const irs_value *row);
int irs__text_csv_row(irs_textbuf *b, const irs_schema_table *t, const irs_value *row);
int irs__text_csv_header(irs_textbuf *b, const irs_schema_table *t);

/*
 * A table's column names as a JSONL row writes them, escaped once: before column i's
 * value, text.data[at[i] .. at[i + 1]) (`"name": `, after ", " but for the first).
 * For writers of many rows; read-only once made, so threads may share it.
 */
typedef struct irs_jsonl_names {
	irs_textbuf text;
	size_t *at;      /* ncols + 1 offsets into text */
	uint32_t ncols;
} irs_jsonl_names;
/* 0 or IRS_ENOMEM; either way pair with irs__jsonl_names_free. mem NULL = the default. */
int irs__jsonl_names_init(irs_jsonl_names *n, const irs_schema_table *t, irs_mem *mem);
void irs__jsonl_names_free(irs_jsonl_names *n);
/* irs__text_jsonl_row, the same bytes, with the names made by irs__jsonl_names_init(t);
 * IRS_EINVAL when n holds another number of columns than t. */
int irs__text_jsonl_row_named(irs_textbuf *b, const irs_jsonl_names *n, const irs_schema_table *t,
			      const irs_value *row);

/*
 * Formats a double as the shortest text that reads back to the same bits (above), into
 * out (at least IRS_TEXT_DOUBLE_MAX bytes), NUL-terminated. NaN/inf give "NaN",
 * "Infinity", "-Infinity". Returns the length.
 */
#define IRS_TEXT_DOUBLE_MAX 32
size_t irs__text_double(double d, char *out);

/*
 * Formats microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (27 bytes plus
 * a NUL; out needs IRS_TEXT_TIMESTAMP_MAX). Returns the length, or 0 when the year
 * falls outside 0000..9999 (the caller then writes the integer).
 */
#define IRS_TEXT_TIMESTAMP_MAX 32
size_t irs__text_timestamp(int64_t us, char *out);

/* v in decimal ("-" before a negative one), NUL-terminated in out (IRS_TEXT_INT_MAX
 * bytes), as printf's PRId64 and PRIu64 write it; returns the length. */
#define IRS_TEXT_INT_MAX 24
size_t irs__text_int(int64_t v, char *out);
size_t irs__text_uint(uint64_t v, char *out);

/* Appends standard base64 (RFC 4648, '=' padded) of p[0..n). */
int irs__text_base64(irs_textbuf *b, const void *p, size_t n);

#endif
