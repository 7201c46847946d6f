/*
 * import_csv.c: CSV rows (RFC 4180; a header line of column names; an unquoted empty
 * field is NULL and "" the empty string), as import.h describes them.
 *
 * ALGORITHM: each physical line (with its '\n') is fed to libcsv (strict mode,
 * spaces are data, empty unquoted field -> NULL pointer); fields are copied into a
 * record buffer and parsed (import_values.c) when libcsv reports the end of the
 * record. A record's line is the line on which libcsv was between records
 * (csv_parser.pstate == 0), so a quoted field spanning lines is reported where its
 * record starts.
 */
#include "importer.h"

#include <csv.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli_support.h"

/* libcsv's parser state between records (ROW_NOT_BEGUN in libcsv.c). */
#define LIBCSV_ROW_NOT_BEGUN 0

typedef struct csv_field {
	size_t off, len;
	bool null;
} csv_field;

typedef struct csv_state {
	irs_importer *im;
	int rc;                 /* first error; later callbacks do nothing */
	bool have_header;
	uint32_t nheader;       /* fields in the header */
	int32_t *field_col;     /* per header field: column index */
	csv_field *fields;      /* the current record's fields */
	uint32_t nfields, fields_cap;
	char *rbuf;             /* their bytes, each followed by a NUL */
	size_t rlen, rcap;
	uint64_t rec_line;      /* line where the current record started */
} csv_state;

static int csv_err(csv_state *cs, const char *fmt, ...) IRS_PRINTF(2, 3);
static int csv_err(csv_state *cs, const char *fmt, ...)
{
	char msg[IRS_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cs->rc = irs__seterr(cs->im->err, IRS_EINPUT, "%s:%" PRIu64 ": %s", cs->im->name,
			     cs->rec_line, msg);
	return cs->rc;
}

static void csv_on_field(void *data, size_t len, void *ctx)
{
	csv_state *cs = ctx;
	irs_importer *im = cs->im;
	if (cs->rc)
		return;
	uint32_t limit = cs->have_header ? cs->nheader : IRS_MAX_COLUMNS;
	if (cs->nfields >= limit) {
		if (cs->have_header)
			csv_err(cs, "record has more fields than the header (%" PRIu32 ")", cs->nheader);
		else
			csv_err(cs, "header has more than %d fields", IRS_MAX_COLUMNS);
		return;
	}
	if (cs->nfields == cs->fields_cap) {
		uint32_t ncap = cs->fields_cap ? cs->fields_cap * 2 : 16;
		csv_field *nf = realloc(cs->fields, ncap * sizeof *nf);
		if (!nf) {
			cs->rc = irs_import_oom(im);
			return;
		}
		cs->fields = nf;
		cs->fields_cap = ncap;
	}
	if (len + 1 > cs->rcap - cs->rlen) {
		size_t ncap = cs->rcap ? cs->rcap : 4096;
		while (ncap - cs->rlen < len + 1)
			ncap *= 2;
		char *nb = realloc(cs->rbuf, ncap);
		if (!nb) {
			cs->rc = irs_import_oom(im);
			return;
		}
		cs->rbuf = nb;
		cs->rcap = ncap;
	}
	csv_field *f = &cs->fields[cs->nfields++];
	f->off = cs->rlen;
	f->len = data ? len : 0;
	f->null = data == NULL;
	if (data && len)
		memcpy(cs->rbuf + cs->rlen, data, len);
	cs->rbuf[cs->rlen + f->len] = '\0';
	cs->rlen += f->len + 1;
}

static void csv_header(csv_state *cs)
{
	irs_importer *im = cs->im;
	const irs_table_def *t = im->t;
	cs->field_col = malloc((cs->nfields ? cs->nfields : 1) * sizeof *cs->field_col);
	if (!cs->field_col) {
		cs->rc = irs_import_oom(im);
		return;
	}
	for (uint32_t i = 0; i < cs->nfields; i++) {
		const csv_field *f = &cs->fields[i];
		const char *name = cs->rbuf + f->off;
		int shown = (int)(f->len < IRS_IMPORT_NAME_SHOWN ? f->len : IRS_IMPORT_NAME_SHOWN);
		if (f->null || f->len == 0) {
			csv_err(cs, "header field %" PRIu32 " is empty (expected a column name)", i + 1);
			return;
		}
		int c = irs_import_find_column(im, name, f->len);
		if (c < 0) {
			csv_err(cs, "header field %" PRIu32 ": unknown column \"%.*s\" in table \"%s\"",
				i + 1, shown, name, t->name);
			return;
		}
		if (im->seen[c] == im->gen) {
			csv_err(cs, "header field %" PRIu32 ": column \"%.*s\" is listed twice", i + 1,
				shown, name);
			return;
		}
		im->seen[c] = im->gen;
		cs->field_col[i] = c;
	}
	for (uint32_t k = 0; k < t->primary_key_count; k++) {
		uint32_t c = t->primary_key[k];
		if (im->seen[c] != im->gen) {
			csv_err(cs, "header lacks key column \"%s\"", t->columns[c].name);
			return;
		}
	}
	cs->nheader = cs->nfields;
	cs->have_header = true;
	irs_import_record_reset(im);
}

static void csv_record(csv_state *cs)
{
	irs_importer *im = cs->im;
	const irs_table_def *t = im->t;
	if (cs->nfields != cs->nheader) {
		csv_err(cs, "record has %" PRIu32 " fields, the header has %" PRIu32, cs->nfields,
			cs->nheader);
		return;
	}
	for (uint32_t i = 0; i < cs->nfields; i++) {
		const csv_field *f = &cs->fields[i];
		uint32_t c = (uint32_t)cs->field_col[i];
		const irs_column_def *cd = &t->columns[c];
		irs_value *v = &im->vals[c];
		im->touched[im->ntouched++] = c;
		if (f->null) {
			if (im->is_key[c]) {
				csv_err(cs, "field %" PRIu32 " (column \"%s\", %s): key column is NULL "
					    "(an empty unquoted field)",
					i + 1, cd->name, irs_import_type_name(cd->type));
				return;
			}
			v->state = IRS_VALUE_NULL;
			continue;
		}
		const char *text = cs->rbuf + f->off;
		const char *r = irs_import_parse_text(cd->type, text, f->len, v);
		if (r) {
			char ex[IRS_IMPORT_EXCERPT_MAX + 4];
			csv_err(cs, "field %" PRIu32 " (column \"%s\", %s): %s (got \"%s\")", i + 1,
				cd->name, irs_import_type_name(cd->type), r, irs_import_excerpt(text, f->len, ex));
			return;
		}
	}
	uint64_t saved = im->lineno;
	im->lineno = cs->rec_line;
	cs->rc = irs_import_sink_call(im, false);
	im->lineno = saved;
}

static void csv_on_record(int term, void *ctx)
{
	csv_state *cs = ctx;
	(void)term;
	if (cs->rc)
		return;
	if (!cs->have_header)
		csv_header(cs);
	else
		csv_record(cs);
	irs_import_record_reset(cs->im);
	cs->nfields = 0;
	cs->rlen = 0;
}

/* libcsv's buffer growth, counted (its realloc hook has no context: per thread) */
static _Thread_local uint64_t csv_grows;

static void *csv_realloc(void *p, size_t n)
{
	csv_grows++;
	return realloc(p, n);
}

/*
 * libcsv enlarges its field buffer by a fixed block (128 bytes by default), copying it
 * each time: one field of n bytes would cost n / 128 copies of up to n bytes. Before
 * each piece is fed, the block is made as large as the buffer already is and as the
 * piece, so the buffer at least doubles when it grows and one line needs one growth.
 */
static void csv_block_size(struct csv_parser *p, size_t feed)
{
	size_t blk = csv_get_buffer_size(p);
	if (blk < feed)
		blk = feed;
	if (blk < 4096)
		blk = 4096;
	csv_set_blk_size(p, blk);
}

static int never_space(unsigned char c)
{
	(void)c;
	return 0;
}

int irs_import_run_csv(irs_importer *im)
{
	struct csv_parser p;
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL | CSV_APPEND_NULL))
		return irs_import_oom(im);
	csv_set_space_func(&p, never_space);
	csv_set_realloc_func(&p, csv_realloc);
	csv_grows = 0;
	csv_state cs = {.im = im};
	size_t rec_bytes = 0;
	int rc = 0;
	for (;;) {
		char *line;
		size_t len;
		bool nl;
		rc = irs_import_read_line(im, &line, &len, &nl);
		if (rc <= 0)
			break;
		if (irs_import_cancelled(im)) {
			rc = irs_import_cancel_error(im);
			break;
		}
		if (p.pstate == LIBCSV_ROW_NOT_BEGUN) {
			cs.rec_line = im->lineno;
			rec_bytes = 0;
		}
		size_t feed = len + (nl ? 1 : 0);
		rec_bytes += feed;
		if (rec_bytes > im->max_line + 1) {
			rc = csv_err(&cs, "record longer than %zu bytes", im->max_line);
			break;
		}
		csv_block_size(&p, feed);
		size_t done = csv_parse(&p, line, feed, csv_on_field, csv_on_record, &cs);
		if (cs.rc) {
			rc = cs.rc;
			break;
		}
		if (done != feed) {
			if (csv_error(&p) == CSV_EPARSE)
				rc = irs_import_error(im, done + 1,
					    "malformed CSV: a quote inside an unquoted field, or text "
					    "after a closing quote");
			else
				rc = irs_import_oom(im);
			break;
		}
	}
	if (rc == 0) {
		if (csv_fini(&p, csv_on_field, csv_on_record, &cs) != 0 && !cs.rc)
			rc = csv_err(&cs, "malformed CSV: a quoted field is not closed");
		else
			rc = cs.rc;
	}
	/* An empty file (or one of blank lines only) has no header and no rows: an empty
	 * backup, as an empty JSONL file is (docs/cli.md, `add`). */
	csv_free(&p);
	im->st.csv_buffer_grows = csv_grows;
	free(cs.field_col);
	free(cs.fields);
	free(cs.rbuf);
	return rc;
}
