/*
 * ydb_load.c: one table of one YDB backup -> an increstore backup writer (ydb_load.h).
 *
 * ALGORITHM
 *   For each data file in order, a line reader hands out lines from a 1 MiB buffer
 *   (grown only for a longer line, up to max_line). Each line is split at ',' and
 *   every field parsed for its column's YDB type (ydb_value.h); strings are decoded
 *   in place in the buffer, which is fine because the writer copies each change
 *   before the call returns.
 *   Full backup: the row's values go to irs_backup_writer_upsert as a full row.
 *   Incremental: the system columns decide (ydb_change.h): an erase of the key, or an
 *   upsert whose columns are written as stored, set NULL, or left ABSENT (unchanged).
 *   For generations 2 and 3 a first pass over the files reads only the system columns
 *   and collects the column-state tags, so the tag -> column map is known before the
 *   first change is written.
 *
 * MEMORY: the line buffer, one field array, one value array; nothing per row.
 */
#include "ydb_load.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/cli_support.h"
#include "import.h"
#include "ydb_value.h"

#define CHUNK ((size_t)1 << 20)
#define TAG_SHIFT 40

/* ---- line reader */

typedef struct reader {
	int fd;
	const char *path;
	char *buf;
	size_t cap, start, end;
	size_t max_line;
	bool eof;
	uint64_t line;      /* number of the line last returned */
	uint64_t bytes;     /* bytes read */
} reader;

static int reader_open(reader *r, const char *path, size_t max_line, irs_error *err)
{
	memset(r, 0, sizeof *r);
	r->path = path;
	r->max_line = max_line;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return irs__seterr(err, IRS_EIO, "%s: cannot open: %s", path, strerror(errno));
	(void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r->cap = CHUNK;
	r->buf = malloc(r->cap + 1);
	if (!r->buf) {
		close(r->fd);
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", path);
	}
	return 0;
}

static void reader_close(reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	r->fd = -1;
	r->buf = NULL;
}

/* Makes room after end: moves the unread part to the front, or grows the buffer. */
static int reader_room(reader *r, irs_error *err)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end < r->cap)
		return 0;
	if (r->cap >= r->max_line)
		return irs__seterr(err, IRS_EINPUT, "%s:%" PRIu64 ": line longer than %zu bytes", r->path,
				   r->line + 1, r->max_line);
	size_t ncap = r->cap * 2 > r->max_line ? r->max_line : r->cap * 2;
	char *nb = realloc(r->buf, ncap + 1);
	if (!nb)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory for a %zu-byte line", r->path, ncap);
	r->buf = nb;
	r->cap = ncap;
	return 0;
}

/* The next line (without '\n'); 1 = a line, 0 = end of file, < 0 = error. */
static int reader_next(reader *r, char **line, size_t *len, irs_error *err)
{
	size_t scanned = r->start;
	for (;;) {
		char *nl = memchr(r->buf + scanned, '\n', r->end - scanned);
		if (nl) {
			*line = r->buf + r->start;
			*len = (size_t)(nl - *line);
			r->start = (size_t)(nl - r->buf) + 1;
			r->line++;
			return 1;
		}
		if (r->eof) {
			if (r->start == r->end)
				return 0;
			/* a last line without '\n' */
			*line = r->buf + r->start;
			*len = r->end - r->start;
			r->start = r->end;
			r->line++;
			return 1;
		}
		size_t pending = r->end - r->start;
		int rc = reader_room(r, err);
		if (rc)
			return rc;
		scanned = r->start + pending;
		ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return irs__seterr(err, IRS_EIO, "%s: read failed: %s", r->path, strerror(errno));
		if (got == 0)
			r->eof = true;
		r->end += (size_t)got;
		r->bytes += (size_t)got;
	}
}

/* ---- one table */

typedef struct loader {
	irs_ydb_load *l;
	const irs_ydb_scheme *s;
	irs_ydb_field *fields;
	irs_value *cells;       /* per scheme column */
	irs_value *vals;        /* per collection column */
	uint32_t *value_cols;   /* scheme indexes of the value columns (incremental) */
	uint32_t nvalues;
	uint8_t *action;
	irs_ydb_meta meta;
	irs_ydb_tagmap map;
	bool have_map;
} loader;

/* "'text'" of a bad field, at most 32 bytes, unprintable bytes as '?'. */
static void quote_field(const char *s, size_t len, char out[48])
{
	size_t n = len > 32 ? 32 : len, o = 0;
	out[o++] = '\'';
	for (size_t i = 0; i < n; i++)
		out[o++] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7F ? s[i] : '?';
	if (len > n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '\'';
	out[o] = '\0';
}

/* Splits and checks the field count. */
static int split_line(loader *ld, const reader *r, char *line, size_t len, irs_error *err)
{
	if (len == 0)
		return irs__seterr(err, IRS_EINPUT, "%s:%" PRIu64 ": empty line", r->path, r->line);
	size_t n = irs_ydb_split(line, len, ld->fields, ld->s->ncols);
	if (n != ld->s->ncols)
		return irs__seterr(err, IRS_EINPUT, "%s:%" PRIu64 ": %zu field%s, but the table has %u column%s",
				   r->path, r->line, n, n == 1 ? "" : "s", ld->s->ncols,
				   ld->s->ncols == 1 ? "" : "s");
	return 0;
}

/* Parses field c of the current line into ld->cells[c]. */
static int parse_cell(loader *ld, const reader *r, uint32_t c, irs_error *err)
{
	const irs_ydb_column *col = &ld->s->cols[c];
	irs_ydb_field *f = &ld->fields[c];
	const char *why = irs_ydb_parse_field(col->kind, f->ptr, f->len, &ld->cells[c]);
	if (!why)
		return 0;
	/* a string refused after percent-decoding, which overwrote the field, shows its
	 * decoded bytes; anything else the field as written */
	const irs_value *v = &ld->cells[c];
	irs_type ty = irs_ydb_kind_type(col->kind);
	bool decoded = (ty == IRS_TYPE_UTF8 || ty == IRS_TYPE_BYTES) && v->v.s.ptr;
	char shown[48];
	if (decoded)
		quote_field(v->v.s.ptr, v->v.s.len, shown);
	else
		quote_field(f->ptr, f->len, shown);
	return irs__seterr(err, IRS_EINPUT, "%s:%" PRIu64 ": field %u (column %s, %s): %s: %s", r->path,
			   r->line, c + 1, col->name, col->type_name, why, shown);
}

/* The system columns of the current line (already parsed) as a rowsys. */
static irs_ydb_rowsys row_sys(const loader *ld)
{
	const irs_ydb_sys *sys = ld->l->sys;
	irs_ydb_rowsys rs = {false, NULL, 0};
	if (sys->deleted_col >= 0) {
		const irs_value *v = &ld->cells[sys->deleted_col];
		rs.deleted = v->state == IRS_VALUE_SET && v->v.b;
	}
	int mc = sys->meta_col >= 0 ? sys->meta_col : sys->states_col;
	if (mc >= 0 && ld->cells[mc].state == IRS_VALUE_SET) {
		rs.meta = ld->cells[mc].v.s.ptr;
		rs.meta_len = ld->cells[mc].v.s.len;
		if (!rs.meta)
			rs.meta = (const uint8_t *)"";
	}
	return rs;
}

static int check_key(loader *ld, const reader *r, irs_error *err)
{
	for (uint32_t k = 0; k < ld->s->npk; k++) {
		uint32_t c = ld->s->pk[k];
		if (ld->cells[c].state != IRS_VALUE_SET)
			return irs__seterr(err, IRS_EINPUT,
					   "%s:%" PRIu64 ": key column %s is NULL (increstore keys cannot be NULL)",
					   r->path, r->line, ld->s->cols[c].name);
	}
	return 0;
}

static int writer_fail(const reader *r, int rc, irs_error *err)
{
	/* the writer's message says "line <tag>: ..."; name the file and line instead */
	const char *m = err->message;
	if (strncmp(m, "line ", 5) == 0) {
		const char *colon = strchr(m, ':');
		char rest[IRS_ERROR_MESSAGE_MAX];
		snprintf(rest, sizeof rest, "%s", colon ? colon + 2 : m);
		irs__seterr(err, rc, "%s:%" PRIu64 ": %s", r->path, r->line, rest);
	} else {
		irs__errprefix(err, "%s:%" PRIu64, r->path, r->line);
	}
	return rc;
}

/* One line of a full backup. */
static int full_row(loader *ld, const reader *r, uint64_t tag, irs_error *err)
{
	const irs_ydb_scheme *s = ld->s;
	for (uint32_t c = 0; c < s->ncols; c++) {
		int rc = parse_cell(ld, r, c, err);
		if (rc)
			return rc;
		if (ld->cells[c].state == IRS_VALUE_NULL && s->cols[c].not_null &&
		    !irs_ydb_scheme_is_key(s, c)) /* a NULL key has its own message below */
			return irs__seterr(err, IRS_EINPUT, "%s:%" PRIu64 ": column %s is NOT NULL but holds null",
					   r->path, r->line, s->cols[c].name);
		ld->vals[ld->l->target[c]] = ld->cells[c];
	}
	int rc = check_key(ld, r, err);
	if (rc)
		return rc;
	rc = irs_backup_writer_upsert(ld->l->w, ld->l->table, ld->vals, tag, err);
	if (rc)
		return writer_fail(r, rc, err);
	ld->l->upserts++;
	return 0;
}

/* One line of an incremental backup. */
static int incremental_row(loader *ld, const reader *r, uint64_t tag, irs_error *err)
{
	const irs_ydb_scheme *s = ld->s;
	for (uint32_t c = 0; c < s->ncols; c++) {
		int rc = parse_cell(ld, r, c, err);
		if (rc)
			return rc;
	}
	int rc = check_key(ld, r, err);
	if (rc)
		return rc;
	irs_ydb_rowsys rs = row_sys(ld);
	uint32_t bad = 0;
	int what = irs_ydb_row_change(ld->l->sys->generation, &rs, &ld->meta, ld->have_map ? &ld->map : NULL,
				      ld->action, ld->nvalues, &bad);
	if (what == -1)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", r->path);
	if (what == -2)
		return irs__seterr(err, IRS_EINPUT,
				   "%s:%" PRIu64 ": column-state tag %u was not seen when the file was first "
				   "read (did the dump change while being imported?)",
				   r->path, r->line, bad);
	for (uint32_t t = 0; t < ld->l->ncols; t++)
		ld->vals[t].state = IRS_VALUE_ABSENT;
	for (uint32_t k = 0; k < s->npk; k++)
		ld->vals[ld->l->target[s->pk[k]]] = ld->cells[s->pk[k]];
	if (what == IRS_YDB_ROW_ERASE) {
		rc = irs_backup_writer_erase(ld->l->w, ld->l->table, ld->vals, tag, err);
		if (rc)
			return writer_fail(r, rc, err);
		ld->l->erases++;
		return 0;
	}
	for (uint32_t j = 0; j < ld->nvalues; j++) {
		uint32_t c = ld->value_cols[j];
		irs_value *v = &ld->vals[ld->l->target[c]];
		if (ld->action[j] == IRS_YDB_COL_STORED)
			*v = ld->cells[c];
		else if (ld->action[j] == IRS_YDB_COL_NULL)
			v->state = IRS_VALUE_NULL;
	}
	rc = irs_backup_writer_upsert(ld->l->w, ld->l->table, ld->vals, tag, err);
	if (rc)
		return writer_fail(r, rc, err);
	ld->l->upserts++;
	return 0;
}

/* First pass of generations 2-3: the tags of the states the rule will read. */
static int tags_row(loader *ld, const reader *r, irs_ydb_tagset *set, irs_error *err)
{
	const irs_ydb_sys *sys = ld->l->sys;
	int cols[2] = {sys->deleted_col, sys->meta_col >= 0 ? sys->meta_col : sys->states_col};
	for (int i = 0; i < 2; i++) {
		if (cols[i] < 0)
			continue;
		int rc = parse_cell(ld, r, (uint32_t)cols[i], err);
		if (rc)
			return rc;
	}
	irs_ydb_rowsys rs = row_sys(ld);
	long n = irs_ydb_row_tags(sys->generation, &rs, &ld->meta);
	for (long i = 0; i < n; i++)
		if (irs_ydb_tagset_add(set, ld->meta.states[i].tag))
			n = -1;
	if (n < 0)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", r->path);
	return 0;
}

enum { PASS_TAGS, PASS_ROWS };

static int run_pass(loader *ld, int pass, irs_ydb_tagset *set, irs_error *err)
{
	irs_ydb_load *l = ld->l;
	size_t max_line = l->max_line ? l->max_line : IRS_IMPORT_MAX_LINE;
	for (uint32_t f = 0; f < l->nfiles; f++) {
		reader r;
		int rc = reader_open(&r, l->files[f], max_line, err);
		if (rc)
			return rc;
		char *line = NULL;
		size_t len = 0;
		int got;
		while ((got = reader_next(&r, &line, &len, err)) == 1) {
			if ((r.line & 4095) == 0 && l->cancel && __atomic_load_n(l->cancel, __ATOMIC_RELAXED)) {
				rc = irs__seterr(err, IRS_ECANCELED, "cancelled");
				break;
			}
			if ((rc = split_line(ld, &r, line, len, err)) != 0)
				break;
			uint64_t tag = (uint64_t)(f + 1) << TAG_SHIFT | r.line;
			if (pass == PASS_TAGS)
				rc = tags_row(ld, &r, set, err);
			else if (!l->sys)
				rc = full_row(ld, &r, tag, err);
			else
				rc = incremental_row(ld, &r, tag, err);
			if (rc)
				break;
			if (pass == PASS_ROWS)
				l->rows++;
		}
		if (got < 0)
			rc = got;
		if (pass == PASS_ROWS)
			l->bytes += r.bytes;
		reader_close(&r);
		if (rc)
			return rc;
	}
	return 0;
}

/* Builds ld->map from the tags of the first pass. */
static int build_map(loader *ld, irs_ydb_tagset *set, irs_error *err)
{
	uint32_t *tags;
	size_t n;
	if (irs_ydb_tagset_sorted(set, &tags, &n))
		return irs__seterr(err, IRS_ENOMEM, "out of memory");
	uint32_t *pos = malloc((ld->nvalues ? ld->nvalues : 1) * sizeof *pos);
	if (!pos) {
		free(tags);
		return irs__seterr(err, IRS_ENOMEM, "out of memory");
	}
	for (uint32_t j = 0; j < ld->nvalues; j++)
		pos[j] = ld->value_cols[j] + 1;
	char why[IRS_ERROR_MESSAGE_MAX];
	int rc = irs_ydb_tagmap_build(tags, n, pos, ld->nvalues, &ld->map, why, sizeof why);
	free(tags);
	free(pos);
	if (rc == IRS_ENOMEM)
		return irs__seterr(err, rc, "out of memory");
	if (rc)
		return irs__seterr(err, rc, "%s: %s", ld->l->label ? ld->l->label : "table", why);
	ld->have_map = true;
	return 0;
}

static int loader_init(loader *ld, irs_ydb_load *l, irs_error *err)
{
	memset(ld, 0, sizeof *ld);
	ld->l = l;
	ld->s = l->scheme;
	uint32_t n = ld->s->ncols;
	ld->fields = calloc(n, sizeof *ld->fields);
	ld->cells = calloc(n, sizeof *ld->cells);
	ld->vals = calloc(l->ncols ? l->ncols : 1, sizeof *ld->vals);
	ld->value_cols = calloc(n, sizeof *ld->value_cols);
	ld->action = calloc(n, 1);
	if (!ld->fields || !ld->cells || !ld->vals || !ld->value_cols || !ld->action)
		return irs__seterr(err, IRS_ENOMEM, "out of memory");
	for (uint32_t c = 0; c < n; c++)
		if (l->sys && !irs_ydb_sys_is_system(l->sys, c) && !irs_ydb_scheme_is_key(ld->s, c))
			ld->value_cols[ld->nvalues++] = c;
	return 0;
}

static void loader_free(loader *ld)
{
	free(ld->fields);
	free(ld->cells);
	free(ld->vals);
	free(ld->value_cols);
	free(ld->action);
	irs_ydb_meta_free(&ld->meta);
	irs_ydb_tagmap_free(&ld->map);
}

int irs_ydb_load_table(irs_ydb_load *l, irs_error *err)
{
	loader ld;
	int rc = loader_init(&ld, l, err);
	if (!rc && l->sys && l->sys->generation >= 2) {
		irs_ydb_tagset set = {0};
		rc = run_pass(&ld, PASS_TAGS, &set, err);
		if (!rc)
			rc = build_map(&ld, &set, err);
		irs_ydb_tagset_free(&set);
	}
	if (!rc)
		rc = run_pass(&ld, PASS_ROWS, NULL, err);
	loader_free(&ld);
	return rc;
}

void irs_ydb_load_rewrite_lines(irs_error *err, const char *const *files, uint32_t nfiles)
{
	char out[IRS_ERROR_MESSAGE_MAX];
	size_t o = 0;
	const char *m = err->message;
	while (*m && o + 1 < sizeof out) {
		char *end;
		if (strncmp(m, "line ", 5) == 0 && m[5] >= '0' && m[5] <= '9') {
			unsigned long long tag = strtoull(m + 5, &end, 10);
			uint64_t f = tag >> TAG_SHIFT;
			if (f >= 1 && f <= nfiles) {
				int w = snprintf(out + o, sizeof out - o, "%s:%llu", files[f - 1],
						 (unsigned long long)(tag & ((1ull << TAG_SHIFT) - 1)));
				o = w < 0 ? o : o + (size_t)w >= sizeof out ? sizeof out - 1 : o + (size_t)w;
				m = end;
				continue;
			}
		}
		out[o++] = *m++;
	}
	out[o] = '\0';
	snprintf(err->message, sizeof err->message, "%s", out);
}
