/*
 * import.h (private to the CLI): streaming importers of rows and changes into a
 * backup writer, or into any sink (the fuzz targets and tests use a callback sink
 * and need no collection).
 *
 * INPUT FORMATS (docs/cli.md has the user-facing description)
 *   IRS_IMPORT_ROWS_JSONL     one JSON object per line, column name -> value; an absent
 *                             column or null is NULL. Key columns are required.
 *   IRS_IMPORT_ROWS_CSV       RFC 4180; the first record is a header of column names
 *                             (columns not in it are NULL); an unquoted empty field is
 *                             NULL and "" is the empty string (PostgreSQL COPY CSV).
 *                             Spaces are data (never trimmed).
 *   IRS_IMPORT_CHANGES_JSONL  {"op": "upsert", "row": {...}}: the listed columns change
 *                             (null sets NULL), key columns required; or
 *                             {"op": "erase", "key": {...}}: exactly the key columns.
 *   Blank lines (only JSON whitespace) are skipped in JSONL; empty lines in CSV too.
 *   A UTF-8 byte order mark at the very start of the input is skipped.
 *
 * VALUES (JSON / CSV text); every textout.h form is accepted, so exports re-import:
 *   bool       true/false  |  true/false/t/f/1/0, any case
 *   int32 int64 uint32 uint64
 *              a JSON number without fraction or exponent, range-checked exactly
 *              (uint64 up to 18446744073709551615) | [+-]digits
 *   double     a JSON number or the strings "NaN", "Infinity", "-Infinity" | the
 *              same texts (any case; "inf"/"+Infinity" too); out of double range is
 *              an error, underflow rounds to the nearest double (as strtod)
 *   utf8       a JSON string | the field, which must be valid UTF-8
 *   bytes      a JSON string (its UTF-8 bytes) or {"base64": "..."} (RFC 4648
 *              standard alphabet, padded, canonical) | the raw field bytes
 *   timestamp  integer microseconds since the epoch, or an RFC 3339 string
 *              "YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)" ('t', 'z' and ' ' for
 *              'T' accepted); more than 6 fractional digits only when the extra
 *              ones are zeros; no leap second (:60)
 *
 * ERRORS are IRS_EINPUT (or the sink's code) with one line:
 *   NAME:LINE:COL: malformed JSON: <reason>
 *   NAME:LINE:COL: column "c" (type): <reason>              (JSONL values; COL = byte)
 *   NAME:LINE: field N (column "c", type): <reason>          (CSV)
 *   NAME:LINE: <sink message>                                (writer errors)
 * LINE is 1-based; for CSV it is the line where the record starts. Each record's LINE
 * is passed to the sink as its tag, so writer errors (duplicate keys found at commit)
 * can name lines too.
 *
 * MEMORY: input is read in chunks; one line (CSV: one record) may be at most
 * max_line bytes (default 64 MiB), beyond that is an error. Values handed to the sink
 * point into the importer's buffers and are valid during the sink call only.
 */
#ifndef IRS_CLI_IMPORT_H
#define IRS_CLI_IMPORT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "increstore.h"

#define IRS_IMPORT_MAX_LINE ((size_t)64 << 20)

typedef enum irs_import_format {
	IRS_IMPORT_ROWS_JSONL = 1,
	IRS_IMPORT_ROWS_CSV = 2,
	IRS_IMPORT_CHANGES_JSONL = 3
} irs_import_format;

/*
 * Where parsed records go. values[] has one entry per column of the table (ABSENT =
 * not listed); a full row is passed to upsert. A non-zero return stops the import;
 * the importer prefixes err's message with "NAME:LINE: " and returns the code.
 */
typedef struct irs_import_sink {
	int (*upsert)(void *ctx, uint32_t table, const irs_value *values, uint64_t tag,
		      irs_error *err);
	int (*erase)(void *ctx, uint32_t table, const irs_value *values, uint64_t tag,
		     irs_error *err);
	void *ctx;
} irs_import_sink;

typedef struct irs_import_options {
	irs_import_format format;
	const char *name;       /* the input in messages ("rows.jsonl", "<stdin>"); NULL = "<input>" */
	uint32_t table;         /* passed to the sink as `table` */
	size_t max_line;        /* longest line or CSV record; 0 = IRS_IMPORT_MAX_LINE */
	const volatile sig_atomic_t *cancel; /* when it turns non-zero: IRS_ECANCELED; may be NULL */
} irs_import_options;

/* Fills o with defaults (format JSONL rows, everything else 0/NULL). */
void irs_import_options_init(irs_import_options *o);

typedef struct irs_import_stats {
	uint64_t lines;         /* physical lines read */
	uint64_t bytes;         /* input bytes read */
	uint64_t upserts;       /* rows (full) or upserts passed to the sink */
	uint64_t erases;
	uint64_t csv_buffer_grows; /* CSV: times the field buffer was enlarged (it doubles,
				    * so a huge field costs a few, never one per 128 bytes) */
} irs_import_stats;

/*
 * Reads a whole input and passes every record to sink. `table` describes the
 * table's columns (e.g. from irs_collection_table). stats may be NULL; it is filled
 * also on failure (how far the import got).
 *   _fd:     reads fd until EOF (does not close it);
 *   _buffer: parses data[0..len) (fuzzing, tests);
 *   _path:   opens path ("-" = standard input; cannot-open is IRS_EIO naming path).
 * Returns 0, IRS_EINPUT, IRS_EIO, IRS_ENOMEM, IRS_ECANCELED or the sink's code.
 * Thread: any; the call is self-contained.
 */
int irs_import_fd(const irs_table_def *table, int fd, const irs_import_options *o,
		  const irs_import_sink *sink, irs_import_stats *stats, irs_error *err);
int irs_import_buffer(const irs_table_def *table, const void *data, size_t len,
		      const irs_import_options *o, const irs_import_sink *sink,
		      irs_import_stats *stats, irs_error *err);
int irs_import_path(const irs_table_def *table, const char *path, const irs_import_options *o,
		    const irs_import_sink *sink, irs_import_stats *stats, irs_error *err);

/* A sink that feeds irs_backup_writer_upsert/_erase of w. */
irs_import_sink irs_import_writer_sink(irs_backup_writer *w);

/*
 * Value parsers, shared with other CLI code (e.g. key arguments) and tested directly.
 * Each returns NULL on success, else a static reason ("out of range for int32 ...").
 *   irs_import_parse_text: a CSV field's text s[0..len) for `type` (s must be followed
 *     by a NUL at s[len] for double); SET value in *out; strings point into s.
 *   irs_import_parse_rfc3339: an RFC 3339 timestamp into microseconds.
 *   irs_import_base64_decode: strict RFC 4648 decode, out may equal in.
 */
const char *irs_import_parse_text(irs_type type, const char *s, size_t len, irs_value *out);
const char *irs_import_parse_rfc3339(const char *s, size_t len, int64_t *us);
const char *irs_import_base64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen);

#endif
