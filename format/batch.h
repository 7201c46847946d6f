/*
 * batch.h (private): ChangeBatch payloads <-> change records (common/record.h).
 *
 * A ChangeBatch (proto/collection.proto) holds many changes to one table column-wise:
 * op codes, a "changed" and a "null" bitmap of row x column bits, and per column the
 * values of the rows that list it non-NULL (key columns: every row). Decoding turns it
 * into one record per change, validating everything on the way; encoding is the
 * reverse, fed with records.
 */
#ifndef IRS_FORMAT_BATCH_H
#define IRS_FORMAT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/record.h"

/* Receives each decoded record; rec is valid during the call only. Non-zero stops. */
typedef int (*irs_rec_sink)(void *ctx, const irs_rec *rec, irs_error *err);

/* Per-thread decoding state, reused from frame to frame (no allocation per change). */
typedef struct irs_batch_decoder {
	irs_mem *mem;
	struct irs_arena_chunk *arena;  /* bump arena for protobuf-c's unpack */
	bool alloc_failed;              /* an arena allocation failed during this unpack */
	irs_value *row;                 /* one per column of the widest table */
	uint32_t row_cap;
	uint32_t *cursor;               /* per column: values consumed */
	uint32_t *offset;               /* per column: byte offset in fixed/data */
	uint8_t *rec;                   /* record being built */
	size_t rec_cap;
} irs_batch_decoder;

void irs__batch_decoder_init(irs_batch_decoder *d, irs_mem *mem);
void irs__batch_decoder_free(irs_batch_decoder *d);

/*
 * Decodes and validates one ChangeBatch payload of table t, calling sink for every
 * change in row order. full: every change must be an UPSERT listing every column.
 * tag_base + row index becomes each record's tag. *count receives the changes.
 * Errors (IRS_ECORRUPT) name the row and column; the caller adds file and frame.
 */
int irs__batch_decode(irs_batch_decoder *d, const irs_schema_table *t, const uint8_t *payload,
		      size_t len, bool full, uint64_t tag_base, irs_rec_sink sink, void *ctx,
		      uint32_t *count, irs_error *err);

/* Builds ChangeBatch payloads from records of one table. */
typedef struct irs_batch_encoder {
	irs_mem *mem;
	const irs_schema_table *t;
	uint32_t count;
	irs_buf ops, changed, nulls, out;
	irs_buf *fixed, *lengths, *data;   /* one of each per column */
	irs_value *row;
	uint8_t *scratch;                  /* unescaped key strings */
	size_t bytes;                      /* payload bytes so far (estimate) */
} irs_batch_encoder;

int irs__batch_encoder_init(irs_batch_encoder *e, irs_mem *mem, const irs_schema_table *t);
/* Appends one change. */
int irs__batch_encoder_add(irs_batch_encoder *e, const irs_rec *r, irs_error *err);
/* Packs the changes added since the last finish; *payload lives until the next call. */
int irs__batch_encoder_finish(irs_batch_encoder *e, const uint8_t **payload, size_t *len,
			      irs_error *err);
void irs__batch_encoder_free(irs_batch_encoder *e);

#endif
