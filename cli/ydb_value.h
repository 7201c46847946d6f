/*
 * ydb_value.h (private to the CLI): the values of a YDB dump's data files
 * (data_NN.csv as `ydb tools dump` writes them) and how they map to increstore types.
 *
 * LINE FORMAT: one row per line, fields separated by ',' in scheme.pb column order, no
 * header, no quoting of commas (string bytes are percent-escaped, so a field never holds
 * a comma). irs_ydb_split cuts a line into fields.
 *
 * FIELD TEXT (YDB's writer, and the parser its restore uses; the column is the rule):
 *   any         null (bare) is NULL; "null" (quoted) is a string
 *   Bool        1 / 0 (also true/false/yes/no/on/off, any case)
 *   Int8..64    [+-]digits, range-checked against the declared width
 *   Uint8..64   [+]digits, range-checked
 *   Float       a decimal number, inf, -inf, nan; stored as (double)(float)x as YDB does
 *   Double      the same, stored as parsed
 *   Date        RFC 3339 (or YYYY-MM-DD); truncated to the day, 1970-01-01 .. 2105-12-31
 *   Datetime    RFC 3339; truncated to the second, before 2106-01-01
 *   Timestamp   RFC 3339 with up to 6 fraction digits, before 2106-01-01
 *   Interval    [+-]digits, microseconds, |x| < 2106-01-01 in microseconds
 *   String, Yson                "..." percent-decoded (any bytes)
 *   Utf8, Json, JsonDocument    "..." percent-decoded, must be valid UTF-8
 * Percent-decoding (CGIUnescape): '+' is a space, %XX (either case) is that byte, a '%'
 * without two hex digits after it stays literal. Leading spaces before a number are
 * accepted (YDB's double parser does); nothing else is trimmed.
 *
 * TYPE MAPPING (lossless): Bool -> bool; Int8/16/32 -> int32; Int64, Interval -> int64;
 * Uint8/16/32 -> uint32; Uint64 -> uint64; Float/Double -> double; Utf8, Json,
 * JsonDocument -> utf8; String, Yson -> bytes; Date, Datetime, Timestamp -> timestamp
 * (microseconds). Every other YDB type is IRS_YDB_UNSUPPORTED.
 */
#ifndef IRS_CLI_YDB_VALUE_H
#define IRS_CLI_YDB_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "increstore.h"

typedef enum irs_ydb_kind {
	IRS_YDB_UNSUPPORTED = 0,
	IRS_YDB_BOOL,
	IRS_YDB_INT8,
	IRS_YDB_INT16,
	IRS_YDB_INT32,
	IRS_YDB_INT64,
	IRS_YDB_UINT8,
	IRS_YDB_UINT16,
	IRS_YDB_UINT32,
	IRS_YDB_UINT64,
	IRS_YDB_FLOAT,
	IRS_YDB_DOUBLE,
	IRS_YDB_DATE,
	IRS_YDB_DATETIME,
	IRS_YDB_TIMESTAMP,
	IRS_YDB_INTERVAL,
	IRS_YDB_STRING,
	IRS_YDB_UTF8,
	IRS_YDB_YSON,
	IRS_YDB_JSON,
	IRS_YDB_JSON_DOCUMENT,
	IRS_YDB_KIND_COUNT
} irs_ydb_kind;

/* YDB's name of a kind ("Uint64", "JsonDocument"); "?" for UNSUPPORTED. */
const char *irs_ydb_kind_name(irs_ydb_kind k);
/* The increstore type a kind maps to; 0 for UNSUPPORTED. */
irs_type irs_ydb_kind_type(irs_ydb_kind k);

/* A field of a line: [ptr, ptr + len). */
typedef struct irs_ydb_field {
	char *ptr;
	size_t len;
} irs_ydb_field;

/*
 * Splits line[0..len) at every ','. Writes at most max fields and returns how many the
 * line has (which may exceed max: the caller reports the count mismatch).
 */
size_t irs_ydb_split(char *line, size_t len, irs_ydb_field *fields, size_t max);

/*
 * Parses one field of kind k into *out (SET, or NULL for a bare `null`). Strings are
 * decoded in place: s[0..len) is overwritten and out->v.s points into it. Returns
 * NULL on success, else a static reason ("out of range for Int16", ...); a string
 * refused once decoded (invalid UTF-8) leaves out->v.s on its decoded bytes, any
 * other refused string leaves out->v.s.ptr NULL and s as it was.
 */
const char *irs_ydb_parse_field(irs_ydb_kind k, char *s, size_t len, irs_value *out);

/* Percent-decodes s[0..len) in place (the result is never longer); returns its length. */
size_t irs_ydb_cgi_unescape(char *s, size_t len);

#endif
