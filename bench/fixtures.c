/* fixtures.c: the benchmark bodies that touch library internals (see fixtures.h). */
#define _LGPL_SOURCE
#include "fixtures.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/record.h"
#include "format/batch.h"
#include "shard/countdown.h"
#include "shard/inbox.h"
#include "common/keycodec.h"
#include "shard/table.h"

static irs_schema_column cols[7];
static uint32_t key_cols[1] = {0}, value_cols[6] = {1, 2, 3, 4, 5, 6};
static irs_schema_table schema;
static irs_mem mem;

static const irs_schema_table *bench_schema(void)
{
	static const irs_type types[7] = {IRS_TYPE_UINT64, IRS_TYPE_INT64,  IRS_TYPE_DOUBLE,   IRS_TYPE_UTF8,
					  IRS_TYPE_UINT32, IRS_TYPE_BOOL,   IRS_TYPE_TIMESTAMP};
	static char names[7][4];
	if (schema.ncols)
		return &schema;
	irs__mem_init(&mem, NULL, 0);
	for (uint32_t c = 0; c < 7; c++) {
		snprintf(names[c], sizeof names[c], "c%u", c);
		cols[c].name = names[c];
		cols[c].type = types[c];
		cols[c].width = irs__type_width(types[c]);
		cols[c].is_key = c == 0;
		cols[c].value_idx = c ? c - 1 : 0;
	}
	schema.name = "bench";
	schema.ncols = 7;
	schema.cols = cols;
	schema.nkey = 1;
	schema.key_cols = key_cols;
	schema.nvalues = 6;
	schema.value_cols = value_cols;
	schema.value_bitmap_bytes = 1;
	return &schema;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

struct irs_bench_rows {
	uint8_t *buf;
	const irs_rec **recs;
	size_t n;
	uint64_t bound; /* sum of row bounds */
};

irs_bench_rows *irs_bench_rows_new(size_t n, int partial, uint64_t seed, uint64_t keyspace)
{
	const irs_schema_table *t = bench_schema();
	irs_bench_rows *r = calloc(1, sizeof *r);
	r->buf = malloc(n * 128);
	r->recs = malloc(n * sizeof *r->recs);
	uint8_t *p = r->buf;
	char text[32];
	uint64_t rng = seed;
	for (size_t i = 0; i < n; i++) {
		irs_value row[7];
		uint64_t id = partial == 1 ? splitmix(&rng) % keyspace : i;
		for (int c = 0; c < 7; c++)
			row[c].state = (partial && c) ? IRS_VALUE_ABSENT : IRS_VALUE_SET;
		if (partial == 1)
			row[1 + splitmix(&rng) % 6].state = IRS_VALUE_SET;
		row[0].v.u64 = id;
		row[1].v.i64 = (int64_t)splitmix(&rng);
		row[2].v.d = (double)(splitmix(&rng) % 100000) / 100;
		int len = snprintf(text, sizeof text, "customer-%08llu", (unsigned long long)(id % 100000000));
		row[3].v.s.ptr = text;
		row[3].v.s.len = (size_t)len;
		row[4].v.u64 = (uint32_t)splitmix(&rng);
		row[5].v.b = (int)(id & 1);
		row[6].v.i64 = 1700000000000000 + (int64_t)(id * 1000);
		/* partial == 2: erases of the keys */
		size_t sz = irs__rec_build(t, partial == 2 ? IRS_REC_ERASE : IRS_REC_UPSERT, !partial, row, i,
					   p, 128);
		r->recs[i] = (const irs_rec *)p;
		r->bound += irs__rec_row_bound(t, r->recs[i]);
		p += irs__rec_padded(sz);
	}
	r->n = n;
	return r;
}

size_t irs_bench_rows_count(const irs_bench_rows *r)
{
	return r->n;
}

void irs_bench_rows_free(irs_bench_rows *r)
{
	free(r->buf);
	free(r->recs);
	free(r);
}

struct irs_bench_table {
	irs_table_part *part;
};

irs_bench_table *irs_bench_table_new(size_t expected)
{
	irs_bench_table *t = calloc(1, sizeof *t);
	irs__part_create(&mem, bench_schema(), expected, &t->part);
	return t;
}

void irs_bench_table_apply(irs_bench_table *t, const irs_bench_rows *r)
{
	irs_apply_counts ac = {0};
	irs__part_reserve(t->part, r->n, r->bound);
	irs__part_apply_batch(t->part, r->recs, r->n, &ac);
	irs__part_unreserve(t->part);
}

size_t irs_bench_table_get_all(const irs_bench_table *t, const irs_bench_rows *r)
{
	size_t found = 0;
	for (size_t i = 0; i < r->n; i++)
		found += irs__part_get(t->part, irs__rec_key(r->recs[i]), r->recs[i]->key_len,
				       r->recs[i]->hash) != NULL;
	return found;
}

void irs_bench_table_free(irs_bench_table *t)
{
	irs__part_destroy(t->part);
	free(t);
}

struct irs_bench_batch {
	const irs_bench_rows *rows;
	int full;
	uint8_t *payload;
	size_t len;
	irs_batch_encoder enc;
	irs_batch_decoder dec;
};

static size_t encode(irs_bench_batch *b)
{
	irs_error err;
	for (size_t i = 0; i < b->rows->n; i++)
		irs__batch_encoder_add(&b->enc, b->rows->recs[i], &err);
	const uint8_t *p;
	size_t len = 0;
	irs__batch_encoder_finish(&b->enc, &p, &len, &err);
	if (!b->payload) {
		b->payload = malloc(len);
		memcpy(b->payload, p, len);
		b->len = len;
	}
	return len;
}

irs_bench_batch *irs_bench_batch_new(const irs_bench_rows *r, int full)
{
	irs_bench_batch *b = calloc(1, sizeof *b);
	b->rows = r;
	b->full = full;
	irs__batch_encoder_init(&b->enc, &mem, bench_schema());
	irs__batch_decoder_init(&b->dec, &mem);
	encode(b);
	return b;
}

size_t irs_bench_batch_bytes(const irs_bench_batch *b)
{
	return b->len;
}

static int sum_sink(void *ctx, const irs_rec *rec, irs_error *err)
{
	(void)err;
	*(uint64_t *)ctx += rec->size;
	return 0;
}

uint64_t irs_bench_batch_decode(irs_bench_batch *b)
{
	uint64_t bytes = 0;
	uint32_t n;
	irs_error err;
	irs__batch_decode(&b->dec, bench_schema(), b->payload, b->len, b->full, 0, sum_sink, &bytes, &n, &err);
	return bytes;
}

size_t irs_bench_batch_encode(irs_bench_batch *b)
{
	return encode(b);
}

void irs_bench_batch_free(irs_bench_batch *b)
{
	irs__batch_encoder_free(&b->enc);
	irs__batch_decoder_free(&b->dec);
	free(b->payload);
	free(b);
}

uint64_t irs_bench_key_route(uint64_t k, uint32_t shards)
{
	irs_value row[7];
	row[0].state = IRS_VALUE_SET;
	row[0].v.u64 = k;
	uint8_t out[16];
	size_t n = irs__key_encode(bench_schema(), row, out, sizeof out);
	return irs__shard_of(irs__key_hash(out, n), shards);
}

uint32_t irs_bench_crc32c(const void *p, size_t n, int hw)
{
	return hw ? irs__crc32c(0, p, n) : irs__crc32c_portable(0, p, n);
}

int irs_bench_crc32c_has_hw(void)
{
	return irs__crc32c_hw();
}

/* ---- inbox and barrier */

typedef struct msg {
	struct cds_wfcq_node node;
	int quit;
} msg;

typedef struct producer_arg {
	irs_inbox *ib;
	msg *msgs;
	int n;
} producer_arg;

static void *producer(void *arg)
{
	producer_arg *a = arg;
	for (int i = 0; i < a->n; i++) {
		cds_wfcq_node_init(&a->msgs[i].node);
		irs__inbox_push(a->ib, &a->msgs[i].node);
	}
	return NULL;
}

void irs_bench_inbox_run(int producers, int per)
{
	irs_inbox ib;
	irs__inbox_init(&ib);
	msg *msgs = malloc(sizeof(msg) * (size_t)producers * (size_t)per);
	pthread_t th[64];
	producer_arg args[64];
	for (int p = 0; p < producers && p < 64; p++) {
		args[p] = (producer_arg){&ib, msgs + (size_t)p * (size_t)per, per};
		pthread_create(&th[p], NULL, producer, &args[p]);
	}
	for (long i = 0; i < (long)producers * per; i++)
		irs__inbox_pop_blocking(&ib, 0);
	for (int p = 0; p < producers && p < 64; p++)
		pthread_join(th[p], NULL);
	irs__inbox_destroy(&ib);
	free(msgs);
}

struct irs_bench_barrier {
	int shards;
	irs_countdown cd;
	irs_inbox *inbox;
	msg *go;
	pthread_t *th;
	struct shard_arg {
		struct irs_bench_barrier *b;
		int id;
	} *args;
};

static void *shard_loop(void *arg)
{
	struct shard_arg *a = arg;
	for (;;) {
		struct cds_wfcq_node *n = irs__inbox_pop_blocking(&a->b->inbox[a->id], 0);
		if (caa_container_of(n, msg, node)->quit)
			return NULL;
		irs__countdown_done(&a->b->cd);
	}
}

irs_bench_barrier *irs_bench_barrier_new(int shards)
{
	irs_bench_barrier *b = calloc(1, sizeof *b);
	b->shards = shards;
	irs__countdown_init(&b->cd);
	b->inbox = calloc((size_t)shards, sizeof *b->inbox);
	b->go = calloc((size_t)shards, sizeof *b->go);
	b->th = calloc((size_t)shards, sizeof *b->th);
	b->args = calloc((size_t)shards, sizeof *b->args);
	for (int s = 0; s < shards; s++) {
		irs__inbox_init(&b->inbox[s]);
		b->args[s].b = b;
		b->args[s].id = s;
		pthread_create(&b->th[s], NULL, shard_loop, &b->args[s]);
	}
	return b;
}

void irs_bench_barrier_round(irs_bench_barrier *b)
{
	irs__countdown_arm(&b->cd, b->shards);
	for (int s = 0; s < b->shards; s++) {
		cds_wfcq_node_init(&b->go[s].node);
		irs__inbox_push(&b->inbox[s], &b->go[s].node);
	}
	irs__countdown_wait(&b->cd);
}

void irs_bench_barrier_free(irs_bench_barrier *b)
{
	for (int s = 0; s < b->shards; s++) {
		b->go[s].quit = 1;
		cds_wfcq_node_init(&b->go[s].node);
		irs__inbox_push(&b->inbox[s], &b->go[s].node);
	}
	for (int s = 0; s < b->shards; s++) {
		pthread_join(b->th[s], NULL);
		irs__inbox_destroy(&b->inbox[s]);
	}
	free(b->inbox);
	free(b->go);
	free(b->th);
	free(b->args);
	free(b);
}
