/*
 * importer.h (private to the importer, cli/import*.c): the state of one import and
 * the functions its files share. import.h is the interface; this is the inside:
 *
 *   import.c         setup, errors, the sink call, the entry points
 *   import_lines.c   the line reader (bounded memory, lines handed out in place)
 *   import_values.c  text -> value parsers (integers, doubles, RFC 3339, base64)
 *   import_jsonl.c   JSONL rows and changes (through json_scan.h)
 *   import_csv.c     CSV rows (through libcsv)
 *   import_sink.c    the sink that feeds a backup writer
 *
 * INVARIANTS
 *   vals[c].state is ABSENT for every column outside a record; the columns a record
 *   set are listed in touched[] and reset after it (irs_import_record_reset).
 *   seen[c] == gen marks a column already listed in the current JSON object or CSV
 *   header.
 */
#ifndef IRS_CLI_IMPORTER_H
#define IRS_CLI_IMPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/cli_support.h"
#include "import.h"

#define IRS_IMPORT_EXCERPT_MAX 48  /* bytes of an offending value quoted in a message */
#define IRS_IMPORT_NAME_SHOWN 80   /* bytes of a column name quoted in a message */

/* What a JSON object lists: a full row, an upsert's columns, an erase's key. */
enum { IRS_IMPORT_MODE_FULL, IRS_IMPORT_MODE_UPSERT, IRS_IMPORT_MODE_ERASE };

typedef struct irs_import_reader {
	int fd;                 /* -1: read from mem */
	const uint8_t *mem;
	size_t mem_len, mem_pos;
	uint8_t *buf;
	size_t cap;
	size_t start, end;      /* unread bytes are buf[start..end) */
	size_t scanned;         /* buf[start..scanned) holds no '\n' */
	bool eof;
	bool bom_checked;
	int may_block;          /* fd is a pipe, terminal or socket: 1; a file: 0; -1 unknown */
} irs_import_reader;

typedef struct irs_importer {
	const irs_table_def *t;
	const irs_import_options *o;
	const irs_import_sink *sink;
	irs_error *err;
	const char *name;       /* input name for messages */
	size_t max_line;
	irs_import_reader rd;
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
} irs_importer;

/* ------------------------------------------------------------------ import.c */

/* The type's name for messages ("?" for an unknown one). */
const char *irs_import_type_name(irs_type t);

/* Sets im->err to "NAME:LINE[:COL]: <fmt>" with code IRS_EINPUT; returns IRS_EINPUT.
 * col 0 leaves the column out. */
int irs_import_error(irs_importer *im, size_t col, const char *fmt, ...) IRS_PRINTF(3, 4);

/* Sets im->err to "NAME: out of memory"; returns IRS_ENOMEM. */
int irs_import_oom(irs_importer *im);

/* Copies an excerpt of s[0..len) into out (truncated with "..."), for messages. */
const char *irs_import_excerpt(const char *s, size_t len, char out[IRS_IMPORT_EXCERPT_MAX + 4]);

/* Column index of the name s[0..n), or -1. */
int irs_import_find_column(const irs_importer *im, const char *s, size_t n);

/* Forgets the current record's values. */
void irs_import_record_reset(irs_importer *im);

/* Hands im->vals to the sink as an upsert (erase: an erase) tagged with the current
 * line; on failure prefixes the sink's message with "NAME:LINE". */
int irs_import_sink_call(irs_importer *im, bool erase);

/* Whether the caller asked to stop, and the error that says so. */
bool irs_import_cancelled(const irs_importer *im);
int irs_import_cancel_error(irs_importer *im);

/* ------------------------------------------------------------------ import_lines.c */

/*
 * Next line into *line and *len (without the '\n'; *nl says whether one followed, and
 * it is then at (*line)[*len]). The line is writable and stays valid until the next
 * call. Returns 1, 0 at the end of the input, or an error code.
 */
int irs_import_read_line(irs_importer *im, char **line, size_t *len, bool *nl);

/* ------------------------------------------------------------------ import_values.c */

/* An integer of type t (int32/int64/uint32/uint64/timestamp) from [+-]digits, range
 * checked exactly; SET in *v. NULL on success, else the reason. */
const char *irs_import_parse_int(irs_type t, const char *s, size_t len, irs_value *v);

/* "NaN", "Infinity", "-Infinity" (any case; "inf", "+Infinity" too) into *d. */
bool irs_import_double_special(const char *s, size_t len, double *d);

/* ------------------------------------------------------------------ the formats */

/* Import the whole input as JSONL rows or changes (import_jsonl.c), or CSV rows
 * (import_csv.c). 0 or an error code. */
int irs_import_run_jsonl(irs_importer *im);
int irs_import_run_csv(irs_importer *im);

#endif
