/*
 * segment_scan.c: one segment read frame by frame and decoded into a sink, with every
 * error located (backup, segment, frame, byte offset). The restore's own path does
 * not use it (it decodes straight into the shards' runs, shard/decode.c).
 */
#include "batch.h"
#include "common/cancel.h"
#include "common/error.h"
#include "format.h"

int irs__segment_scan(irs_segment_scan *s, irs_batch_decoder *d, irs_rec_sink sink, void *ctx,
		      irs_error *err)
{
	s->frame = s->frames = s->crc = 0;
	s->records = 0;
	irs_segment_reader r;
	int rc = irs__segment_open(&r, s->mem, s->dirfd, s->path, s->table, err);
	if (rc) {
		irs__errprefix(err, "backup %s", s->backup);
		return rc;
	}
	for (;;) {
		const uint8_t *payload;
		size_t len;
		uint64_t off = r.offset;
		rc = irs__segment_next(&r, &payload, &len, err);
		if (rc <= 0) {
			if (rc)
				irs__errprefix(err, "backup %s", s->backup);
			break;
		}
		if (irs__cancel_requested(s->cancel)) {
			rc = irs__seterr(err, IRS_ECANCELED, "cancelled reading backup %s", s->backup);
			break;
		}
		s->frame = r.frame_index - 1;
		uint32_t n;
		rc = irs__batch_decode(d, s->t, payload, len, s->full, 0, sink, ctx, &n, err);
		if (rc) {
			irs__errprefix(err, "backup %s: segment %s: frame %u at byte %llu", s->backup, s->path,
				       s->frame, (unsigned long long)off);
			break;
		}
		s->records += n;
	}
	s->frames = r.frame_index;
	s->crc = r.crc;
	irs__segment_close(&r);
	return rc;
}
