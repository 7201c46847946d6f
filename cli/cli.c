/*
 * cli.c: helpers shared by the increstore commands (cli.h): exit codes, one-line
 * error reporting, option parsing, cancellation and formatting.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/cli_support.h"

_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "irs_restore_options.cancel reads an int");

volatile sig_atomic_t irs_cli_cancelled;

int irs_cli_exit_code(int code)
{
	switch (code) {
	case 0:
		return IRS_CLI_EXIT_OK;
	case IRS_EINVAL:
		return IRS_CLI_EXIT_USAGE;
	case IRS_ECORRUPT:
	case IRS_ECHAIN:
	case IRS_ESCHEMA:
	case IRS_EINPUT:
	case IRS_EDUPKEY:
	case IRS_EMISMATCH:
		return IRS_CLI_EXIT_INPUT;
	case IRS_ECANCELED:
		return IRS_CLI_EXIT_CANCELED;
	case IRS_EIO:
	case IRS_ENOMEM:
	case IRS_ELIMIT:
	case IRS_ESHARD:
	case IRS_ENOTFOUND:
	case IRS_EEXIST:
	default:
		return IRS_CLI_EXIT_IO;
	}
}

/* Writes "increstore: msg\n" with any newline in msg turned into a space. */
static void print_line(const char *msg)
{
	char buf[IRS_ERROR_MESSAGE_MAX * 2];
	snprintf(buf, sizeof buf, "%s", msg);
	for (char *s = buf; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
	fflush(stdout);
	fprintf(stderr, "increstore: %s\n", buf);
}

int irs_cli_fail(const irs_error *err)
{
	int code = err && err->code ? err->code : IRS_EIO;
	if (err && err->message[0])
		print_line(err->message);
	else
		print_line(irs_strerror(code));
	return irs_cli_exit_code(code);
}

int irs_cli_errorf(int exit_code, const char *fmt, ...)
{
	char msg[IRS_ERROR_MESSAGE_MAX * 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	print_line(msg);
	return exit_code;
}

int irs_cli_usage_error(const irs_cli_command *cmd, const char *fmt, ...)
{
	char msg[IRS_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (cmd)
		return irs_cli_errorf(IRS_CLI_EXIT_USAGE, "%s: %s (see 'increstore %s --help')",
				      cmd->name, msg, cmd->name);
	return irs_cli_errorf(IRS_CLI_EXIT_USAGE, "%s (see 'increstore --help')", msg);
}

void irs_cli_print_usage(const irs_cli_command *cmd)
{
	fputs(cmd->usage, stdout);
}

void irs_cli_parser_init(irs_cli_parser *p, const irs_cli_command *cmd, int argc, char **argv)
{
	memset(p, 0, sizeof *p);
	p->cmd = cmd;
	p->argc = argc;
	p->argv = argv;
	p->idx = 1;
}

int irs_cli_getopt(irs_cli_parser *p, const irs_cli_opt *opts)
{
	for (;;) {
		if (p->idx >= p->argc)
			return IRS_CLI_OPT_END;
		const char *a = p->argv[p->idx++];
		p->arg = a;
		p->opt = NULL;
		if (a[0] == '\0') { /* no command takes an empty path or name */
			irs_cli_usage_error(p->cmd, "an empty argument where a path or name goes");
			return IRS_CLI_OPT_ERROR;
		}
		if (p->only_positional || a[0] != '-' || a[1] == '\0')
			return IRS_CLI_OPT_POSITIONAL;
		if (strcmp(a, "--") == 0) {
			p->only_positional = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			irs_cli_print_usage(p->cmd);
			return IRS_CLI_OPT_HELP;
		}
		const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		const irs_cli_opt *o = opts;
		while (o->name && !(strlen(o->name) == nlen && strncmp(o->name, a, nlen) == 0))
			o++;
		if (!o->name) {
			irs_cli_usage_error(p->cmd, "unknown option '%.*s'", (int)nlen, a);
			return IRS_CLI_OPT_ERROR;
		}
		p->opt = o->name;
		if (!o->has_arg) {
			if (eq) {
				irs_cli_usage_error(p->cmd, "option '%s' takes no value", o->name);
				return IRS_CLI_OPT_ERROR;
			}
			p->arg = NULL;
			return o->id;
		}
		if (eq) {
			p->arg = eq + 1;
		} else if (p->idx >= p->argc || strncmp(p->argv[p->idx], "--", 2) == 0) {
			irs_cli_usage_error(p->cmd, "option '%s' needs a value", o->name);
			return IRS_CLI_OPT_ERROR;
		} else {
			p->arg = p->argv[p->idx++];
		}
		if (p->arg[0] == '\0') { /* every value is a path, a name or a number */
			irs_cli_usage_error(p->cmd, "option '%s': an empty value", o->name);
			return IRS_CLI_OPT_ERROR;
		}
		return o->id;
	}
}

int irs_cli_parse_args(const irs_cli_command *cmd, int argc, char **argv, irs_cli_args *a)
{
	irs_cli_parser p;
	irs_cli_parser_init(&p, cmd, argc, argv);
	a->dir = NULL;
	for (int id; (id = irs_cli_getopt(&p, a->opts)) != IRS_CLI_OPT_END;) {
		if (id == IRS_CLI_OPT_HELP)
			return IRS_CLI_EXIT_OK;
		if (id == IRS_CLI_OPT_ERROR)
			return IRS_CLI_EXIT_USAGE;
		if (id == IRS_CLI_OPT_POSITIONAL && !a->dir) {
			a->dir = p.arg;
			continue;
		}
		if (id == IRS_CLI_OPT_POSITIONAL && !a->more_args)
			return irs_cli_usage_error(cmd, "unexpected argument '%s'", p.arg);
		int rc = a->on_opt(a->ctx, &p, id);
		if (rc)
			return rc;
	}
	if (!a->dir)
		return irs_cli_usage_error(cmd, "missing the collection directory");
	return IRS_CLI_ARGS_OK;
}

bool irs_cli_parse_u64(const irs_cli_parser *p, const char *value, uint64_t min, uint64_t max,
		       uint64_t *out)
{
	const char *opt = p->opt ? p->opt : "value";
	char *end;
	errno = 0;
	if (value[0] < '0' || value[0] > '9') {
		irs_cli_usage_error(p->cmd, "%s: '%s' is not a number", opt, value);
		return false;
	}
	unsigned long long v = strtoull(value, &end, 10);
	if (*end != '\0') {
		irs_cli_usage_error(p->cmd, "%s: '%s' is not a number", opt, value);
		return false;
	}
	if (errno == ERANGE || v < min || v > max) {
		irs_cli_usage_error(p->cmd, "%s: '%s' is out of range (%" PRIu64 "..%" PRIu64 ")", opt,
				    value, min, max);
		return false;
	}
	*out = v;
	return true;
}

/* The multiplier of a size unit (irs_cli_parse_size), or 0 when u is not one. */
static uint64_t size_unit(const char *u)
{
	static const char prefixes[] = "KMGTPE";
	if (*u == '\0' || ((u[0] == 'b' || u[0] == 'B') && u[1] == '\0'))
		return 1;
	const char *at = strchr(prefixes, u[0] >= 'a' && u[0] <= 'z' ? u[0] - 'a' + 'A' : u[0]);
	if (!at || !*at)
		return 0;
	unsigned power = (unsigned)(at - prefixes) + 1;
	const char *rest = u + 1;
	uint64_t base;
	if (*rest == '\0')
		base = 1024;
	else if ((rest[0] == 'i' || rest[0] == 'I') && (rest[1] == 'b' || rest[1] == 'B') && !rest[2])
		base = 1024;
	else if ((rest[0] == 'b' || rest[0] == 'B') && !rest[1])
		base = 1000;
	else
		return 0;
	uint64_t m = 1;
	for (unsigned i = 0; i < power; i++)
		m *= base;
	return m;
}

bool irs_cli_parse_size(const irs_cli_parser *p, const char *value, uint64_t min, uint64_t max,
			uint64_t *out)
{
	const char *opt = p->opt ? p->opt : "value";
	const char *s = value;
	uint64_t whole = 0;
	bool overflow = false, digits = false;
	for (; *s >= '0' && *s <= '9'; s++, digits = true) {
		unsigned d = (unsigned)(*s - '0');
		if (whole > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			whole = whole * 10 + d;
	}
	/* the fraction, as digits over a power of ten (at most 18 of them count) */
	uint64_t frac = 0, scale = 1;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, digits = true)
			if (scale < 1000000000000000000ull) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
	}
	if (*s == ' ')
		s++;
	uint64_t mult = size_unit(s);
	if (!digits || !mult) {
		irs_cli_usage_error(p->cmd, "%s: '%s' is not a size (bytes, or a number with a unit: "
				    "64M, 1G, 512MiB, 1.5GiB, 2GB)", opt, value);
		return false;
	}
	/* whole * mult + frac * mult / scale, without overflow */
	uint64_t v = 0;
	if (!overflow && whole <= UINT64_MAX / mult)
		v = whole * mult;
	else
		overflow = true;
	if (!overflow && frac) {
		long double extra = (long double)frac * (long double)mult / (long double)scale;
		if (extra >= (long double)(UINT64_MAX - v))
			overflow = true;
		else
			v += (uint64_t)extra;
	}
	if (overflow || v < min || v > max) {
		irs_cli_usage_error(p->cmd, "%s: '%s' is out of range (%" PRIu64 " to %" PRIu64 " bytes)", opt,
				    value, min, max);
		return false;
	}
	*out = v;
	return true;
}

static void on_signal(int sig)
{
	(void)sig;
	/* an atomic store: shard threads read the flag concurrently (lock-free, so
	 * async-signal-safe). A second signal does the same: ending the process there
	 * would leave temporary files behind, and every phase checks the flag. */
	__atomic_store_n(&irs_cli_cancelled, 1, __ATOMIC_RELAXED);
}

void irs_cli_cancel_install(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

const char *irs_cli_format_time(int64_t us, char out[32])
{
	if (!irs__text_timestamp(us, out))
		snprintf(out, 32, "%" PRId64, us);
	return out;
}

const char *irs_cli_format_bytes(uint64_t bytes, char out[32])
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (bytes < 1024) {
		snprintf(out, 32, "%" PRIu64 " B", bytes);
		return out;
	}
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	snprintf(out, 32, "%.1f %s", v, units[u]);
	return out;
}

const char *irs_cli_kind_name(irs_backup_kind kind)
{
	return kind == IRS_BACKUP_FULL ? "full" : kind == IRS_BACKUP_INCREMENTAL ? "incremental" : "?";
}

int irs_cli_find_table(const irs_cli_command *cmd, const irs_collection *c, const char *name)
{
	int i = irs_collection_find_table(c, name);
	if (i >= 0)
		return i;
	char list[256];
	size_t len = 0;
	list[0] = '\0';
	uint32_t n = irs_collection_table_count(c);
	for (uint32_t t = 0; t < n; t++) {
		irs_table_def d;
		if (irs_collection_table(c, t, &d))
			continue;
		int w = snprintf(list + len, sizeof list - len, "%s%s", t ? ", " : "", d.name);
		if (w < 0 || (size_t)w >= sizeof list - len) {
			snprintf(list + (sizeof list - 5), 5, "...");
			break;
		}
		len += (size_t)w;
	}
	irs_cli_usage_error(cmd, "no table named '%s' (tables: %s)", name, list);
	return -1;
}

bool irs_cli_value_equal(irs_type type, const irs_value *a, const irs_value *b)
{
	bool sa = a->state == IRS_VALUE_SET, sb = b->state == IRS_VALUE_SET;
	if (sa != sb)
		return false;
	if (!sa)
		return true;
	switch (type) {
	case IRS_TYPE_BOOL: return (a->v.b != 0) == (b->v.b != 0);
	case IRS_TYPE_INT32:
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP: return a->v.i64 == b->v.i64;
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64: return a->v.u64 == b->v.u64;
	case IRS_TYPE_DOUBLE: return memcmp(&a->v.d, &b->v.d, sizeof a->v.d) == 0;
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES:
		return a->v.s.len == b->v.s.len &&
		       (a->v.s.len == 0 || memcmp(a->v.s.ptr, b->v.s.ptr, a->v.s.len) == 0);
	}
	return false;
}

int irs_cli_open_input(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

bool irs_cli_wait_input(int fd, const volatile sig_atomic_t *cancel)
{
	for (;;) {
		if (cancel && *cancel)
			return false;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, 100);
		if (n > 0 || (n < 0 && errno != EINTR))
			return true; /* readable, at its end, or an error read() will name */
	}
}

int irs_cli_read_file(const char *path, size_t max, int too_large_code, char **buf, size_t *len,
		      irs_error *err)
{
	*buf = NULL;
	*len = 0;
	int fd = irs_cli_open_input(path);
	if (fd < 0)
		return irs__seterr(err, IRS_EIO, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	bool may_block = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
	size_t cap = 4096, n = 0;
	char *b = NULL;
	int rc = 0;
	for (;;) {
		if (!b || n == cap) {
			if (b && cap > max) {
				rc = irs__seterr(err, too_large_code, "%s: larger than %zu bytes", path, max);
				break;
			}
			char *nb = realloc(b, b ? cap * 2 : cap);
			if (!nb) {
				rc = irs__seterr(err, IRS_ENOMEM, "%s: out of memory", path);
				break;
			}
			cap = b ? cap * 2 : cap;
			b = nb;
		}
		if (may_block && !irs_cli_wait_input(fd, &irs_cli_cancelled)) {
			rc = irs__seterr(err, IRS_ECANCELED, "%s: cancelled while waiting for input", path);
			break;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = irs__seterr(err, IRS_EIO, "%s: read failed: %s", path, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (!rc && n > max)
		rc = irs__seterr(err, too_large_code, "%s: larger than %zu bytes", path, max);
	if (rc) {
		free(b);
		return rc;
	}
	*buf = b;
	*len = n;
	return 0;
}

int irs_cli_check_table_paths(const irs_cli_command *cmd, const irs_collection *c, int only,
			      const char *ext)
{
	uint32_t nt = irs_collection_table_count(c);
	for (uint32_t t = 0; only < 0 && t < nt; t++) {
		irs_table_def d;
		irs_collection_table(c, t, &d);
		size_t n = strlen(d.name), x = strlen(ext);
		for (uint32_t u = 0; u < nt; u++) {
			irs_table_def o;
			irs_collection_table(c, u, &o);
			if (u != t && strncmp(o.name, d.name, n) == 0 && strncmp(o.name + n, ext, x) == 0 &&
			    o.name[n + x] == '/')
				return irs_cli_usage_error(cmd,
							   "--out DIR/: the file of table '%s' would be the "
							   "directory of table '%s'; export them one at a time with --table",
							   d.name, o.name);
		}
	}
	return 0;
}

int irs_cli_make_parents(const char *dir, char **made)
{
	if (made)
		*made = NULL;
	char *p = strdup(dir);
	if (!p)
		return irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: out of memory creating its parent directories", dir);
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	char *first = NULL; /* the shallowest directory made */
	int rc = 0;
	/* Every '/' now separates a parent from what follows it. */
	for (char *s = p + 1; *s && !rc; s++) {
		if (*s != '/' || s[-1] == '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) == 0) {
			if (!first)
				first = strdup(p);
		} else if (errno != EEXIST) {
			rc = irs_cli_errorf(IRS_CLI_EXIT_IO, "%s: cannot create directory: %s", p,
					    strerror(errno));
			irs_cli_unmake_parents(p, first); /* what this call made, again */
			first = NULL;
		}
		*s = '/';
	}
	free(p);
	if (made)
		*made = first;
	else
		free(first);
	return rc;
}

void irs_cli_unmake_parents(const char *dir, char *made)
{
	char *p = made ? strdup(dir) : NULL;
	size_t mlen = made ? strlen(made) : 0;
	for (size_t n = p ? strlen(p) : 0; n > 1 && p[n - 1] == '/';)
		p[--n] = '\0';
	/* up from dir's parent to made, each only while empty (rmdir never removes
	 * anything that holds a file) */
	for (char *slash; p && (slash = strrchr(p, '/')) != NULL;) {
		while (slash > p && slash[-1] == '/')
			slash--;
		*slash = '\0';
		if (strlen(p) < mlen || strncmp(p, made, mlen) != 0 || rmdir(p) != 0 ||
		    strlen(p) == mlen)
			break;
	}
	free(p);
	free(made);
}

int irs_cli_open(const char *dir, unsigned flags, irs_collection **out)
{
	irs_error err = {0};
	int rc = irs_collection_open(dir, NULL, flags, out, &err);
	if (rc)
		return irs_cli_fail(&err);
	return 0;
}

double irs_cli_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
