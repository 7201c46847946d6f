/*
 * memory_model.c: a lower bound of the memory a restore must allocate, from the
 * manifest alone (memory_model.h). Used to refuse a restore up front when
 * --memory-limit certainly cannot be met.
 *
 * THE MODEL (bytes that are all allocated at once when the base full backup has been
 * applied; every term is a lower bound, so their sum is one too)
 *
 *   For each enabled table with R rows in the base full backup (the manifest's record
 *   count; a full backup has distinct keys, so the table then holds exactly R rows):
 *
 *   row blobs (shard/table.c, "Row blob"): one blob per row, inline, 8-byte granular:
 *
 *       3                      header (u16 key length, u8 slack)
 *     + Kf                     encoded fixed key columns: bool 1, int32/uint32 4,
 *                              int64/uint64/double/timestamp 8 (common/keycodec.h)
 *     + 2 * Kv + key bytes     utf8/bytes key columns: escaped bytes (>= raw) and a
 *                              2-byte terminator each
 *     + ceil(V / 8)            NULL bitmap of the V value columns
 *     + Vf                     fixed area: every fixed-width value column, NULL or not
 *     + 4 * Vv + value bytes   a u32 word per utf8/bytes value column, value inline
 *                              (a full backup's rows are built fully inline)
 *     rounded up to 8 per row.
 *
 *     So blobs >= R * head + S, where head = 3 + Kf + 2 Kv + ceil(V/8) + Vf + 4 Vv and
 *     S = the string bytes (key and value) of the base backup; and blobs >=
 *     R * round8(head) (exact when the table has no string column).
 *
 *     S comes from the segments: the only part of a segment that is not a string byte
 *     is bounded from above by its structure (docs/format.md sections 3-4), so
 *       S >= sum over segments of  size - 16 - frames * (8 + Pf) - Pr
 *     where, per frame, Pf = 4 (count) + 4 (ops header) + 2 * 5 (bitmap headers)
 *     + 2 (bitmap rounding) + 5 C (ColumnValues headers) + 5 per fixed column
 *     + 10 per string column (lengths and data headers), with varints at their
 *     largest for IRS_MAX_BATCH_ROWS / IRS_MAX_FRAME; and for the segment's N
 *     records, Pr = N (ops) + 2 ceil(N C / 8) (bitmaps) + N * (sum of fixed widths
 *     of all columns + 4 per string column) (values at most once per record, and
 *     lengths). Negative terms count as 0. This assumes canonical protobuf (what the
 *     writer produces); a crafted segment padded with unknown fields would raise S.
 *
 *   hash index: 8-byte slots, at most 3/4 full: every shard holding n rows has at
 *     least ceil(4 n / 3) slots, so >= 8 * ceil(4 R / 3) bytes over all shards.
 *
 *   Per-restore buffers held until the end (segment.c, batch_decode.c): when the base has
 *   a frame, one frame buffer (>= 64 KiB and >= the largest frame, which is >= the
 *   average frame of any segment) and one decoder record buffer (>= IRS_REC_HEADER +
 *   IRS_MAX_KEY_BYTES + that frame's length).
 *
 *   Bytes per row by schema (without strings, before the index's 10.7 bytes):
 *     (uint64 key, uint64 value)                    round8(3 + 8 + 1 + 8)   = 24
 *     (uint64 key, utf8 value of L bytes)           3 + 8 + 1 + 4 + L (-> round8)
 *     (utf8 key of K bytes, int64, double, bool)    round8(3 + K + 2 + 1 + 17)
 *
 * The manifest's counts used here were bounded when the collection was opened (a
 * segment's records by its bytes, format/collection.c), so the products below stay far
 * from overflowing, and this code allocates nothing.
 *
 * NOT COUNTED (so the real peak is higher): incrementals (they may grow or shrink
 * the tables; their staged runs and reservations), runs in flight between shards,
 * index slack above 3/4 load (power-of-two sizing), row padding and slack for
 * string tables, arena chunk tails, the partitions' own small arrays, protobuf
 * decoding arenas, and everything allocated outside the restore's allocator.
 * Measured (tests/test_memory.c): the peak is between 1x and 3x this bound on
 * collections of some thousands of rows and more.
 */
#include "memory_model.h"

#include "common/record.h"
#include "common/schema.h"
#include "format/format.h"

static uint64_t round8(uint64_t x)
{
	return (x + 7) & ~(uint64_t)7;
}

static uint8_t key_width(irs_type t)
{
	return t == IRS_TYPE_BOOL ? 1 : irs__type_width(t);
}

/* Lower bound of the string bytes in one table's segments of one backup. */
static uint64_t string_bytes_lb(const irs_schema_table *t, const Increstore__TableBackup *tb,
				uint64_t *max_avg_frame)
{
	uint64_t C = t->ncols, nfixed = 0, nvar = 0, widths = 0;
	for (uint32_t c = 0; c < t->ncols; c++) {
		uint8_t w = irs__type_width(t->cols[c].type);
		if (w) {
			nfixed++;
			widths += w;
		} else {
			nvar++;
		}
	}
	uint64_t per_frame = IRS_FRAME_HEADER + 4 + 4 + 2 * 5 + 2 + 5 * C + 5 * nfixed + 10 * nvar;
	uint64_t per_rec = 1 + widths + 4 * nvar;
	uint64_t s = 0;
	for (size_t i = 0; i < tb->n_segments; i++) {
		const Increstore__Segment *seg = tb->segments[i];
		uint64_t size = seg->size, frames = seg->frames, n = seg->records;
		if (size <= IRS_SEGMENT_HEADER || frames == 0)
			continue;
		uint64_t payload = size - IRS_SEGMENT_HEADER;
		uint64_t avg = payload / frames;
		avg = avg > IRS_FRAME_HEADER ? avg - IRS_FRAME_HEADER : 0;
		if (avg > *max_avg_frame)
			*max_avg_frame = avg;
		if (nvar == 0)
			continue;
		uint64_t other = frames * per_frame + n * per_rec + 2 * ((n * C + 7) / 8);
		if (payload > other)
			s += payload - other;
	}
	return s;
}

int irs__memory_estimate(const irs_collection *c, uint32_t base, uint32_t upto, const bool *enabled,
			 uint32_t shards, uint64_t *bytes)
{
	*bytes = 0;
	if (!c || shards == 0 || base >= c->nbackups || upto >= c->nbackups || upto < base ||
	    c->backups[base].kind != IRS_BACKUP_FULL)
		return IRS_EINVAL;
	uint64_t total = 0;
	uint64_t max_frame = 0;
	bool any_frame = false;
	for (uint32_t ti = 0; ti < c->ntables; ti++) {
		if (enabled && !enabled[ti])
			continue;
		const Increstore__TableBackup *tb = irs__backup_table(&c->backups[base], ti);
		if (!tb)
			continue;
		const irs_schema_table *t = &c->tables[ti];
		uint64_t R = 0;
		for (size_t i = 0; i < tb->n_segments; i++) {
			R += tb->segments[i]->records;
			if (tb->segments[i]->frames)
				any_frame = true;
		}
		if (R == 0)
			continue;
		uint64_t head = 3 + t->value_bitmap_bytes;
		bool strings = false;
		for (uint32_t c2 = 0; c2 < t->ncols; c2++) {
			const irs_schema_column *col = &t->cols[c2];
			uint8_t w = irs__type_width(col->type);
			if (col->is_key)
				head += w ? key_width(col->type) : 2;
			else
				head += w ? w : 4;
			if (!w)
				strings = true;
		}
		uint64_t blobs = R * round8(head);
		if (strings) {
			uint64_t s = R * head + string_bytes_lb(t, tb, &max_frame);
			if (s > blobs)
				blobs = s;
		} else {
			(void)string_bytes_lb(t, tb, &max_frame);
		}
		uint64_t slots = (4 * R + 2) / 3;
		total += blobs + 8 * slots;
	}
	if (any_frame) {
		total += max_frame > (64u << 10) ? max_frame : (64u << 10);
		total += IRS_REC_HEADER + IRS_MAX_KEY_BYTES + max_frame;
	}
	*bytes = total;
	return 0;
}
