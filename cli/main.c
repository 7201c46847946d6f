/*
 * main.c: the `increstore` command: global options (--help, --version) and dispatch
 * to the command table. Each command lives in cli/cmd_<name>.c (see cli.h, "ADDING A
 * COMMAND"); adding one is one entry in `commands` below.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef IRS_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "cli.h"

/* The command table, in the order `increstore --help` lists them. */
static const irs_cli_command *const commands[] = {
	&irs_cli_cmd_create,
	&irs_cli_cmd_add,
	&irs_cli_cmd_inspect,
	&irs_cli_cmd_restore,
	&irs_cli_cmd_verify,
	&irs_cli_cmd_gen,
	&irs_cli_cmd_import_ydb,
	&irs_cli_cmd_check_partitions,
	&irs_cli_cmd_diff,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const irs_cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static void print_help(FILE *f)
{
	fputs("usage: increstore COMMAND [ARGS...]\n"
	      "       increstore COMMAND --help\n"
	      "       increstore --version\n\n"
	      "Restores backup collections (a full backup and a chain of incremental backups)\n"
	      "into in-memory tables.\n\n"
	      "commands:\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-16s %s\n", commands[i]->name, commands[i]->summary);
	fputs("\nexit codes: 0 success, 1 verify or check-partitions found a difference,\n"
	      "            2 usage error, 3 invalid or corrupt input, 4 I/O or system error, 5 cancelled\n",
	      f);
}

static const char *allocator_name(char *buf, size_t cap)
{
#ifdef IRS_WITH_JEMALLOC
	const char *v = NULL;
	size_t sz = sizeof v;
	if (mallctl("version", (void *)&v, &sz, NULL, 0) == 0 && v)
		snprintf(buf, cap, "jemalloc %s", v);
	else
		snprintf(buf, cap, "jemalloc");
	return buf;
#else
	snprintf(buf, cap, "libc");
	return buf;
#endif
}

static int print_version(void)
{
	char alloc[128];
	printf("increstore %s\n", IRS_VERSION_STRING);
	printf("library: libincrestore %s\n", irs_version());
	printf("allocator: %s\n", allocator_name(alloc, sizeof alloc));
#ifdef IRS_FAULT_INJECTION
	printf("test hooks: compiled in (a test build, never a release)\n");
#endif
	return IRS_CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return irs_cli_usage_error(NULL, "missing command");
	const char *a = argv[1];
	if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
		if (argc > 2 && strcmp(a, "help") == 0) {
			const irs_cli_command *cmd = find_command(argv[2]);
			if (!cmd)
				return irs_cli_usage_error(NULL, "unknown command '%s'", argv[2]);
			irs_cli_print_usage(cmd);
			return IRS_CLI_EXIT_OK;
		}
		print_help(stdout);
		return IRS_CLI_EXIT_OK;
	}
	if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0 || strcmp(a, "version") == 0)
		return print_version();
	/* A file size limit (ulimit -f) then fails the write with EFBIG, which every
	 * command reports (exit 4) and cleans up after, instead of killing the process
	 * with its temporary files left behind. */
	signal(SIGXFSZ, SIG_IGN);
	const irs_cli_command *cmd = find_command(a);
	if (!cmd) {
		if (a[0] == '-')
			return irs_cli_usage_error(NULL, "unknown option '%s'", a);
		return irs_cli_usage_error(NULL, "unknown command '%s'", a);
	}
	if (cmd->cancellable) {
		irs_cli_cancel_install();
#ifdef IRS_FAULT_INJECTION
		/* test builds: a signal before the command has done anything (scripts cannot
		 * time one that early from outside) */
		if (getenv("IRS_FAULT_SIGNAL_AT_START"))
			raise(SIGINT);
#endif
	}
	int rc = cmd->run(cmd, argc - 1, argv + 1);
	if (fflush(stdout) != 0 && rc == 0)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "cannot write to standard output");
	return rc;
}
