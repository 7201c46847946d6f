/*
 * format.h (private): constants and readers/writers of the files of a collection.
 * docs/format.md is the full description; this header is its C view.
 *
 * FILES
 *   DIR/MANIFEST        "IRSMAN\r\n" | u32 version | u32 length | u32 crc32c | Manifest
 *   DIR/data/b<seq>-<id>/t<table>-<n>.seg  segment files: "IRSSEG\r\n" | u32 version | u32 table | frames
 *   frame               u32 length | u32 crc32c(payload) | payload (a ChangeBatch)
 * All integers little-endian. The CRC of the manifest covers its payload.
 */
#ifndef IRS_FORMAT_FORMAT_H
#define IRS_FORMAT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/schema.h"
#include "proto/collection.pb-c.h"

#define IRS_FORMAT_VERSION 1u
#define IRS_MANIFEST_MAGIC "IRSMAN\r\n"
#define IRS_SEGMENT_MAGIC "IRSSEG\r\n"
#define IRS_MANIFEST_HEADER 20u
#define IRS_SEGMENT_HEADER 16u
#define IRS_FRAME_HEADER 8u
#define IRS_MAX_FRAME (64u << 20)            /* bytes of one frame payload */
#define IRS_MAX_MANIFEST (256u << 20)        /* bytes of the manifest payload */
#define IRS_MAX_BATCH_ROWS (1u << 20)        /* changes in one frame */

/* ---- manifest (format/manifest.c) */

/* Reads and unpacks DIR/MANIFEST; *out is freed with irs__manifest_free. */
int irs__manifest_read(const char *dir, irs_mem *mem, Increstore__Manifest **out, irs_error *err);
void irs__manifest_free(irs_mem *mem, Increstore__Manifest *m);
/* Writes DIR/MANIFEST atomically: MANIFEST.tmp, fsync, rename, fsync of DIR. */
int irs__manifest_write(const char *dir, const Increstore__Manifest *m, bool sync, irs_error *err);

/* A ProtobufCAllocator over an irs_mem (for unpack). */
void irs__pb_allocator(irs_mem *mem, ProtobufCAllocator *out);

/*
 * A ProtobufCAllocator for unpacking one message that holds at most `limit` bytes at
 * once (manifest.c, "BOUNDED UNPACK"). Blocks are freed as irs__pb_allocator's are, so
 * the message is freed with either. After a failed unpack, irs__pb_budget_error tells
 * the two causes apart: over the budget (IRS_ECORRUPT, a message no writer makes) or
 * out of memory (IRS_ENOMEM / IRS_ELIMIT); 0 otherwise. IRS_PB_BUDGET(len) is the
 * manifest's budget: the widest real manifests decode to about 8 times their length.
 */
#define IRS_PB_BUDGET(len) ((size_t)(len) * 16u + (4u << 20))
typedef struct irs_pb_budget {
	irs_mem *mem;
	size_t used, peak, limit;   /* bytes held now, at most so far, allowed */
	bool over, failed;
} irs_pb_budget;
void irs__pb_budget_init(irs_pb_budget *b, irs_mem *mem, size_t limit, ProtobufCAllocator *out);
int irs__pb_budget_error(const irs_pb_budget *b, const char *what, irs_error *err);
/*
 * protobuf-c hands a string field over as a C string, so a NUL byte inside one would
 * cut a name or a path short without a word. Walks the wire bytes of a message that
 * unpacked (buf, len; base = their offset in the file) by its descriptor: IRS_ECORRUPT
 * naming the first string field that holds a NUL and its byte offset, else 0.
 */
int irs__pb_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len, size_t base,
			  irs_error *err);

/* ---- segments (format/segment.c) */

/* Sequential reader of one segment file, with one reusable frame buffer. */
typedef struct irs_segment_reader {
	irs_mem *mem;
	int fd;
	const char *path;      /* relative path, for messages */
	uint64_t size;         /* file size from fstat */
	uint64_t offset;       /* byte offset of the next frame */
	uint32_t frame_index;  /* index of the next frame */
	uint32_t crc;          /* running CRC32C of the whole file read so far */
	uint8_t *buf;
	size_t cap;
} irs_segment_reader;

/*
 * Opens DIR/rel (rel already checked by the manifest validation to stay inside DIR;
 * opened with O_NOFOLLOW) and checks its header against `table`.
 */
int irs__segment_open(irs_segment_reader *r, irs_mem *mem, int dirfd, const char *rel,
		      uint32_t table, irs_error *err);
/*
 * Reads the next frame: *payload and *len point into the reader's buffer until the next
 * call. Returns 1 for a frame, 0 at a clean end of file, or an error (ECORRUPT with
 * frame index and byte offset: truncation, length beyond the file or IRS_MAX_FRAME,
 * CRC mismatch; EIO).
 */
int irs__segment_next(irs_segment_reader *r, const uint8_t **payload, size_t *len, irs_error *err);
void irs__segment_close(irs_segment_reader *r);

/* Writer of one segment file (data is fsynced by close). */
typedef struct irs_segment_writer {
	int fd;
	const char *rel;        /* its path (the caller's string, alive while it writes) */
	uint64_t size;
	uint32_t crc;
	uint32_t frames;
	uint64_t records;
} irs_segment_writer;

int irs__segment_create(irs_segment_writer *w, int dirfd, const char *rel, uint32_t table,
			irs_error *err);
int irs__segment_append(irs_segment_writer *w, const uint8_t *payload, size_t len,
			uint32_t records, irs_error *err);
/* fsyncs (when sync) and closes; the file stays. */
int irs__segment_finish(irs_segment_writer *w, bool sync, irs_error *err);
/* Closes without syncing (on failure paths; the caller removes the file). */
void irs__segment_discard(irs_segment_writer *w);

/* Writes all of buf at fd's position; EIO with errno text on failure. */
int irs__write_all(int fd, const void *buf, size_t len, const char *what, irs_error *err);
/* mkdir -p for a path relative to dirfd. */
int irs__mkdirs_at(int dirfd, const char *rel, irs_error *err);
int irs__fsync_dir_at(int dirfd, const char *rel, irs_error *err);
/* fsync of the directory holding path, so a rename into it is durable. */
int irs__fsync_parent(const char *path, irs_error *err);
/* Removes a directory tree (plain files and directories; links are not followed). */
void irs__remove_tree_at(int dirfd, const char *rel);


/* ---- parallel reading: a segment's frame index (format/segment.c) */

/* One frame of a segment: where its payload is. */
typedef struct irs_frame_ref {
	uint64_t offset;     /* of the frame header */
	uint32_t length;     /* of the payload */
	uint32_t crc;        /* stored CRC32C of the payload */
	uint32_t index;      /* frame number in the segment */
	uint32_t segment;    /* caller's segment number */
} irs_frame_ref;

/*
 * Opens a segment (as irs__segment_open) and lists its frames by reading only the
 * 8-byte frame headers, checking every length against the file and IRS_MAX_FRAME.
 * Appends to *frames (grown with irs_mem) and returns the open fd in *fd_out, which
 * the caller closes. Payload CRCs are checked by irs__frame_read.
 */
int irs__segment_index(irs_mem *mem, int dirfd, const char *rel, uint32_t table, uint32_t segment,
		       irs_frame_ref **frames, size_t *nframes, size_t *cap, int *fd_out,
		       irs_error *err);

/* Reads one indexed frame's payload into *buf (grown as needed) and checks its CRC. f
 * points into the array irs__segment_index filled: on a CRC mismatch the frames before
 * it in its segment (f - f->index .. f - 1) are checked in order and the first that
 * fails is the one named. */
int irs__frame_read(irs_mem *mem, int fd, const char *rel, const irs_frame_ref *f, uint8_t **buf,
		    size_t *cap, irs_error *err);

/* Grows a frame buffer (*buf, *cap bytes) to hold `need` bytes, as irs__frame_read
 * would for a frame of that length. IRS_ENOMEM/IRS_ELIMIT, the buffer as it was. */
int irs__frame_buf_reserve(irs_mem *mem, uint8_t **buf, size_t *cap, size_t need, irs_error *err);
#endif
