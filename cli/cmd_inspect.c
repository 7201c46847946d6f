/*
 * cmd_inspect.c: `increstore inspect DIR [--json] [--verify-data]`: the tables and
 * their schemas, the chain of backups (kind, name, seq, parent, creation time, the
 * full backup each one builds on, records, bytes, segments, per table), and with
 * --verify-data the result of reading every frame of every segment.
 *
 * FORMAT of --json (stable; docs/cli.md):
 *   {"path": DIR, "id": "...", "table_count": N, "backup_count": M,
 *    "tables": [{"name", "columns": [{"name", "type", "key"}], "primary_key": [names]}],
 *    "backups": [{"seq", "name", "kind": "full"|"incremental", "parent": name|null,
 *                 "created": RFC 3339, "created_us", "base": name, "base_seq",
 *                 "records", "bytes", "segments",
 *                 "tables": [{"name", "records", "bytes", "segments"
 *                             [, "expected_rows", "expected_digest"]}]}],
 *    "verify_data": {"ok": true} | {"ok": false, "code": "IRS_E...", "error": "..."}}
 *   ("verify_data" only with --verify-data).
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { OPT_JSON = 1, OPT_VERIFY };

static const irs_cli_opt opts[] = {
	{"--json", false, OPT_JSON},
	{"--verify-data", false, OPT_VERIFY},
	{NULL, false, 0},
};

static int human(irs_collection *c, const char *dir)
{
	uint32_t nt = irs_collection_table_count(c);
	uint32_t nb = irs_collection_backup_count(c);
	printf("collection: %s\n", dir);
	printf("id: %s\n", irs_collection_id(c));
	printf("tables: %u\n", nt);
	for (uint32_t t = 0; t < nt; t++) {
		irs_table_def d;
		if (irs_collection_table(c, t, &d))
			continue;
		printf("  %s (%u column%s, primary key:", d.name, d.column_count,
		       d.column_count == 1 ? "" : "s");
		for (uint32_t k = 0; k < d.primary_key_count; k++)
			printf("%s %s", k ? "," : "", d.columns[d.primary_key[k]].name);
		printf(")\n");
		int w = 4;
		for (uint32_t i = 0; i < d.column_count; i++) {
			int l = (int)strlen(d.columns[i].name);
			if (l > w)
				w = l;
		}
		for (uint32_t i = 0; i < d.column_count; i++) {
			int key = -1;
			for (uint32_t k = 0; k < d.primary_key_count; k++)
				if (d.primary_key[k] == i)
					key = (int)k;
			if (key < 0)
				printf("    %-*s  %s\n", w, d.columns[i].name, irs_type_name(d.columns[i].type));
			else if (d.primary_key_count == 1)
				printf("    %-*s  %-9s  key\n", w, d.columns[i].name,
				       irs_type_name(d.columns[i].type));
			else
				printf("    %-*s  %-9s  key %d\n", w, d.columns[i].name,
				       irs_type_name(d.columns[i].type), key + 1);
		}
	}
	printf("backups: %u\n", nb);
	if (!nb)
		return 0;
	int wn = 4;
	for (uint32_t b = 0; b < nb; b++) {
		irs_backup_info bi;
		if (irs_collection_backup(c, b, &bi) == 0 && (int)strlen(bi.name) > wn)
			wn = (int)strlen(bi.name);
	}
	printf("  %-4s %-11s  %-*s  %-*s  %-27s  %-4s  %10s  %12s  %8s\n", "seq", "kind", wn, "name",
	       wn, "parent", "created", "base", "records", "bytes", "segments");
	for (uint32_t b = 0; b < nb; b++) {
		irs_backup_info bi;
		if (irs_collection_backup(c, b, &bi))
			continue;
		char when[32];
		printf("  %-4" PRIu64 " %-11s  %-*s  %-*s  %-27s  %-4u  %10" PRIu64 "  %12" PRIu64
		       "  %8u\n",
		       bi.seq, irs_cli_kind_name(bi.kind), wn, bi.name, wn, bi.parent[0] ? bi.parent : "-",
		       irs_cli_format_time(bi.created_us, when), bi.base_index + 1, bi.records, bi.bytes,
		       bi.segments);
		if (nt > 1) {
			for (uint32_t t = 0; t < nt; t++) {
				irs_table_def d;
				irs_table_backup_info ti;
				if (irs_collection_table(c, t, &d) || irs_collection_table_backup(c, b, t, &ti))
					continue;
				printf("       %s: %" PRIu64 " record%s, %" PRIu64 " bytes, %u segment%s\n",
				       d.name, ti.records, ti.records == 1 ? "" : "s", ti.bytes, ti.segments,
				       ti.segments == 1 ? "" : "s");
			}
		}
	}
	return 0;
}

/* json-c's adders take ownership; on allocation failure they return NULL/-1. A NULL
 * object added to a container is stored as JSON null, so a failure only degrades the
 * output; json_object_to_json_string_ext then reports the real out-of-memory. */
static void put(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static json_object *to_json(irs_collection *c, const char *dir)
{
	uint32_t nt = irs_collection_table_count(c);
	uint32_t nb = irs_collection_backup_count(c);
	json_object *root = json_object_new_object();
	if (!root)
		return NULL;
	put(root, "path", json_object_new_string(dir));
	put(root, "id", json_object_new_string(irs_collection_id(c)));
	put(root, "table_count", json_object_new_int64(nt));
	put(root, "backup_count", json_object_new_int64(nb));
	json_object *tables = json_object_new_array();
	for (uint32_t t = 0; t < nt; t++) {
		irs_table_def d;
		if (irs_collection_table(c, t, &d))
			continue;
		json_object *jt = json_object_new_object();
		put(jt, "name", json_object_new_string(d.name));
		json_object *cols = json_object_new_array();
		for (uint32_t i = 0; i < d.column_count; i++) {
			json_object *jc = json_object_new_object();
			bool key = false;
			for (uint32_t k = 0; k < d.primary_key_count; k++)
				key |= d.primary_key[k] == i;
			put(jc, "name", json_object_new_string(d.columns[i].name));
			put(jc, "type", json_object_new_string(irs_type_name(d.columns[i].type)));
			put(jc, "key", json_object_new_boolean(key));
			json_object_array_add(cols, jc);
		}
		put(jt, "columns", cols);
		json_object *pk = json_object_new_array();
		for (uint32_t k = 0; k < d.primary_key_count; k++)
			json_object_array_add(pk, json_object_new_string(d.columns[d.primary_key[k]].name));
		put(jt, "primary_key", pk);
		json_object_array_add(tables, jt);
	}
	put(root, "tables", tables);
	json_object *backups = json_object_new_array();
	for (uint32_t b = 0; b < nb; b++) {
		irs_backup_info bi, base;
		if (irs_collection_backup(c, b, &bi) || irs_collection_backup(c, bi.base_index, &base))
			continue;
		char when[32];
		json_object *jb = json_object_new_object();
		put(jb, "seq", json_object_new_uint64(bi.seq));
		put(jb, "name", json_object_new_string(bi.name));
		put(jb, "kind", json_object_new_string(irs_cli_kind_name(bi.kind)));
		put(jb, "parent", bi.parent[0] ? json_object_new_string(bi.parent) : NULL);
		put(jb, "created", json_object_new_string(irs_cli_format_time(bi.created_us, when)));
		put(jb, "created_us", json_object_new_int64(bi.created_us));
		put(jb, "base", json_object_new_string(base.name));
		put(jb, "base_seq", json_object_new_uint64(base.seq));
		put(jb, "records", json_object_new_uint64(bi.records));
		put(jb, "bytes", json_object_new_uint64(bi.bytes));
		put(jb, "segments", json_object_new_uint64(bi.segments));
		json_object *jts = json_object_new_array();
		for (uint32_t t = 0; t < nt; t++) {
			irs_table_def d;
			irs_table_backup_info ti;
			if (irs_collection_table(c, t, &d) || irs_collection_table_backup(c, b, t, &ti))
				continue;
			json_object *jt = json_object_new_object();
			put(jt, "name", json_object_new_string(d.name));
			put(jt, "records", json_object_new_uint64(ti.records));
			put(jt, "bytes", json_object_new_uint64(ti.bytes));
			put(jt, "segments", json_object_new_uint64(ti.segments));
			if (ti.has_expected) {
				put(jt, "expected_rows", json_object_new_uint64(ti.expected_rows));
				put(jt, "expected_digest", json_object_new_uint64(ti.expected_digest));
			}
			json_object_array_add(jts, jt);
		}
		put(jb, "tables", jts);
		json_object_array_add(backups, jb);
	}
	put(root, "backups", backups);
	return root;
}

typedef struct inspect_args {
	bool as_json, verify;
} inspect_args;

static int on_opt(void *ctx, const irs_cli_parser *p, int id)
{
	inspect_args *a = ctx;
	(void)p;
	if (id == OPT_JSON)
		a->as_json = true;
	else if (id == OPT_VERIFY)
		a->verify = true;
	return 0;
}

static int run_inspect(const irs_cli_command *cmd, int argc, char **argv)
{
	inspect_args ia = {0};
	irs_cli_args args = {.opts = opts, .on_opt = on_opt, .ctx = &ia};
	int rc = irs_cli_parse_args(cmd, argc, argv, &args);
	if (rc != IRS_CLI_ARGS_OK)
		return rc;
	const char *dir = args.dir;
	bool as_json = ia.as_json, verify = ia.verify;
	irs_collection *c = NULL;
	rc = irs_cli_open(dir, 0, &c);
	if (rc)
		return rc;

	irs_error verr = {0};
	int vrc = 0;
	if (verify)
		vrc = irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &verr);

	if (as_json) {
		json_object *root = to_json(c, dir);
		if (root && verify) {
			json_object *jv = json_object_new_object();
			put(jv, "ok", json_object_new_boolean(vrc == 0));
			if (vrc) {
				put(jv, "code", json_object_new_string(irs_err_name(vrc)));
				put(jv, "error", json_object_new_string(verr.message));
			}
			put(root, "verify_data", jv);
		}
		const char *text = root ? json_object_to_json_string_ext(
						  root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
								JSON_C_TO_STRING_NOSLASHESCAPE)
					: NULL;
		if (!text) {
			json_object_put(root);
			irs_collection_close(c);
			return irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
		}
		printf("%s\n", text);
		json_object_put(root);
	} else {
		human(c, dir);
		if (verify) {
			if (vrc == 0)
				printf("verify-data: OK\n");
			else
				printf("verify-data: FAILED (%s)\n", irs_err_name(vrc));
		}
	}
	irs_collection_close(c);
	if (vrc)
		return irs_cli_fail(&verr);
	return IRS_CLI_EXIT_OK;
}

const irs_cli_command irs_cli_cmd_inspect = {
	"inspect",
	"show a collection's tables and backup chain",
	"usage: increstore inspect DIR [--json] [--verify-data]\n"
	"\n"
	"Prints the tables with their columns and primary keys, and the chain of backups:\n"
	"sequence number, kind (full/incremental), name, parent, creation time (UTC), the\n"
	"full backup it builds on (base), records, segment bytes and segments (per table\n"
	"when there are several). Opening checks the manifest, the chain and that every\n"
	"segment file is present with the right size.\n"
	"\n"
	"options:\n"
	"  --json          machine-readable output (one JSON document)\n"
	"  --verify-data   also read every frame of every segment: CRCs, decoding, types,\n"
	"                  record counts, keys unique within each backup; prints\n"
	"                  'verify-data: OK' or the first problem\n"
	"\n"
	"exit codes: 0 ok, 2 usage, 3 invalid or corrupt collection, or DIR is not a\n"
	"collection (no MANIFEST), 4 I/O error or no directory DIR\n",
	run_inspect,
	false, /* a signal ends it (docs/cli.md, "Signals") */
};
