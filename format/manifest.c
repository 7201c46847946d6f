/*
 * manifest.c: reading and atomically replacing DIR/MANIFEST.
 *
 * FORMAT
 *     offset 0   "IRSMAN\r\n"     magic
 *     offset 8   u32 version      IRS_FORMAT_VERSION
 *     offset 12  u32 length       of the payload, at most IRS_MAX_MANIFEST
 *     offset 16  u32 crc32c       of the payload
 *     offset 20  payload          a protobuf increstore.Manifest (proto/collection.proto)
 * The file must end exactly after the payload.
 *
 * CRASH SAFETY: a new manifest is written to MANIFEST.tmp, fsynced, renamed over
 * MANIFEST (atomic on POSIX file systems) and the directory is fsynced, so after a
 * crash the directory holds the old manifest or the new one, never a mix. Segment
 * files are written and fsynced before the manifest that names them (writer.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"
#include "format.h"

static void *pb_alloc(void *ctx, size_t size)
{
	/* protobuf-c frees without a size, so each block carries its own. */
	size_t *p = irs__malloc(ctx, size + sizeof(size_t) * 2);
	if (!p)
		return NULL;
	p[0] = size + sizeof(size_t) * 2;
	return p + 2;
}

static void pb_free(void *ctx, void *ptr)
{
	if (!ptr)
		return;
	size_t *p = (size_t *)ptr - 2;
	irs__free(ctx, p, p[0]);
}

void irs__pb_allocator(irs_mem *mem, ProtobufCAllocator *out)
{
	out->alloc = pb_alloc;
	out->free = pb_free;
	out->allocator_data = mem;
}

/*
 * BOUNDED UNPACK. protobuf-c's unpack allocates for every field it sees before any of
 * our checks run: a struct per sub-message, an array slot per repeated entry, a
 * 32-byte scan record per field. An empty sub-message takes 2 bytes on the wire and
 * over 100 bytes in memory, so a hand-made message of millions of them would
 * reserve gigabytes. The budget allocator counts the bytes it holds and refuses to
 * go past a limit the caller sets from the message's length: real messages decode
 * to well under it (measured: tests/test_bombs.c), a bomb is refused as corrupt.
 */
static void *pb_alloc_budget(void *ctx, size_t size)
{
	irs_pb_budget *b = ctx;
	size_t total = size + sizeof(size_t) * 2;
	if (total > b->limit - b->used) {
		b->over = true;
		return NULL;
	}
	void *p = pb_alloc(b->mem, size);
	if (!p) {
		b->failed = true;
		return NULL;
	}
	b->used += total;
	if (b->used > b->peak)
		b->peak = b->used;
	return p;
}

static void pb_free_budget(void *ctx, void *ptr)
{
	irs_pb_budget *b = ctx;
	if (!ptr)
		return;
	b->used -= ((size_t *)ptr - 2)[0];
	pb_free(b->mem, ptr);
}

void irs__pb_budget_init(irs_pb_budget *b, irs_mem *mem, size_t limit, ProtobufCAllocator *out)
{
	memset(b, 0, sizeof *b);
	b->mem = mem;
	b->limit = limit;
	out->alloc = pb_alloc_budget;
	out->free = pb_free_budget;
	out->allocator_data = b;
}

int irs__pb_budget_error(const irs_pb_budget *b, const char *what, irs_error *err)
{
	if (b->over)
		return irs__seterr(err, IRS_ECORRUPT,
				   "%s decodes to more than %zu bytes: not a message this format writes",
				   what, b->limit);
	if (b->failed)
		return irs__seterr(err, b->mem->limit && irs__mem_over_limit(b->mem) ? IRS_ELIMIT : IRS_ENOMEM,
				   "out of memory decoding %s", what);
	return 0;
}

/* Reads a varint at p[*i..len); false when it runs past len or 10 bytes. */
static bool wire_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *i < len; shift += 7) {
		uint8_t b = p[(*i)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* Where (base + offset) the first NUL inside a string field of the message p[0..len)
 * of type d is, looking into its sub-messages; SIZE_MAX when there is none. */
static size_t find_nul_string(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, size_t base,
			      const char **field, unsigned depth)
{
	size_t i = 0;
	while (i < len) {
		uint64_t key, n;
		if (!wire_varint(p, len, &i, &key))
			return SIZE_MAX;
		switch (key & 7) {
		case 0:
			if (!wire_varint(p, len, &i, &n))
				return SIZE_MAX;
			continue;
		case 1: i += 8; continue;
		case 5: i += 4; continue;
		case 2: break;
		default: return SIZE_MAX; /* groups: unpack refused them */
		}
		if (!wire_varint(p, len, &i, &n) || n > len - i)
			return SIZE_MAX;
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
		if (f && f->type == PROTOBUF_C_TYPE_STRING) {
			const uint8_t *z = memchr(p + i, 0, (size_t)n);
			if (z) {
				*field = f->name;
				return base + (size_t)(z - p);
			}
		} else if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && depth < 64) {
			size_t at = find_nul_string(f->descriptor, p + i, (size_t)n, base + i, field, depth + 1);
			if (at != SIZE_MAX)
				return at;
		}
		i += (size_t)n;
	}
	return SIZE_MAX;
}

int irs__pb_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len, size_t base,
			  irs_error *err)
{
	const char *field = NULL;
	size_t at = find_nul_string(d, buf, len, base, &field, 0);
	if (at == SIZE_MAX)
		return 0;
	return irs__seterr(err, IRS_ECORRUPT, "string field %s holds a NUL byte at byte %zu", field, at);
}

int irs__manifest_read(const char *dir, irs_mem *mem, Increstore__Manifest **out, irs_error *err)
{
	char path[4096];
	*out = NULL;
	if (snprintf(path, sizeof path, "%s/MANIFEST", dir) >= (int)sizeof path)
		return irs__seterr(err, IRS_EINVAL, "collection path too long: %s", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT) {
			struct stat st;
			if (stat(dir, &st) != 0)
				return irs__seterr(err, IRS_EIO, "%s: no such collection directory", dir);
			return irs__seterr(err, IRS_ECORRUPT, "%s: not a collection (no MANIFEST)", dir);
		}
		return irs__seterr(err, IRS_EIO, "%s: cannot open: %s", path, strerror(e));
	}
	struct stat st;
	uint8_t hdr[IRS_MANIFEST_HEADER];
	ssize_t n = fstat(fd, &st) == 0 ? pread(fd, hdr, sizeof hdr, 0) : -1;
	int rc = 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (n < 0) {
		rc = irs__seterr(err, IRS_EIO, "%s: read failed: %s", path, strerror(errno));
		goto done;
	}
	if ((size_t)n < sizeof hdr) {
		rc = irs__seterr(err, IRS_ECORRUPT, "%s: truncated header (%zd of %u bytes) at byte 0", path, n,
				 IRS_MANIFEST_HEADER);
		goto done;
	}
	if (memcmp(hdr, IRS_MANIFEST_MAGIC, 8) != 0) {
		rc = irs__seterr(err, IRS_ECORRUPT, "%s: bad magic at byte 0", path);
		goto done;
	}
	if (irs__load_le32(hdr + 8) != IRS_FORMAT_VERSION) {
		rc = irs__seterr(err, IRS_ECORRUPT, "%s: unknown format version %u at byte 8", path,
				 irs__load_le32(hdr + 8));
		goto done;
	}
	len = irs__load_le32(hdr + 12);
	if (len > IRS_MAX_MANIFEST || (uint64_t)st.st_size != IRS_MANIFEST_HEADER + (uint64_t)len) {
		rc = irs__seterr(err, IRS_ECORRUPT,
				 "%s: payload length %zu at byte 12 does not match the file size %llu", path,
				 len, (unsigned long long)st.st_size);
		goto done;
	}
	buf = irs__malloc(mem, len);
	if (!buf) {
		rc = irs__seterr(err, IRS_ENOMEM, "%s: out of memory reading its %zu bytes", path, len);
		goto done;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t k = pread(fd, buf + got, len - got, (off_t)(IRS_MANIFEST_HEADER + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			rc = irs__seterr(err, k < 0 ? IRS_EIO : IRS_ECORRUPT, "%s: read failed at byte %zu", path,
					 IRS_MANIFEST_HEADER + got);
			goto done;
		}
		got += (size_t)k;
	}
	uint32_t crc = irs__crc32c(0, buf, len);
	if (crc != irs__load_le32(hdr + 16)) {
		rc = irs__seterr(err, IRS_ECORRUPT, "%s: CRC32C mismatch (stored %08x, computed %08x) at byte 16",
				 path, irs__load_le32(hdr + 16), crc);
		goto done;
	}
	irs_pb_budget budget;
	ProtobufCAllocator pa;
	irs__pb_budget_init(&budget, mem, IRS_PB_BUDGET(len), &pa);
	*out = increstore__manifest__unpack(&pa, len, buf);
	if (!*out && (budget.over || budget.failed)) {
		rc = irs__pb_budget_error(&budget, "the payload at byte 20", err);
		irs__errprefix(err, "%s", path);
	} else if (!*out) {
		rc = irs__seterr(err, IRS_ECORRUPT, "%s: payload at byte 20 is not a valid Manifest message",
				 path);
	} else if ((rc = irs__pb_check_strings(&increstore__manifest__descriptor, buf, len, IRS_MANIFEST_HEADER,
					       err)) != 0) {
		irs__errprefix(err, "%s", path);
		irs__manifest_free(mem, *out);
		*out = NULL;
	}
done:
	irs__free(mem, buf, len);
	close(fd);
	return rc;
}

void irs__manifest_free(irs_mem *mem, Increstore__Manifest *m)
{
	if (!m)
		return;
	ProtobufCAllocator pa;
	irs__pb_allocator(mem, &pa);
	increstore__manifest__free_unpacked(m, &pa);
}

int irs__manifest_write(const char *dir, const Increstore__Manifest *m, bool sync, irs_error *err)
{
	size_t len = increstore__manifest__get_packed_size(m);
	if (len > IRS_MAX_MANIFEST)
		return irs__seterr(err, IRS_EINVAL, "manifest of %zu bytes exceeds the limit", len);
	irs_mem *mem = irs__mem_default();
	uint8_t *buf = irs__malloc(mem, IRS_MANIFEST_HEADER + len);
	if (!buf)
		return irs__seterr(err, IRS_ENOMEM, "%s/MANIFEST: out of memory writing %zu bytes", dir, len);
	increstore__manifest__pack(m, buf + IRS_MANIFEST_HEADER);
	memcpy(buf, IRS_MANIFEST_MAGIC, 8);
	irs__store_le32(buf + 8, IRS_FORMAT_VERSION);
	irs__store_le32(buf + 12, (uint32_t)len);
	irs__store_le32(buf + 16, irs__crc32c(0, buf + IRS_MANIFEST_HEADER, len));

	int rc = 0;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = irs__seterr(err, IRS_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
		goto out;
	}
	int fd = openat(dirfd, "MANIFEST.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = irs__seterr(err, IRS_EIO, "%s/MANIFEST.tmp: cannot create: %s", dir, strerror(errno));
		goto out_dir;
	}
	char tmpname[4200];
	snprintf(tmpname, sizeof tmpname, "%s/MANIFEST.tmp", dir);
	rc = irs__write_all(fd, buf, IRS_MANIFEST_HEADER + len, tmpname, err);
	if (!rc && sync && fsync(fd) != 0)
		rc = irs__seterr(err, IRS_EIO, "%s/MANIFEST.tmp: fsync failed: %s", dir, strerror(errno));
	if (close(fd) != 0 && !rc)
		rc = irs__seterr(err, IRS_EIO, "%s/MANIFEST.tmp: close failed: %s", dir, strerror(errno));
	if (!rc && renameat(dirfd, "MANIFEST.tmp", dirfd, "MANIFEST") != 0)
		rc = irs__seterr(err, IRS_EIO, "%s: rename of MANIFEST.tmp failed: %s", dir, strerror(errno));
	if (rc)
		unlinkat(dirfd, "MANIFEST.tmp", 0);
	else if (sync && fsync(dirfd) != 0)
		rc = irs__seterr(err, IRS_EIO, "%s: fsync of the directory failed: %s", dir, strerror(errno));
out_dir:
	close(dirfd);
out:
	irs__free(mem, buf, IRS_MANIFEST_HEADER + len);
	return rc;
}
