/*
 * ydb_dump.c: walking a YDB dump directory (ydb_dump.h).
 *
 * ALGORITHM
 *   List DUMP; every directory named *_full or *_incremental is a backup. Walk each
 *   backup depth-first: a directory holding scheme.pb is a table (its data_N.csv files
 *   collected, its subdirectories only searched for `incomplete` markers); any other
 *   directory is descended into, except __ydb_backup_meta, which is only searched for
 *   markers. Entries are listed sorted, so the result does not depend on readdir order.
 *   Symbolic links are followed; the depth limit stops loops.
 *
 * The rules come from the dump writer (ydb/library/backup/backup.cpp, db_iterator.h)
 * and ydb/public/lib/ydb_cli/dump/files/files.cpp.
 */
#include "ydb_dump.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "engine/cli_support.h"

#define MAX_DEPTH 64

typedef struct entry {
	char *name;
	bool is_dir;
	bool is_reg;
	bool dangling;  /* a symbolic link to nothing */
	uint64_t size;
} entry;

typedef struct listing {
	entry *e;
	size_t n, cap;
} listing;

static void listing_free(listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	memset(l, 0, sizeof *l);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	bool slash = la && a[la - 1] != '/' && lb;
	char *s = malloc(la + lb + 2);
	if (!s)
		return NULL;
	memcpy(s, a, la);
	if (slash)
		s[la++] = '/';
	memcpy(s + la, b, lb + 1);
	return s;
}

/* Lists dir sorted by name (without . and ..). */
static int list_dir(const char *dir, listing *out, irs_error *err)
{
	memset(out, 0, sizeof *out);
	DIR *d = opendir(dir);
	if (!d)
		return irs__seterr(err, errno == ENOENT || errno == ENOTDIR ? IRS_ENOTFOUND : IRS_EIO,
				   "%s: cannot read directory: %s", dir, strerror(errno));
	int fd = dirfd(d);
	struct dirent *de;
	int rc = 0;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		bool dangling = false;
		if (fstatat(fd, de->d_name, &st, 0) != 0) {
			dangling = true;
			/* a dangling link is listed as neither file nor directory, so that a
			 * data file's is refused by name; what was removed meanwhile is not */
			if (errno != ENOENT || fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
				if (errno == ENOENT)
					continue;
				rc = irs__seterr(err, IRS_EIO, "%s/%s: %s", dir, de->d_name, strerror(errno));
				break;
			}
		}
		if (out->n == out->cap) {
			size_t ncap = out->cap ? out->cap * 2 : 16;
			entry *ne = realloc(out->e, ncap * sizeof *ne);
			if (!ne) {
				rc = irs__seterr(err, IRS_ENOMEM, "out of memory");
				break;
			}
			out->e = ne;
			out->cap = ncap;
		}
		entry *e = &out->e[out->n];
		e->name = strdup(de->d_name);
		if (!e->name) {
			rc = irs__seterr(err, IRS_ENOMEM, "out of memory");
			break;
		}
		e->is_dir = S_ISDIR(st.st_mode);
		e->is_reg = S_ISREG(st.st_mode);
		e->dangling = dangling;
		e->size = (uint64_t)st.st_size;
		out->n++;
	}
	closedir(d);
	if (rc) {
		listing_free(out);
		return rc;
	}
	if (out->n)
		qsort(out->e, out->n, sizeof *out->e, cmp_entry);
	return 0;
}

static bool is_incomplete_marker(const char *name)
{
	return !strcmp(name, "incomplete") || !strcmp(name, "incomplete.csv");
}

static int refuse_incomplete(const char *dir, const char *name, irs_error *err)
{
	return irs__seterr(err, IRS_EINPUT,
			   "%s/%s: the dump is incomplete (still running, or kept after a failure "
			   "with --save-partial-result); dump the collection again",
			   dir, name);
}

/* Whether name is "data_<digits>" + suffix; *num and *len then give its number's
 * digits without leading zeros. Any number of digits: numbers are compared as digit
 * strings (cmp_number), never parsed, so none is too long. */
static bool data_file(const char *name, const char *suffix, const char **num, size_t *len)
{
	if (strncmp(name, "data_", 5) != 0)
		return false;
	const char *d = name + 5, *p = d;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == d || strcmp(p, suffix) != 0)
		return false;
	while (d + 1 < p && *d == '0')
		d++;
	*num = d;
	*len = (size_t)(p - d);
	return true;
}

static bool is_data_file(const char *name, const char *suffix)
{
	const char *num;
	size_t len;
	return data_file(name, suffix, &num, &len);
}

/* Searches a skipped subtree for `incomplete` markers only. */
static int check_markers(const char *dir, int depth, irs_error *err)
{
	if (depth > MAX_DEPTH)
		return irs__seterr(err, IRS_EINPUT, "%s: directories nested more than %d deep", dir,
				   MAX_DEPTH);
	listing l;
	int rc = list_dir(dir, &l, err);
	for (size_t i = 0; !rc && i < l.n; i++) {
		if (is_incomplete_marker(l.e[i].name)) {
			rc = refuse_incomplete(dir, l.e[i].name, err);
		} else if (l.e[i].is_dir) {
			char *sub = join(dir, l.e[i].name);
			rc = sub ? check_markers(sub, depth + 1, err) : irs__seterr(err, IRS_ENOMEM, "out of memory");
			free(sub);
		}
	}
	listing_free(&l);
	return rc;
}

static int refuse_file(const char *dir, const char *name, irs_error *err)
{
	if (is_incomplete_marker(name))
		return refuse_incomplete(dir, name, err);
	if (irs_cli_ends_with(name, ".enc"))
		return irs__seterr(err, IRS_EINPUT,
				   "%s/%s: an encrypted dump (export with an encryption key) cannot be "
				   "imported; export it without encryption",
				   dir, name);
	if (is_data_file(name, ".csv.zst") || (strncmp(name, "data_", 5) == 0 && irs_cli_ends_with(name, ".zst")))
		return irs__seterr(err, IRS_EINPUT,
				   "%s/%s: compressed data files are not supported; decompress them first "
				   "(zstd -d --rm %s/data_*.csv.zst)",
				   dir, name, dir);
	return 0;
}

typedef struct dfile {
	const char *num; /* its number's digits, without leading zeros (in the listing) */
	size_t nlen;
	char *path;
	uint64_t size;
} dfile;

/* Numeric order of two digit strings without leading zeros: the shorter is smaller. */
static int cmp_number(const dfile *x, const dfile *y)
{
	if (x->nlen != y->nlen)
		return x->nlen < y->nlen ? -1 : 1;
	return memcmp(x->num, y->num, x->nlen);
}

static int cmp_dfile(const void *a, const void *b)
{
	return cmp_number(a, b);
}

/* The table in directory dir (which holds scheme.pb), appended to b. */
static int add_table(irs_ydb_dump_backup *b, const char *dir, const char *rel, const listing *l,
		     int depth, irs_error *err)
{
	if (!*rel)
		return irs__seterr(err, IRS_EINPUT,
				   "%s/scheme.pb: a table directly in the backup directory has no name; "
				   "dump the backup collection, not one table",
				   dir);
	dfile *f = calloc(l->n ? l->n : 1, sizeof *f);
	if (!f)
		return irs__seterr(err, IRS_ENOMEM, "out of memory");
	size_t nf = 0;
	uint64_t bytes = 0;
	int rc = 0;
	for (size_t i = 0; !rc && i < l->n; i++) {
		const entry *e = &l->e[i];
		if (e->is_dir) {
			char *sub = join(dir, e->name); /* changefeeds and the like */
			rc = sub ? check_markers(sub, depth + 1, err) : irs__seterr(err, IRS_ENOMEM, "out of memory");
			free(sub);
			continue;
		}
		if ((rc = refuse_file(dir, e->name, err)) != 0)
			break;
		const char *num;
		size_t nlen;
		if (!data_file(e->name, ".csv", &num, &nlen))
			continue; /* scheme.pb, permissions.pb, metadata.json, *.sha256, ... */
		if (!e->is_reg) {
			rc = irs__seterr(err, IRS_EINPUT, "%s/%s: %s", dir, e->name,
					 e->dangling ? "a symbolic link to nothing" : "not a regular file");
			break;
		}
		f[nf].num = num;
		f[nf].nlen = nlen;
		f[nf].size = e->size;
		f[nf].path = join(dir, e->name);
		if (!f[nf].path) {
			rc = irs__seterr(err, IRS_ENOMEM, "out of memory");
			break;
		}
		bytes += e->size;
		nf++;
	}
	if (nf)
		qsort(f, nf, sizeof *f, cmp_dfile);
	for (size_t i = 1; !rc && i < nf; i++)
		if (!cmp_number(&f[i], &f[i - 1]))
			rc = irs__seterr(err, IRS_EINPUT, "%s and %s: two data files with number %.*s",
					 f[i - 1].path, f[i].path, (int)f[i].nlen, f[i].num);
	irs_ydb_dump_table *nt = rc ? NULL : realloc(b->tables, (b->ntables + 1) * sizeof *nt);
	if (!rc && !nt)
		rc = irs__seterr(err, IRS_ENOMEM, "out of memory");
	if (rc) {
		for (size_t i = 0; i < nf; i++)
			free(f[i].path);
		free(f);
		return rc;
	}
	b->tables = nt;
	irs_ydb_dump_table *t = &b->tables[b->ntables];
	memset(t, 0, sizeof *t);
	t->name = strdup(rel);
	t->dir = strdup(dir);
	t->files = calloc(nf ? nf : 1, sizeof *t->files);
	if (!t->name || !t->dir || !t->files) {
		free(t->name);
		free(t->dir);
		free(t->files);
		for (size_t i = 0; i < nf; i++)
			free(f[i].path);
		free(f);
		return irs__seterr(err, IRS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < nf; i++)
		t->files[i] = f[i].path;
	t->nfiles = (uint32_t)nf;
	t->bytes = bytes;
	b->ntables++;
	free(f);
	return 0;
}

/* Walks the directory dir of backup b, whose path relative to the backup is rel. */
static int walk(irs_ydb_dump_backup *b, const char *dir, const char *rel, int depth, irs_error *err)
{
	if (depth > MAX_DEPTH)
		return irs__seterr(err, IRS_EINPUT, "%s: directories nested more than %d deep", dir,
				   MAX_DEPTH);
	listing l;
	int rc = list_dir(dir, &l, err);
	if (rc)
		return rc;
	bool table = false;
	for (size_t i = 0; i < l.n; i++)
		if (!strcmp(l.e[i].name, "scheme.pb") && l.e[i].is_reg)
			table = true;
	if (table) {
		rc = add_table(b, dir, rel, &l, depth, err);
		listing_free(&l);
		return rc;
	}
	for (size_t i = 0; !rc && i < l.n; i++) {
		const entry *e = &l.e[i];
		if (!e->is_dir) {
			rc = refuse_file(dir, e->name, err);
			if (!rc && is_data_file(e->name, ".csv"))
				rc = irs__seterr(err, IRS_EINPUT,
						 "%s/%s: a data file in a directory without scheme.pb", dir,
						 e->name);
			continue;
		}
		char *sub = join(dir, e->name);
		char *subrel = *rel ? join(rel, e->name) : strdup(e->name);
		if (!sub || !subrel)
			rc = irs__seterr(err, IRS_ENOMEM, "out of memory");
		else if (!strcmp(e->name, "__ydb_backup_meta"))
			rc = check_markers(sub, depth + 1, err); /* index backups: increstore has no indexes */
		else
			rc = walk(b, sub, subrel, depth + 1, err);
		free(sub);
		free(subrel);
	}
	listing_free(&l);
	return rc;
}

static int cmp_table(const void *a, const void *b)
{
	return strcmp(((const irs_ydb_dump_table *)a)->name, ((const irs_ydb_dump_table *)b)->name);
}

int irs_ydb_dump_scan(const char *root, irs_ydb_dump *out, irs_error *err)
{
	memset(out, 0, sizeof *out);
	listing l;
	int rc = list_dir(root, &l, err);
	if (rc)
		return rc;
	size_t nb = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (is_incomplete_marker(l.e[i].name)) {
			rc = refuse_incomplete(root, l.e[i].name, err);
			listing_free(&l);
			return rc;
		}
		if (l.e[i].is_dir && (irs_cli_ends_with(l.e[i].name, "_full") || irs_cli_ends_with(l.e[i].name, "_incremental")))
			nb++;
	}
	if (nb == 0) {
		listing_free(&l);
		return irs__seterr(err, IRS_EINPUT,
				   "%s: no backup directories (<timestamp>_full or <timestamp>_incremental); "
				   "dump the collection with 'ydb tools dump -p .backups/collections/<name> -o %s'",
				   root, root);
	}
	out->backups = calloc(nb, sizeof *out->backups);
	if (!out->backups) {
		listing_free(&l);
		return irs__seterr(err, IRS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; !rc && i < l.n; i++) {
		const entry *e = &l.e[i];
		bool full = irs_cli_ends_with(e->name, "_full");
		if (!e->is_dir || (!full && !irs_cli_ends_with(e->name, "_incremental")))
			continue;
		irs_ydb_dump_backup *b = &out->backups[out->nbackups++];
		b->kind = full ? IRS_BACKUP_FULL : IRS_BACKUP_INCREMENTAL;
		b->name = strdup(e->name);
		b->dir = join(root, e->name);
		if (!b->name || !b->dir) {
			rc = irs__seterr(err, IRS_ENOMEM, "out of memory");
			break;
		}
		rc = walk(b, b->dir, "", 0, err);
		if (!rc && b->ntables)
			qsort(b->tables, b->ntables, sizeof *b->tables, cmp_table);
	}
	listing_free(&l);
	if (rc)
		irs_ydb_dump_free(out);
	return rc;
}

void irs_ydb_dump_free(irs_ydb_dump *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; i < d->nbackups; i++) {
		irs_ydb_dump_backup *b = &d->backups[i];
		for (uint32_t t = 0; t < b->ntables; t++) {
			irs_ydb_dump_table *tb = &b->tables[t];
			for (uint32_t f = 0; f < tb->nfiles; f++)
				free(tb->files[f]);
			free(tb->files);
			free(tb->name);
			free(tb->dir);
		}
		free(b->tables);
		free(b->name);
		free(b->dir);
	}
	free(d->backups);
	memset(d, 0, sizeof *d);
}

const irs_ydb_dump_table *irs_ydb_dump_find_table(const irs_ydb_dump_backup *b, const char *name)
{
	size_t lo = 0, hi = b->ntables;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->tables[mid].name, name);
		if (c == 0)
			return &b->tables[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
