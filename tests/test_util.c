/* test_util.c: helpers shared by the tests (test_util.h). */
#include "test_util.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

uint64_t tu_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

uint64_t tu_rand_below(uint64_t *state, uint64_t n)
{
	return tu_rand(state) % n;
}

irs_schema_table *tu_schema_new(const irs_type *types, uint32_t ncols, const uint32_t *pk,
				uint32_t npk)
{
	irs_schema_table *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->name = strdup("t");
	t->ncols = ncols;
	t->cols = calloc(ncols ? ncols : 1, sizeof *t->cols);
	t->nkey = npk;
	t->key_cols = calloc(npk ? npk : 1, sizeof *t->key_cols);
	t->value_cols = calloc(ncols ? ncols : 1, sizeof *t->value_cols);
	if (!t->name || !t->cols || !t->key_cols || !t->value_cols) {
		tu_schema_free(t);
		return NULL;
	}
	for (uint32_t c = 0; c < ncols; c++) {
		char name[16];
		snprintf(name, sizeof name, "c%u", c);
		t->cols[c].name = strdup(name);
		t->cols[c].type = types[c];
		t->cols[c].width = irs__type_width(types[c]);
	}
	for (uint32_t k = 0; k < npk; k++) {
		t->key_cols[k] = pk[k];
		t->cols[pk[k]].is_key = true;
		t->cols[pk[k]].key_pos = k;
	}
	for (uint32_t c = 0; c < ncols; c++) {
		if (t->cols[c].is_key)
			continue;
		t->cols[c].value_idx = t->nvalues;
		t->value_cols[t->nvalues++] = c;
	}
	t->value_bitmap_bytes = (t->nvalues + 7) / 8;
	return t;
}

void tu_schema_free(irs_schema_table *t)
{
	if (!t)
		return;
	if (t->cols)
		for (uint32_t c = 0; c < t->ncols; c++)
			free(t->cols[c].name);
	free(t->cols);
	free(t->key_cols);
	free(t->value_cols);
	free(t->name);
	free(t);
}

irs_value tu_absent(void)
{
	irs_value v;
	memset(&v, 0, sizeof v);
	v.state = IRS_VALUE_ABSENT;
	return v;
}

irs_value tu_null(void)
{
	irs_value v = tu_absent();
	v.state = IRS_VALUE_NULL;
	return v;
}

irs_value tu_bool(int b)
{
	irs_value v = tu_absent();
	v.state = IRS_VALUE_SET;
	v.v.b = b != 0;
	return v;
}

irs_value tu_i64(int64_t x)
{
	irs_value v = tu_absent();
	v.state = IRS_VALUE_SET;
	v.v.i64 = x;
	return v;
}

irs_value tu_u64(uint64_t x)
{
	irs_value v = tu_absent();
	v.state = IRS_VALUE_SET;
	v.v.u64 = x;
	return v;
}

irs_value tu_dbl(double d)
{
	irs_value v = tu_absent();
	v.state = IRS_VALUE_SET;
	v.v.d = d;
	return v;
}

irs_value tu_bytes(const void *p, size_t len)
{
	irs_value v = tu_absent();
	v.state = IRS_VALUE_SET;
	v.v.s.ptr = p;
	v.v.s.len = len;
	return v;
}

irs_value tu_str(const char *s)
{
	return tu_bytes(s, strlen(s));
}

irs_rec *tu_rec_new(const irs_schema_table *t, int op, bool full, const irs_value *row)
{
	size_t cap = IRS_REC_HEADER + 2u * t->value_bitmap_bytes + IRS_MAX_KEY_BYTES + 64;
	for (uint32_t c = 0; c < t->ncols; c++)
		if (row[c].state == IRS_VALUE_SET && !irs__type_width(t->cols[c].type))
			cap += 4 + row[c].v.s.len;
		else
			cap += 8;
	cap = (cap + 7) & ~(size_t)7;
	void *buf = aligned_alloc(8, cap);
	if (!buf)
		return NULL;
	size_t n = irs__rec_build(t, op, full, row, 0, buf, cap);
	if (!n) {
		free(buf);
		return NULL;
	}
	return buf;
}

irs_collection *tu_kv_collection(const char *dir, irs_error *err)
{
	static const irs_column_def cols[] = {{"id", IRS_TYPE_UINT64}, {"v", IRS_TYPE_UTF8}};
	static const uint32_t pk[] = {0};
	irs_table_def t = {"t", cols, 2, pk, 1};
	irs_collection *c = NULL;
	if (irs_collection_create(dir, &t, 1, err) || irs_collection_open(dir, NULL, 0, &c, err))
		return NULL;
	return c;
}

void tu_alloc_free(void *ctx, void *p, size_t size)
{
	(void)ctx;
	(void)size;
	free(p);
}
