/*
 * cmd_create.c: `increstore create DIR --schema schema.json`: a new, empty collection
 * (no backups) with the tables of schema.json (format: schema_json.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "schema_json.h"

enum { OPT_SCHEMA = 1, OPT_QUIET };

static const irs_cli_opt opts[] = {
	{"--schema", true, OPT_SCHEMA},
	{"--quiet", false, OPT_QUIET},
	{"-q", false, OPT_QUIET},
	{NULL, false, 0},
};

typedef struct create_args {
	const char *schema;
	bool quiet;
} create_args;

static int on_opt(void *ctx, const irs_cli_parser *p, int id)
{
	create_args *a = ctx;
	if (id == OPT_SCHEMA)
		a->schema = p->arg;
	else if (id == OPT_QUIET)
		a->quiet = true;
	return 0;
}

static int run_create(const irs_cli_command *cmd, int argc, char **argv)
{
	create_args ca = {0};
	irs_cli_args args = {.opts = opts, .on_opt = on_opt, .ctx = &ca};
	int rc = irs_cli_parse_args(cmd, argc, argv, &args);
	if (rc != IRS_CLI_ARGS_OK)
		return rc;
	const char *dir = args.dir, *schema = ca.schema;
	bool quiet = ca.quiet;
	if (!schema)
		return irs_cli_usage_error(cmd, "missing --schema FILE");

	irs_error err = {0};
	irs_cli_schema s;
	if (irs_schema_json_load(schema, &s, &err))
		return irs_cli_fail(&err);
	char *made;
	rc = irs_cli_make_parents(dir, &made);
	if (rc) {
		irs_schema_json_free(&s);
		return rc;
	}
	rc = irs_collection_create(dir, s.tables, s.count, &err);
	if (rc) {
		/* nothing half-made stays: the library left no directory, remove the parents */
		irs_cli_unmake_parents(dir, made);
		irs_schema_json_free(&s);
		return irs_cli_fail(&err);
	}
	free(made);
	if (!quiet) {
		printf("created collection %s with %u table%s:", dir, s.count, s.count == 1 ? "" : "s");
		for (uint32_t i = 0; i < s.count; i++)
			printf("%s %s", i ? "," : "", s.tables[i].name);
		printf("\n");
	}
	irs_schema_json_free(&s);
	return IRS_CLI_EXIT_OK;
}

const irs_cli_command irs_cli_cmd_create = {
	"create",
	"create an empty collection from a schema",
	"usage: increstore create DIR --schema schema.json [--quiet]\n"
	"\n"
	"Creates an empty backup collection (no backups yet) in DIR, which must not exist\n"
	"or be an empty directory.\n"
	"\n"
	"schema.json describes one table:\n"
	"  {\"table\": \"orders\",\n"
	"   \"columns\": [{\"name\": \"id\", \"type\": \"uint64\"},\n"
	"               {\"name\": \"note\", \"type\": \"utf8\"}],\n"
	"   \"primary_key\": [\"id\"]}\n"
	"or several: {\"tables\": [ ...objects like the one above... ]}. Other members,\n"
	"and a member given twice, are refused (a misspelt one would go unnoticed).\n"
	"Types: bool, int32, int64, uint32, uint64, double, utf8, bytes, timestamp\n"
	"(case-insensitive; YDB names too: Uint64, Utf8, String = bytes, Bool, ...).\n"
	"Table names become file names (restore --out DIR/): '/' separates directories\n"
	"(DirA/TableA); no empty, '.' or '..' part, no leading or trailing '/', parts of\n"
	"at most 249 bytes, no control characters. A refused schema creates nothing.\n"
	"\n"
	"options:\n"
	"  --schema FILE   the schema (required)\n"
	"  -q, --quiet     print nothing on success\n"
	"\n"
	"exit codes: 0 created, 2 usage, 3 invalid schema, 4 I/O error or DIR already\n"
	"holds a collection\n",
	run_create,
	false, /* a signal ends it (docs/cli.md, "Signals") */
};
