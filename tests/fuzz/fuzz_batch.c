/*
 * fuzz_batch.c: libFuzzer target for the segment frame decoder: an arbitrary payload
 * is decoded as a ChangeBatch of a table with every type and a composite key, as a
 * full and as an incremental backup. Every record that comes out must re-encode and
 * decode to the same bytes, and the dense path must agree with the per-change paths.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/batch.h"

static irs_schema_column cols[9];
static uint32_t key_cols[2] = {7, 1};
static uint32_t value_cols[7] = {0, 2, 3, 4, 5, 6, 8};
static irs_schema_table schema;

static const irs_schema_table *table(void)
{
	static const irs_type types[9] = {IRS_TYPE_BOOL,   IRS_TYPE_INT32,  IRS_TYPE_INT64,
					  IRS_TYPE_UINT32, IRS_TYPE_UINT64, IRS_TYPE_DOUBLE,
					  IRS_TYPE_UTF8,   IRS_TYPE_BYTES,  IRS_TYPE_TIMESTAMP};
	static char names[9][4] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"};
	if (schema.ncols)
		return &schema;
	for (uint32_t c = 0; c < 9; c++) {
		cols[c].name = names[c];
		cols[c].type = types[c];
		cols[c].width = irs__type_width(types[c]);
	}
	cols[7].is_key = cols[1].is_key = true;
	cols[7].key_pos = 0;
	cols[1].key_pos = 1;
	for (uint32_t v = 0; v < 7; v++)
		cols[value_cols[v]].value_idx = v;
	schema.name = "fuzz";
	schema.ncols = 9;
	schema.cols = cols;
	schema.nkey = 2;
	schema.key_cols = key_cols;
	schema.nvalues = 7;
	schema.value_cols = value_cols;
	schema.value_bitmap_bytes = 1;
	return &schema;
}

typedef struct collect {
	irs_batch_encoder *enc;
	uint64_t n;
} collect;

static int sink(void *ctx, const irs_rec *rec, irs_error *err)
{
	collect *c = ctx;
	c->n++;
	return irs__batch_encoder_add(c->enc, rec, err);
}

/* Every record's bytes, in order, and their count. */
typedef struct trace {
	uint8_t *b;
	size_t n, cap;
} trace;

static int trace_sink(void *ctx, const irs_rec *rec, irs_error *err)
{
	(void)err;
	trace *x = ctx;
	if (x->n + rec->size > x->cap) {
		x->cap = 2 * (x->n + rec->size);
		x->b = realloc(x->b, x->cap);
		if (!x->b)
			abort();
	}
	memcpy(x->b + x->n, rec, rec->size);
	x->n += rec->size;
	return 0;
}

/* The dense path (a batch of full rows without NULLs, a column at a time) and the
 * per-change paths give the same records, row digests included, or the same error. */
static void dense_vs_generic(irs_mem *mem, const irs_schema_table *t, const uint8_t *data, size_t size,
			     bool full)
{
	trace a = {0}, g = {0};
	irs_error ea, eg;
	uint32_t na = 0, ng = 0;
	irs_batch_decoder d;
	irs__batch_decoder_init(&d, mem);
	d.row_digests = true;
	int ra = irs__batch_decode(&d, t, data, size, full, 0, trace_sink, &a, &na, &ea);
	d.generic_only = true;
	int rg = irs__batch_decode(&d, t, data, size, full, 0, trace_sink, &g, &ng, &eg);
	if (ra != rg || na != ng || a.n != g.n || (a.n && memcmp(a.b, g.b, a.n)) ||
	    (ra && strcmp(ea.message, eg.message)))
		abort();
	free(a.b);
	free(g.b);
	irs__batch_decoder_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	irs_mem mem;
	irs__mem_init(&mem, NULL, 256u << 20);
	const irs_schema_table *t = table();
	for (int full = 0; full < 2; full++) {
		irs_batch_decoder d;
		irs_batch_encoder e;
		irs__batch_decoder_init(&d, &mem);
		if (irs__batch_encoder_init(&e, &mem, t) != 0)
			abort();
		collect c = {&e, 0};
		irs_error err;
		uint32_t n;
		int rc = irs__batch_decode(&d, t, data, size, full, 0, sink, &c, &n, &err);
		if (rc == 0) {
			/* Valid input: what decoded re-encodes, and that decodes to the same count. */
			const uint8_t *p;
			size_t len;
			if (irs__batch_encoder_finish(&e, &p, &len, &err) != 0)
				abort();
			uint8_t *copy = malloc(len ? len : 1);
			memcpy(copy, p, len);
			irs_batch_encoder e2;
			irs__batch_encoder_init(&e2, &mem, t);
			collect c2 = {&e2, 0};
			if (irs__batch_decode(&d, t, copy, len, full, 0, sink, &c2, &n, &err) != 0 || c2.n != c.n)
				abort();
			irs__batch_encoder_free(&e2);
			free(copy);
		}
		irs__batch_encoder_free(&e);
		irs__batch_decoder_free(&d);
		dense_vs_generic(&mem, t, data, size, full);
	}
	if (atomic_load(&mem.used) != 0)
		abort(); /* everything allocated was freed */
	return 0;
}
