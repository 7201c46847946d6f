/*
 * import.c: the importer's frame (import.h has the formats, the value forms and the
 * error format): it sets up one import (the column-name hash, the per-record value
 * array), reports errors in the "NAME:LINE[:COL]: reason" form, hands each record to
 * the sink, and dispatches to the format's loop (import_jsonl.c, import_csv.c).
 * importer.h lists the files of the importer and its invariants.
 *
 * Column names are found through a small open-addressing hash (FNV-1a, at least twice
 * as many slots as columns), so a wide table costs one probe per listed column.
 */
#include "importer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ errors */

const char *irs_import_type_name(irs_type t)
{
	const char *n = irs_type_name(t);
	return n ? n : "?";
}

/* Sets im->err to "NAME:LINE[:COL]: <fmt>" with code IRS_EINPUT; returns IRS_EINPUT. */
int irs_import_error(irs_importer *im, size_t col, const char *fmt, ...)
{
	char msg[IRS_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (col)
		return irs__seterr(im->err, IRS_EINPUT, "%s:%" PRIu64 ":%zu: %s", im->name, im->lineno,
				   col, msg);
	return irs__seterr(im->err, IRS_EINPUT, "%s:%" PRIu64 ": %s", im->name, im->lineno, msg);
}

int irs_import_oom(irs_importer *im)
{
	return irs__seterr(im->err, IRS_ENOMEM, "%s: out of memory", im->name);
}

/* Copies an excerpt of s[0..len) into out (truncated with "..."), for messages. */
const char *irs_import_excerpt(const char *s, size_t len, char out[IRS_IMPORT_EXCERPT_MAX + 4])
{
	if (len <= IRS_IMPORT_EXCERPT_MAX) {
		memcpy(out, s, len);
		out[len] = '\0';
	} else {
		memcpy(out, s, IRS_IMPORT_EXCERPT_MAX);
		memcpy(out + IRS_IMPORT_EXCERPT_MAX, "...", 4);
	}
	/* An embedded NUL would cut the message short; show it as a space. */
	for (size_t i = 0; i < len && i < IRS_IMPORT_EXCERPT_MAX; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	return out;
}

/* ------------------------------------------------------------------ setup */

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

/* Column index of name s[0..n), or -1. */
int irs_import_find_column(const irs_importer *im, const char *s, size_t n)
{
	uint32_t i = name_hash(s, n) & im->mask;
	for (;;) {
		uint32_t c = im->slots[i];
		if (!c)
			return -1;
		c--;
		if (im->name_len[c] == n && memcmp(im->t->columns[c].name, s, n) == 0)
			return (int)c;
		i = (i + 1) & im->mask;
	}
}

static void importer_free(irs_importer *im)
{
	free(im->slots);
	free(im->name_len);
	free(im->is_key);
	free(im->seen);
	free(im->touched);
	free(im->vals);
	free(im->scratch);
	free(im->rd.buf);
}

static int importer_init(irs_importer *im, const irs_table_def *t, const irs_import_options *o,
			 const irs_import_sink *sink, irs_error *err)
{
	memset(im, 0, sizeof *im);
	im->t = t;
	im->o = o;
	im->sink = sink;
	im->err = err;
	im->name = o->name ? o->name : "<input>";
	im->max_line = o->max_line ? o->max_line : IRS_IMPORT_MAX_LINE;
	im->rd.fd = -1;
	im->rd.may_block = -1;
	uint32_t n = t->column_count;
	if (n == 0 || t->primary_key_count == 0)
		return irs__seterr(err, IRS_EINVAL, "%s: table has no columns or no primary key",
				   im->name);
	uint32_t nslots = 8;
	while (nslots < 2 * n)
		nslots *= 2;
	im->mask = nslots - 1;
	im->slots = calloc(nslots, sizeof *im->slots);
	im->name_len = calloc(n, sizeof *im->name_len);
	im->is_key = calloc(n, sizeof *im->is_key);
	im->seen = calloc(n, sizeof *im->seen);
	im->touched = calloc(n, sizeof *im->touched);
	im->vals = calloc(n, sizeof *im->vals);
	if (!im->slots || !im->name_len || !im->is_key || !im->seen || !im->touched || !im->vals)
		return irs_import_oom(im);
	im->gen = 1;
	for (uint32_t c = 0; c < n; c++) {
		const char *nm = t->columns[c].name;
		im->name_len[c] = strlen(nm);
		uint32_t i = name_hash(nm, im->name_len[c]) & im->mask;
		while (im->slots[i])
			i = (i + 1) & im->mask;
		im->slots[i] = c + 1;
	}
	for (uint32_t k = 0; k < t->primary_key_count; k++) {
		if (t->primary_key[k] >= n)
			return irs__seterr(err, IRS_EINVAL, "%s: primary key index out of range",
					   im->name);
		im->is_key[t->primary_key[k]] = true;
	}
	return 0;
}

/* Forgets the current record's values. */
void irs_import_record_reset(irs_importer *im)
{
	for (uint32_t i = 0; i < im->ntouched; i++)
		im->vals[im->touched[i]].state = IRS_VALUE_ABSENT;
	im->ntouched = 0;
	if (++im->gen == 0) {
		memset(im->seen, 0, im->t->column_count * sizeof *im->seen);
		im->gen = 1;
	}
}

bool irs_import_cancelled(const irs_importer *im)
{
	return im->o->cancel && *im->o->cancel;
}

int irs_import_cancel_error(irs_importer *im)
{
	if (im->lineno == 0)
		return irs__seterr(im->err, IRS_ECANCELED, "%s: cancelled while waiting for input",
				   im->name);
	return irs__seterr(im->err, IRS_ECANCELED, "%s:%" PRIu64 ": cancelled", im->name,
			   im->lineno);
}


int irs_import_sink_call(irs_importer *im, bool erase)
{
	irs_error local;
	irs_error *e = im->err ? im->err : &local;
	int rc = erase ? im->sink->erase(im->sink->ctx, im->o->table, im->vals, im->lineno, e)
		       : im->sink->upsert(im->sink->ctx, im->o->table, im->vals, im->lineno, e);
	if (rc == IRS_ECANCELED) /* the sink saw the flag (a writer's spill): said as ours */
		return irs_import_cancel_error(im);
	if (rc) {
		if (!e->code)
			irs__seterr(e, rc, "%s", irs_strerror(rc));
		/* the writer names the change by its tag, "line N: ...": the prefix says it */
		char tag[32];
		int n = snprintf(tag, sizeof tag, "line %" PRIu64 ": ", im->lineno);
		if (strncmp(e->message, tag, (size_t)n) == 0)
			memmove(e->message, e->message + n, strlen(e->message + n) + 1);
		irs__errprefix(e, "%s:%" PRIu64, im->name, im->lineno);
		return rc;
	}
	if (erase)
		im->st.erases++;
	else
		im->st.upserts++;
	return 0;
}

/* ------------------------------------------------------------------ entry points */

void irs_import_options_init(irs_import_options *o)
{
	memset(o, 0, sizeof *o);
	o->format = IRS_IMPORT_ROWS_JSONL;
}

static int run(irs_importer *im, irs_import_stats *stats)
{
	int rc;
	switch (im->o->format) {
	case IRS_IMPORT_ROWS_JSONL:
	case IRS_IMPORT_CHANGES_JSONL:
		rc = irs_import_run_jsonl(im);
		break;
	case IRS_IMPORT_ROWS_CSV:
		rc = irs_import_run_csv(im);
		break;
	default:
		rc = irs__seterr(im->err, IRS_EINVAL, "%s: unknown import format", im->name);
	}
	if (stats)
		*stats = im->st;
	importer_free(im);
	return rc;
}

int irs_import_fd(const irs_table_def *table, int fd, const irs_import_options *o,
		  const irs_import_sink *sink, irs_import_stats *stats, irs_error *err)
{
	irs_importer im;
	int rc = importer_init(&im, table, o, sink, err);
	if (rc) {
		importer_free(&im);
		return rc;
	}
	im.rd.fd = fd;
	return run(&im, stats);
}

int irs_import_buffer(const irs_table_def *table, const void *data, size_t len,
		      const irs_import_options *o, const irs_import_sink *sink,
		      irs_import_stats *stats, irs_error *err)
{
	irs_importer im;
	int rc = importer_init(&im, table, o, sink, err);
	if (rc) {
		importer_free(&im);
		return rc;
	}
	im.rd.mem = data;
	im.rd.mem_len = len;
	im.rd.eof = len == 0;
	return run(&im, stats);
}

int irs_import_path(const irs_table_def *table, const char *path, const irs_import_options *o,
		    const irs_import_sink *sink, irs_import_stats *stats, irs_error *err)
{
	irs_import_options opts = *o;
	if (strcmp(path, "-") == 0) {
		if (!opts.name)
			opts.name = "<stdin>";
		return irs_import_fd(table, STDIN_FILENO, &opts, sink, stats, err);
	}
	if (!opts.name)
		opts.name = path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return irs__seterr(err, IRS_EIO, "%s: cannot open: %s", path, strerror(errno));
	int rc = irs_import_fd(table, fd, &opts, sink, stats, err);
	close(fd);
	return rc;
}
