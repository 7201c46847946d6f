/*
 * batch.h (private): ChangeBatch payloads <-> change records (common/record.h):
 * batch_wire.c reads the wire format, batch_decode.c decodes, batch_encode.c encodes.
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

/* One column of a ChangeBatch, read in place: slices of the payload. */
typedef struct irs_col_slice {
	const uint8_t *fixed, *lengths, *data;
	size_t fixed_len, lengths_len, data_len;
} irs_col_slice;

/* A ChangeBatch read in place (batch_wire.c); its columns are in the array the caller
 * passed to irs__batch_parse. */
typedef struct irs_batch_view {
	uint32_t count;
	const uint8_t *ops, *changed, *nulls;
	size_t ops_len, changed_len, nulls_len;
	uint32_t ncolumns;       /* columns present (only the first ncols are stored) */
} irs_batch_view;

/*
 * Reads the wire format of a ChangeBatch payload without copying or allocating: the
 * first ncols columns go to cols[], the others are only counted. Checks the wire
 * format only (IRS_ECORRUPT naming the byte offset); shapes are the decoder's job.
 */
int irs__batch_parse(const uint8_t *payload, size_t len, uint32_t ncols, irs_col_slice *cols,
		     irs_batch_view *b, irs_error *err);

/* Receives each decoded record; rec is valid during the call only. Non-zero stops. */
typedef int (*irs_rec_sink)(void *ctx, const irs_rec *rec, irs_error *err);

/*
 * Where the decoder writes records. room() returns space for a record of at most
 * `bound` bytes whose encoded key is key[0..key_len) with hash `hash` (8-byte aligned),
 * or NULL with err set; the decoder builds the record there, then calls done(), whose
 * non-zero return stops decoding. A restore routes with room(): each record is written
 * straight into the run of the shard that owns it (or into scratch space, for a record
 * a partitioned or filtered restore does not keep: it is still validated).
 */
typedef struct irs_rec_out {
	uint8_t *(*room)(void *ctx, uint64_t hash, const uint8_t *key, size_t key_len, size_t bound,
			 irs_error *err);
	int (*done)(void *ctx, const irs_rec *rec, irs_error *err);
	void *ctx;
} irs_rec_out;

/* Tables of at most this many columns take the decoder's fast path. */
#define FAST_COLS 56

/* Per-thread decoding state, reused from frame to frame (no allocation per change). */
typedef struct irs_batch_decoder {
	irs_mem *mem;
	uint32_t cap;                   /* columns the arrays below hold */
	irs_col_slice *col;             /* per column: slices of the current payload */
	uint32_t *cursor;               /* per column: values taken */
	uint32_t *offset;               /* per column: data bytes taken */
	uint32_t *first_bad;            /* per column: first invalid value (bool, UTF-8) or UINT32_MAX */
	uint8_t *key;                   /* the encoded key being built (IRS_MAX_KEY_BYTES) */
	uint8_t *rec;                   /* record buffer of irs__batch_decode */
	size_t rec_cap;
	bool row_digests;               /* set IRS_REC_ROW_DIGEST where it can (restores that
					 * maintain digests) */
	bool generic_only;              /* never the dense path (tests compare the two) */
	uint64_t dense_batches;         /* batches the dense path decoded */
	const uint8_t *vsrc[FAST_COLS]; /* the change's values, per column (fast path) */
	uint32_t vlen[FAST_COLS];
	uint8_t vwidth[FAST_COLS];      /* per column: its width, 0 for a string (fast path) */
} irs_batch_decoder;

void irs__batch_decoder_init(irs_batch_decoder *d, irs_mem *mem);
void irs__batch_decoder_free(irs_batch_decoder *d);

/* Allocates now what decoding a batch of a table of up to ncols columns needs, so that
 * such batches allocate nothing later. IRS_ENOMEM/IRS_ELIMIT. */
int irs__batch_decoder_reserve(irs_batch_decoder *d, uint32_t ncols, irs_error *err);

/*
 * Decodes and validates one ChangeBatch payload of table t, writing one record per
 * change, in row order, where `out` says. full: every change must be an UPSERT listing
 * every column. tag_base + row index becomes each record's tag. *count receives the
 * changes. Errors (IRS_ECORRUPT) name the row and column; the caller adds file and
 * frame. Memory: the per-column arrays (once per table width) and nothing per frame.
 */
int irs__batch_decode_to(irs_batch_decoder *d, const irs_schema_table *t, const uint8_t *payload,
			 size_t len, bool full, uint64_t tag_base, const irs_rec_out *out,
			 uint32_t *count, irs_error *err);

/* As irs__batch_decode_to, with every record built in the decoder's buffer and passed
 * to sink. */
int irs__batch_decode(irs_batch_decoder *d, const irs_schema_table *t, const uint8_t *payload,
		      size_t len, bool full, uint64_t tag_base, irs_rec_sink sink, void *ctx,
		      uint32_t *count, irs_error *err);

/*
 * Decodes every frame of one segment, in order, into sink (segment_scan.c): the read
 * loop of verify, diff and the SQLite oracle. Errors name the backup, and for a frame
 * that does not decode also the segment, the frame and its byte offset.
 */
typedef struct irs_segment_scan {
	/* set by the caller */
	irs_mem *mem;
	int dirfd;
	const char *path;            /* the segment, relative to dirfd */
	uint32_t table;              /* its table id, checked against its header */
	const irs_schema_table *t;
	bool full;                   /* a full backup's segment */
	const char *backup;          /* the backup's name, for messages */
	const volatile int *cancel;  /* may be NULL; non-zero stops before the next frame */
	/* set by the scan; frame also while the sink runs */
	uint32_t frame;              /* the frame being decoded */
	uint32_t frames, crc;        /* after the scan: frames read, CRC32C of the whole file */
	uint64_t records;            /* changes decoded */
} irs_segment_scan;

int irs__segment_scan(irs_segment_scan *s, irs_batch_decoder *d, irs_rec_sink sink, void *ctx,
		      irs_error *err);

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
