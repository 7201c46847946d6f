/*
 * schema_json.h (private to the CLI): schema.json -> irs_table_def[].
 *
 * FORMAT (docs/design.md section 5, docs/cli.md)
 *     {"table": "orders",
 *      "columns": [{"name": "id", "type": "uint64"}, {"name": "note", "type": "Utf8"}],
 *      "primary_key": ["id"]}
 *   or {"tables": [ <objects like the one above> ]}.
 *   Type names go through irs_type_parse (case-insensitive; YDB names such as Uint32,
 *   Utf8, String = bytes). "primary_key" may also be a single string. Members not
 *   listed here are ignored (room for comments or future fields); every listed one is
 *   checked. Names are non-empty UTF-8 without NUL, at most 255 bytes.
 *
 * ERRORS: IRS_ESCHEMA with one line naming the file and the place, e.g.
 *     schema.json: table "orders": column "qty": unknown type "int" (types: bool, ...)
 *     schema.json:3:14: malformed JSON: unexpected character
 *   IRS_EIO when the file cannot be read, IRS_ENOMEM.
 */
#ifndef IRS_CLI_SCHEMA_JSON_H
#define IRS_CLI_SCHEMA_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "increstore.h"

typedef struct irs_cli_schema {
	irs_table_def *tables;  /* count entries; all memory owned by this struct */
	uint32_t count;
} irs_cli_schema;

/* Parses text[0..len); `name` (the file) prefixes messages. On success the caller
 * owns *out and releases it with irs_schema_json_free. Thread: any. */
int irs_schema_json_parse(const char *text, size_t len, const char *name, irs_cli_schema *out,
			  irs_error *err);

/* Reads and parses the file at path (at most 64 MiB). */
int irs_schema_json_load(const char *path, irs_cli_schema *out, irs_error *err);

/* Releases what a successful parse returned; safe on a zeroed struct. */
void irs_schema_json_free(irs_cli_schema *s);

#endif
