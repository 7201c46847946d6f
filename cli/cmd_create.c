/*
 * cmd_create.c: `increstore create DIR --schema schema.json`: a new, empty collection
 * (no backups) with the tables of schema.json (format: schema_json.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "schema_json.h"

enum { OPT_SCHEMA = 1, OPT_QUIET };

static const irs_cli_opt opts[] = {
	{"--schema", true, OPT_SCHEMA},
	{"--quiet", false, OPT_QUIET},
	{"-q", false, OPT_QUIET},
	{NULL, false, 0},
};

/* Creates the parent directories of dir, like mkdir -p (the library creates dir itself). */
static int make_parents(const char *dir)
{
	char *p = strdup(dir);
	if (!p)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "out of memory");
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	int rc = 0;
	/* Every '/' now separates a parent from what follows it. */
	for (char *s = p + 1; *s && !rc; s++) {
		if (*s != '/' || s[-1] == '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) != 0 && errno != EEXIST)
			rc = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: cannot create directory: %s", p,
					    strerror(errno));
		*s = '/';
	}
	free(p);
	return rc;
}

static int run_create(const irs_cli_command *cmd, int argc, char **argv)
{
	irs_cli_parser p;
	irs_cli_parser_init(&p, cmd, argc, argv);
	const char *dir = NULL, *schema = NULL;
	bool quiet = false;
	for (int o; (o = irs_cli_getopt(&p, opts)) != IRS_CLI_OPT_END;) {
		switch (o) {
		case IRS_CLI_OPT_HELP: return IRS_CLI_EXIT_OK;
		case IRS_CLI_OPT_ERROR: return IRS_CLI_EXIT_USAGE;
		case OPT_SCHEMA: schema = p.arg; break;
		case OPT_QUIET: quiet = true; break;
		case IRS_CLI_OPT_POSITIONAL:
			if (dir)
				return irs_cli_usage_error(cmd, "unexpected argument '%s'", p.arg);
			dir = p.arg;
			break;
		}
	}
	if (!dir)
		return irs_cli_usage_error(cmd, "missing the collection directory");
	if (!schema)
		return irs_cli_usage_error(cmd, "missing --schema FILE");

	irs_error err = {0};
	irs_cli_schema s;
	if (irs_schema_json_load(schema, &s, &err))
		return irs_cli_fail(&err);
	int rc = make_parents(dir);
	if (rc) {
		irs_schema_json_free(&s);
		return rc;
	}
	rc = irs_collection_create(dir, s.tables, s.count, &err);
	if (rc) {
		irs_schema_json_free(&s);
		return irs_cli_fail(&err);
	}
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
	"or several: {\"tables\": [ ...objects like the one above... ]}.\n"
	"Types: bool, int32, int64, uint32, uint64, double, utf8, bytes, timestamp\n"
	"(case-insensitive; YDB names too: Uint64, Utf8, String = bytes, Bool, ...).\n"
	"\n"
	"options:\n"
	"  --schema FILE   the schema (required)\n"
	"  -q, --quiet     print nothing on success\n"
	"\n"
	"exit codes: 0 created, 2 usage, 3 invalid schema, 4 I/O error or DIR already\n"
	"holds a collection\n",
	run_create,
};
