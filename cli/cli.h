/*
 * cli.h (private to the CLI): what every `increstore` command shares: the command
 * table entry, option parsing, error reporting, exit codes and cancellation.
 *
 * ADDING A COMMAND (e.g. `increstore restore`)
 *   1. Write cli/cmd_restore.c defining
 *          static int run_restore(const irs_cli_command *cmd, int argc, char **argv);
 *          const irs_cli_command irs_cli_cmd_restore = {
 *              "restore", "restore a collection into memory and export it",
 *              "usage: increstore restore DIR [--shards N] ...\n\n...details...\n",
 *              run_restore};
 *      run() gets argv[0] = the command name and argv[1..argc) = its arguments. Parse
 *      them with irs_cli_parse_args (below), which runs the option loop: -h/--help,
 *      "--", "--opt=value", unknown options, the DIR argument. Return an exit code
 *      (IRS_CLI_EXIT_*).
 *   2. Declare `extern const irs_cli_command irs_cli_cmd_restore;` below.
 *   3. Put `&irs_cli_cmd_restore` in the table in cli/main.c. cli/CMakeLists.txt
 *      globs every .c file in cli/, so nothing else changes.
 *
 * OUTPUT RULES
 *   Results go to stdout. Every error is ONE line on stderr, "increstore: <message>",
 *   printed by irs_cli_fail / irs_cli_errorf / irs_cli_usage_error, which also return
 *   the exit code to use. Usage errors end with a pointer to the command's --help.
 */
#ifndef IRS_CLI_CLI_H
#define IRS_CLI_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "engine/cli_support.h"
#include "increstore.h"

/* A macro's value as a string literal, for help texts (IRS_CLI_STR(IRS_MAX_SHARDS)). */
#define IRS_CLI_STR_(x) #x
#define IRS_CLI_STR(x) IRS_CLI_STR_(x)

/* Exit codes (docs/design.md section 5). */
enum {
	IRS_CLI_EXIT_OK = 0,
	IRS_CLI_EXIT_DIFF = 1,      /* verify found a difference */
	IRS_CLI_EXIT_USAGE = 2,     /* unknown option, missing argument, bad flag value */
	IRS_CLI_EXIT_INPUT = 3,     /* invalid or corrupt input */
	IRS_CLI_EXIT_IO = 4,        /* I/O or system error */
	IRS_CLI_EXIT_CANCELED = 5
};

typedef struct irs_cli_command irs_cli_command;

struct irs_cli_command {
	const char *name;       /* "add" */
	const char *summary;    /* one line for `increstore --help` */
	const char *usage;      /* the full text of `increstore NAME --help` (ends with '\n') */
	int (*run)(const irs_cli_command *cmd, int argc, char **argv);
	bool cancellable;       /* main() installs the signal handlers before run (see
				 * irs_cli_cancel_install): run checks irs_cli_cancelled */
};

/* The commands (one cmd_<name>.c each). */
extern const irs_cli_command irs_cli_cmd_create;
extern const irs_cli_command irs_cli_cmd_add;
extern const irs_cli_command irs_cli_cmd_inspect;
extern const irs_cli_command irs_cli_cmd_restore;
extern const irs_cli_command irs_cli_cmd_verify;
extern const irs_cli_command irs_cli_cmd_gen;
extern const irs_cli_command irs_cli_cmd_import_ydb;
extern const irs_cli_command irs_cli_cmd_check_partitions;
extern const irs_cli_command irs_cli_cmd_diff;

/*
 * Exit code for a library error code: EINVAL -> 2; ECORRUPT, ECHAIN, ESCHEMA, EINPUT,
 * EDUPKEY, EMISMATCH -> 3; EIO, ENOMEM, ELIMIT, ESHARD, ENOTFOUND, EEXIST -> 4
 * (file-system state: missing or existing paths); ECANCELED -> 5; 0 -> 0.
 */
int irs_cli_exit_code(int irs_code);

/* Prints "increstore: <err->message>" (or the generic text) and returns its exit code. */
int irs_cli_fail(const irs_error *err);

/* Prints "increstore: <formatted>" and returns exit_code. */
int irs_cli_errorf(int exit_code, const char *fmt, ...) IRS_PRINTF(2, 3);

/* Prints "increstore: CMD: <formatted> (see 'increstore CMD --help')"; returns 2. */
int irs_cli_usage_error(const irs_cli_command *cmd, const char *fmt, ...) IRS_PRINTF(2, 3);

/* ------------------------------------------------------------------ options */

typedef struct irs_cli_opt {
	const char *name;       /* "--shards" (a short alias like "-n" may be a second entry) */
	bool has_arg;           /* takes a value: "--shards 4" or "--shards=4" */
	int id;                 /* returned by irs_cli_getopt; must be > 0 */
} irs_cli_opt;

typedef struct irs_cli_parser {
	const irs_cli_command *cmd;
	int argc;
	char **argv;
	int idx;                /* next argv index */
	bool only_positional;   /* after "--" */
	const char *arg;        /* the option's value, or the positional argument */
	const char *opt;        /* the option as written (for messages) */
} irs_cli_parser;

enum {
	IRS_CLI_OPT_END = 0,          /* no more arguments */
	IRS_CLI_OPT_POSITIONAL = -1,  /* p->arg is a positional argument ("-" is one) */
	IRS_CLI_OPT_HELP = -2,        /* -h/--help: usage was printed to stdout; exit 0 */
	IRS_CLI_OPT_ERROR = -3        /* a usage error was printed; exit 2 */
};

/* Starts parsing argv[1..argc) of cmd (argv[0] is the command name). */
void irs_cli_parser_init(irs_cli_parser *p, const irs_cli_command *cmd, int argc, char **argv);

/*
 * Returns the next option's id (p->arg = its value when it has one), or one of
 * IRS_CLI_OPT_* above. opts ends with an entry whose name is NULL.
 */
int irs_cli_getopt(irs_cli_parser *p, const irs_cli_opt *opts);

/*
 * The option loop every command runs: `increstore CMD DIR [ARG...] [options]`.
 * irs_cli_parse_args parses argv[1..argc) with a->opts and
 *   - on -h/--help prints the usage and returns IRS_CLI_EXIT_OK (the command stops);
 *   - on a usage error (unknown option, missing value) returns IRS_CLI_EXIT_USAGE;
 *   - takes the first positional argument as a->dir;
 *   - hands every other option to a->on_opt(a->ctx, p, id), and every later positional
 *     argument too (id IRS_CLI_OPT_POSITIONAL) when a->more_args, else reports it as
 *     unexpected; on_opt returns 0 to go on, or the exit code to stop with;
 *   - at the end reports a missing DIR.
 * Returns IRS_CLI_ARGS_OK when the command goes on, else the exit code to return.
 */
enum { IRS_CLI_ARGS_OK = -1 };

typedef struct irs_cli_args {
	const irs_cli_opt *opts;
	int (*on_opt)(void *ctx, const irs_cli_parser *p, int id);
	void *ctx;
	bool more_args;         /* positional arguments after DIR go to on_opt */
	const char *dir;        /* out: the collection directory */
} irs_cli_args;

int irs_cli_parse_args(const irs_cli_command *cmd, int argc, char **argv, irs_cli_args *a);

/* Parses a decimal unsigned flag value in [min, max]; on failure prints a usage
 * error naming the option and returns false. */
bool irs_cli_parse_u64(const irs_cli_parser *p, const char *value, uint64_t min, uint64_t max,
		       uint64_t *out);

/*
 * Parses a size as people type it: a decimal number, a fraction allowed ("1.5"), an
 * optional space and an optional unit, case-insensitive: B; K, M, G, T, P, E and
 * KiB ... EiB (powers of 1024); KB, MB, GB, TB, PB, EB (powers of 1000), as GNU
 * coreutils reads them. "64M" = 67108864, "1.5GiB" = 1610612736, "2GB" = 2000000000;
 * fractions of a byte are dropped. Values in [min, max]; on failure prints a usage
 * error naming the option and returns false.
 */
bool irs_cli_parse_size(const irs_cli_parser *p, const char *value, uint64_t min, uint64_t max,
			uint64_t *out);

/* Prints cmd->usage to stdout. */
void irs_cli_print_usage(const irs_cli_command *cmd);

/* ------------------------------------------------------------------ helpers */

/*
 * Cancellation: after irs_cli_cancel_install(), SIGINT and SIGTERM set
 * irs_cli_cancelled to 1, each time (a second signal does not end the process: every
 * phase stops at its next check and removes what it was writing). main() installs
 * the handlers first thing for a command marked cancellable, so that a signal while
 * the command parses its arguments or opens its files cancels it too (exit 5) instead
 * of ending the process. Pass
 * &irs_cli_cancelled to importers, or as irs_restore_options.cancel (sig_atomic_t
 * is int on every platform we build on; cli.c checks it at compile time).
 */
extern volatile sig_atomic_t irs_cli_cancelled;
void irs_cli_cancel_install(void);

/* Formats microseconds since the epoch like textout (RFC 3339 UTC, 6 digits), or the
 * integer outside years 0000-9999. out needs 32 bytes. */
const char *irs_cli_format_time(int64_t us, char out[32]);

/* "1.5 MiB"-style size for people. out needs 32 bytes. */
const char *irs_cli_format_bytes(uint64_t bytes, char out[32]);

/* Seconds on the monotonic clock, for timing and rates. */
double irs_cli_now_s(void);

/* "full" or "incremental". */
const char *irs_cli_kind_name(irs_backup_kind kind);

/*
 * Finds the collection table named `name`; on failure prints a usage error listing
 * the tables and returns -1 (the caller returns IRS_CLI_EXIT_USAGE).
 */
int irs_cli_find_table(const irs_cli_command *cmd, const irs_collection *c, const char *name);

/*
 * Opens path for reading without waiting in open() for the writer of a FIFO (where no
 * signal could cancel it): O_NONBLOCK for the open, blocking reads after it. Returns the
 * fd, or -1 with errno set.
 */
int irs_cli_open_input(const char *path);

/*
 * Waits until fd (a pipe, FIFO or terminal) has input or its end, checking *cancel
 * every 100 ms: a signal does not interrupt read() (the handlers restart it), so input
 * that never comes would keep a cancelled command waiting. False when *cancel was set
 * first.
 */
bool irs_cli_wait_input(int fd, const volatile sig_atomic_t *cancel);

/*
 * Reads the whole file at path (a pipe or FIFO too, waiting for it as
 * irs_cli_wait_input does on irs_cli_cancelled) into *buf (malloc'd, *len bytes). A
 * file of more than max bytes is refused with too_large_code; the others are IRS_EIO,
 * IRS_ENOMEM and IRS_ECANCELED. The caller frees *buf.
 */
int irs_cli_read_file(const char *path, size_t max, int too_large_code, char **buf, size_t *len,
		      irs_error *err);

/*
 * Table names become file names under --out DIR/ as DIR/<name><ext>, with '/' in a name
 * making subdirectories (the collection refuses names with an empty, "." or ".."
 * component when it is opened). Refused (a usage error, exit 2, before anything is
 * written): a table whose file would be another table's directory (tables "A.jsonl/B"
 * and "A").
 */
int irs_cli_check_table_paths(const irs_cli_command *cmd, const irs_collection *c, int only,
			      const char *ext);

/* Creates the parent directories of dir, like mkdir -p (the library creates dir
 * itself). On failure prints the error and returns its exit code; 0 on success.
 * *made (may be NULL) receives the shallowest directory it created (malloc'd), or
 * NULL when every parent existed: irs_cli_unmake_parents undoes it. */
int irs_cli_make_parents(const char *dir, char **made);

/* After a command failed: removes the parents that irs_cli_make_parents made for dir
 * (each only while empty; dir itself is the caller's), and frees made. */
void irs_cli_unmake_parents(const char *dir, char *made);

/*
 * Whether a and b (values of a column of type `type`) are the same value: both NULL
 * (ABSENT counts as NULL), or both SET and equal: integers exactly, bools by truth,
 * doubles bitwise (NaN equals itself, -0.0 differs from 0.0), strings bytewise with
 * their lengths. Thread: any.
 */
bool irs_cli_value_equal(irs_type type, const irs_value *a, const irs_value *b);

/* Opens a collection for the CLI (flags as irs_collection_open). On failure prints the
 * error and returns its exit code; 0 on success. */
int irs_cli_open(const char *dir, unsigned flags, irs_collection **out);

/* The value of hex digit c, or -1. */
static inline int irs_cli_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* True when s ends with suffix. */
static inline bool irs_cli_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* True when path ends with the extension ext (".csv"), in any case: how add's files
 * and restore's --out are told apart (out.JSONL is a JSONL file, not a collection). */
static inline bool irs_cli_has_ext(const char *path, const char *ext)
{
	size_t n = strlen(path), m = strlen(ext);
	return n >= m && strcasecmp(path + n - m, ext) == 0;
}

#endif
