/*
 * segment.c: reading and writing segment files.
 *
 * FORMAT (docs/format.md, "Segment files")
 *     offset 0   "IRSSEG\r\n"          8 bytes of magic
 *     offset 8   u32 version           IRS_FORMAT_VERSION
 *     offset 12  u32 table             index of the table in the manifest
 *     offset 16  frames, back to back, to the end of the file:
 *                u32 length | u32 crc32c(payload) | payload[length]
 *
 * TRUST: the reader believes nothing. A frame's length is bounded by IRS_MAX_FRAME and
 * by the bytes left in the file *before* any buffer grows, so a damaged length never
 * causes a large allocation; the CRC is checked before the payload is decoded. Every
 * error names the file, the frame index and the byte offset of the frame.
 */
#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"

int irs__write_all(int fd, const void *buf, size_t len, const char *what, irs_error *err)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return irs__seterr(err, IRS_EIO, "%s: write failed: %s", what, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes at off; short read = truncated. */
static int read_at(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*got = done;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

int irs__segment_open(irs_segment_reader *r, irs_mem *mem, int dirfd, const char *rel,
		      uint32_t table, irs_error *err)
{
	memset(r, 0, sizeof *r);
	r->mem = mem;
	r->path = rel;
	r->fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (r->fd < 0) {
		int e = errno;
		return irs__seterr(err, e == ENOENT || e == ELOOP ? IRS_ECORRUPT : IRS_EIO,
				   "segment %s: cannot open: %s", rel,
				   e == ELOOP ? "is a symbolic link" : strerror(e));
	}
	struct stat st;
	if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		irs__segment_close(r);
		return irs__seterr(err, IRS_ECORRUPT, "segment %s: not a regular file", rel);
	}
	r->size = (uint64_t)st.st_size;
	uint8_t hdr[IRS_SEGMENT_HEADER];
	size_t got;
	if (read_at(r->fd, hdr, sizeof hdr, 0, &got) != 0) {
		int e = errno;
		irs__segment_close(r);
		return irs__seterr(err, IRS_EIO, "segment %s: read failed at byte 0: %s", rel, strerror(e));
	}
	int rc = 0;
	if (got < sizeof hdr)
		rc = irs__seterr(err, IRS_ECORRUPT, "segment %s: truncated header (%zu of %u bytes) at byte 0",
				 rel, got, IRS_SEGMENT_HEADER);
	else if (memcmp(hdr, IRS_SEGMENT_MAGIC, 8) != 0)
		rc = irs__seterr(err, IRS_ECORRUPT, "segment %s: bad magic at byte 0", rel);
	else if (irs__load_le32(hdr + 8) != IRS_FORMAT_VERSION)
		rc = irs__seterr(err, IRS_ECORRUPT, "segment %s: unknown format version %u at byte 8", rel,
				 irs__load_le32(hdr + 8));
	else if (irs__load_le32(hdr + 12) != table)
		rc = irs__seterr(err, IRS_ECORRUPT,
				 "segment %s: holds table %u but the manifest lists it for table %u (byte 12)",
				 rel, irs__load_le32(hdr + 12), table);
	if (rc) {
		irs__segment_close(r);
		return rc;
	}
	r->crc = irs__crc32c(0, hdr, sizeof hdr);
	r->offset = IRS_SEGMENT_HEADER;
	return 0;
}

int irs__segment_next(irs_segment_reader *r, const uint8_t **payload, size_t *len, irs_error *err)
{
	if (r->offset == r->size)
		return 0;
	uint64_t off = r->offset;
	uint32_t fi = r->frame_index;
	uint64_t left = r->size - off;
	uint8_t hdr[IRS_FRAME_HEADER];
	size_t got;
	if (left < IRS_FRAME_HEADER)
		return irs__seterr(err, IRS_ECORRUPT,
				   "segment %s: frame %u at byte %llu: truncated frame header (%llu bytes left)",
				   r->path, fi, (unsigned long long)off, (unsigned long long)left);
	if (read_at(r->fd, hdr, sizeof hdr, off, &got) != 0 || got != sizeof hdr)
		return irs__seterr(err, IRS_EIO, "segment %s: frame %u at byte %llu: read failed: %s",
				   r->path, fi, (unsigned long long)off,
				   got != sizeof hdr ? "file shrank while reading" : strerror(errno));
	uint32_t flen = irs__load_le32(hdr);
	uint32_t fcrc = irs__load_le32(hdr + 4);
	if (flen > IRS_MAX_FRAME)
		return irs__seterr(err, IRS_ECORRUPT,
				   "segment %s: frame %u at byte %llu: length %u exceeds the %u-byte limit",
				   r->path, fi, (unsigned long long)off, flen, IRS_MAX_FRAME);
	if (flen > left - IRS_FRAME_HEADER)
		return irs__seterr(err, IRS_ECORRUPT,
				   "segment %s: frame %u at byte %llu: length %u runs past the end of the file "
				   "(%llu bytes left): truncated",
				   r->path, fi, (unsigned long long)off, flen,
				   (unsigned long long)(left - IRS_FRAME_HEADER));
	if (flen > r->cap) {
		size_t ncap = r->cap ? r->cap : 64 * 1024;
		while (ncap < flen)
			ncap *= 2;
		uint8_t *nb = irs__realloc(r->mem, r->buf, r->cap, ncap);
		if (!nb)
			return irs__seterr(err, r->mem->limit && irs__mem_over_limit(r->mem) ? IRS_ELIMIT : IRS_ENOMEM,
					   "segment %s: frame %u: no memory for a %u-byte frame", r->path, fi, flen);
		r->buf = nb;
		r->cap = ncap;
	}
	if (read_at(r->fd, r->buf, flen, off + IRS_FRAME_HEADER, &got) != 0 || got != flen)
		return irs__seterr(err, IRS_EIO, "segment %s: frame %u at byte %llu: read failed: %s",
				   r->path, fi, (unsigned long long)off,
				   got != flen ? "file shrank while reading" : strerror(errno));
	uint32_t crc = irs__crc32c(0, r->buf, flen);
	if (crc != fcrc)
		return irs__seterr(err, IRS_ECORRUPT,
				   "segment %s: frame %u at byte %llu: CRC32C mismatch (stored %08x, computed %08x)",
				   r->path, fi, (unsigned long long)off, fcrc, crc);
	r->crc = irs__crc32c(r->crc, hdr, sizeof hdr);
	r->crc = irs__crc32c(r->crc, r->buf, flen);
	r->offset = off + IRS_FRAME_HEADER + flen;
	r->frame_index++;
	*payload = r->buf;
	*len = flen;
	return 1;
}

void irs__segment_close(irs_segment_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	irs__free(r->mem, r->buf, r->cap);
	r->buf = NULL;
	r->cap = 0;
}

int irs__segment_create(irs_segment_writer *w, int dirfd, const char *rel, uint32_t table,
			irs_error *err)
{
	memset(w, 0, sizeof *w);
	w->rel = rel;
	w->fd = openat(dirfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (w->fd < 0)
		return irs__seterr(err, IRS_EIO, "segment %s: cannot create: %s", rel, strerror(errno));
	uint8_t hdr[IRS_SEGMENT_HEADER];
	memcpy(hdr, IRS_SEGMENT_MAGIC, 8);
	irs__store_le32(hdr + 8, IRS_FORMAT_VERSION);
	irs__store_le32(hdr + 12, table);
	int rc = irs__write_all(w->fd, hdr, sizeof hdr, rel, err);
	if (rc) {
		irs__segment_discard(w);
		return rc;
	}
	w->crc = irs__crc32c(0, hdr, sizeof hdr);
	w->size = sizeof hdr;
	return 0;
}

int irs__segment_append(irs_segment_writer *w, const uint8_t *payload, size_t len,
			uint32_t records, irs_error *err)
{
	if (len > IRS_MAX_FRAME)
		return irs__seterr(err, IRS_EINVAL, "frame of %zu bytes exceeds the %u-byte limit", len,
				   IRS_MAX_FRAME);
	uint8_t hdr[IRS_FRAME_HEADER];
	irs__store_le32(hdr, (uint32_t)len);
	irs__store_le32(hdr + 4, irs__crc32c(0, payload, len));
	int rc = irs__write_all(w->fd, hdr, sizeof hdr, w->rel, err);
	if (!rc)
		rc = irs__write_all(w->fd, payload, len, w->rel, err);
	if (rc)
		return rc;
	w->crc = irs__crc32c(w->crc, hdr, sizeof hdr);
	w->crc = irs__crc32c(w->crc, payload, len);
	w->size += sizeof hdr + len;
	w->frames++;
	w->records += records;
	return 0;
}

int irs__segment_finish(irs_segment_writer *w, bool sync, irs_error *err)
{
	int rc = 0;
	if (sync && fsync(w->fd) != 0)
		rc = irs__seterr(err, IRS_EIO, "%s: fsync failed: %s", w->rel, strerror(errno));
	if (close(w->fd) != 0 && !rc)
		rc = irs__seterr(err, IRS_EIO, "%s: close failed: %s", w->rel, strerror(errno));
	w->fd = -1;
	return rc;
}

void irs__segment_discard(irs_segment_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

int irs__mkdirs_at(int dirfd, const char *rel, irs_error *err)
{
	char path[4096];
	size_t n = strlen(rel);
	if (n >= sizeof path)
		return irs__seterr(err, IRS_EINVAL, "path too long: %s", rel);
	memcpy(path, rel, n + 1);
	for (char *p = path + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdirat(dirfd, path, 0755) != 0 && errno != EEXIST)
				return irs__seterr(err, IRS_EIO, "cannot create directory %s: %s", path,
						   strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int irs__fsync_dir_at(int dirfd, const char *rel, irs_error *err)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return irs__seterr(err, IRS_EIO, "cannot open directory %s: %s", rel, strerror(errno));
	int rc = 0;
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = irs__seterr(err, IRS_EIO, "fsync of directory %s failed: %s", rel, strerror(errno));
	close(fd);
	return rc;
}

int irs__fsync_parent(const char *path, irs_error *err)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return irs__fsync_dir_at(AT_FDCWD, ".", err);
	if (slash == path)
		return irs__fsync_dir_at(AT_FDCWD, "/", err);
	char dir[4096];
	if ((size_t)(slash - path) >= sizeof dir)
		return irs__seterr(err, IRS_EIO, "%s: path too long", path);
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	return irs__fsync_dir_at(AT_FDCWD, dir, err);
}

int irs__segment_index(irs_mem *mem, int dirfd, const char *rel, uint32_t table, uint32_t segment,
		       irs_frame_ref **frames, size_t *nframes, size_t *cap, int *fd_out,
		       irs_error *err)
{
	irs_segment_reader r;
	int rc = irs__segment_open(&r, mem, dirfd, rel, table, err);
	if (rc)
		return rc;
	uint64_t off = IRS_SEGMENT_HEADER;
	uint32_t fi = 0;
	const size_t first = *nframes;
	while (off < r.size) {
		uint64_t left = r.size - off;
		uint8_t hdr[IRS_FRAME_HEADER];
		size_t got;
		if (left < IRS_FRAME_HEADER) {
			rc = irs__seterr(err, IRS_ECORRUPT,
					 "segment %s: frame %u at byte %llu: truncated frame header (%llu bytes left)",
					 rel, fi, (unsigned long long)off, (unsigned long long)left);
			break;
		}
		if (read_at(r.fd, hdr, sizeof hdr, off, &got) != 0 || got != sizeof hdr) {
			rc = irs__seterr(err, IRS_EIO, "segment %s: frame %u at byte %llu: read failed", rel, fi,
					 (unsigned long long)off);
			break;
		}
		uint32_t flen = irs__load_le32(hdr);
		if (flen > IRS_MAX_FRAME || flen > left - IRS_FRAME_HEADER) {
			rc = irs__seterr(err, IRS_ECORRUPT,
					 "segment %s: frame %u at byte %llu: length %u runs past the end of the "
					 "file (%llu bytes left) or the %u-byte limit: truncated or damaged",
					 rel, fi, (unsigned long long)off, flen,
					 (unsigned long long)(left - IRS_FRAME_HEADER), IRS_MAX_FRAME);
			break;
		}
		if (*nframes == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			irs_frame_ref *nf = irs__realloc(mem, *frames, sizeof(irs_frame_ref) * *cap,
							 sizeof(irs_frame_ref) * ncap);
			if (!nf) {
				rc = irs__seterr(err, IRS_ENOMEM, "out of memory indexing segment %s", rel);
				break;
			}
			*frames = nf;
			*cap = ncap;
		}
		irs_frame_ref *f = &(*frames)[(*nframes)++];
		f->offset = off;
		f->length = flen;
		f->crc = irs__load_le32(hdr + 4);
		f->index = fi++;
		f->segment = segment;
		off += IRS_FRAME_HEADER + (uint64_t)flen;
	}
	if (rc == IRS_ECORRUPT && *nframes > first) {
		/* A damaged length sends the walk into the middle of a frame, whose bytes then
		 * read as a bad header: the frame before, whose CRC covers the damage, is the
		 * one to name (as a sequential reader does). */
		uint8_t *buf = NULL;
		size_t bcap = 0;
		irs_error prev;
		if (irs__frame_read(mem, r.fd, rel, &(*frames)[*nframes - 1], &buf, &bcap, &prev) == IRS_ECORRUPT &&
		    err)
			*err = prev;
		irs__free(mem, buf, bcap);
	}
	if (rc) {
		irs__segment_close(&r);
		return rc;
	}
	*fd_out = r.fd;
	r.fd = -1;
	irs__segment_close(&r);
	return 0;
}

int irs__frame_buf_reserve(irs_mem *mem, uint8_t **buf, size_t *cap, size_t need, irs_error *err)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 64 * 1024;
	while (ncap < need)
		ncap *= 2;
	uint8_t *nb = irs__realloc(mem, *buf, *cap, ncap);
	if (!nb)
		return irs__seterr(err, mem->limit && irs__mem_over_limit(mem) ? IRS_ELIMIT : IRS_ENOMEM,
				   "no memory for a %zu-byte frame", need);
	*buf = nb;
	*cap = ncap;
	return 0;
}

static int frame_read_one(irs_mem *mem, int fd, const char *rel, const irs_frame_ref *f, uint8_t **buf,
			  size_t *cap, irs_error *err)
{
	int rc = irs__frame_buf_reserve(mem, buf, cap, f->length, err);
	if (rc) {
		irs__errprefix(err, "segment %s: frame %u", rel, f->index);
		return rc;
	}
	size_t got;
	if (read_at(fd, *buf, f->length, f->offset + IRS_FRAME_HEADER, &got) != 0 || got != f->length)
		return irs__seterr(err, IRS_EIO, "segment %s: frame %u at byte %llu: read failed", rel,
				   f->index, (unsigned long long)f->offset);
	uint32_t crc = irs__crc32c(0, *buf, f->length);
	if (crc != f->crc)
		return irs__seterr(err, IRS_ECORRUPT,
				   "segment %s: frame %u at byte %llu: CRC32C mismatch (stored %08x, computed %08x)",
				   rel, f->index, (unsigned long long)f->offset, f->crc, crc);
	return 0;
}

/*
 * A damaged frame length moves every later frame header into other bytes, and the walk
 * of irs__segment_index may still end exactly at the end of the file: frames that do not
 * exist then fail their CRCs too, and the shards read frames in no fixed order. The
 * damage is in the first frame that fails, so after a CRC mismatch the frames before f
 * in its segment are checked in file order and the first that fails is named, as a
 * sequential reader would. Only on this error path; if a check cannot run (no memory,
 * a read error), f stays the one named.
 */
static void name_first_bad(irs_mem *mem, int fd, const char *rel, const irs_frame_ref *f, irs_error *err)
{
	uint8_t *buf = NULL;
	size_t cap = 0;
	for (const irs_frame_ref *g = f - f->index; g < f; g++) {
		irs_error e = {0};
		int rc = frame_read_one(mem, fd, rel, g, &buf, &cap, &e);
		if (rc == IRS_ECORRUPT && err)
			*err = e;
		if (rc)
			break;
	}
	irs__free(mem, buf, cap);
}

int irs__frame_read(irs_mem *mem, int fd, const char *rel, const irs_frame_ref *f, uint8_t **buf,
		    size_t *cap, irs_error *err)
{
	int rc = frame_read_one(mem, fd, rel, f, buf, cap, err);
	if (rc == IRS_ECORRUPT && f->index > 0)
		name_first_bad(mem, fd, rel, f, err);
	return rc;
}
