/*
 * collection.c: creating, opening and validating collections, and the read-only
 * information API.
 *
 * VALIDATION ON OPEN (before anything can be applied; docs/format.md, "Validation"):
 *   - manifest framing, CRC and protobuf decode (manifest.c);
 *   - schema: 1..IRS_MAX_TABLES tables, unique non-empty UTF-8 names, known types, a
 *     non-empty primary key of distinct existing columns;
 *   - chain: the first backup is FULL; seq is 1, 2, 3, ... (a jump is a gap: a backup
 *     is missing; a step back is a reorder); each parent names the previous backup;
 *     names unique; each table at most once per backup; record counts add up;
 *   - segments: relative paths without "..", resolving inside the collection (no
 *     symbolic link may lead out), present, regular, of the recorded size; with
 *     IRS_OPEN_VERIFY_CRC, the recorded whole-file CRC32C.
 * Frame contents (and duplicate keys) are checked when the frames are read:
 * irs_collection_verify_data() reads them all; a restore checks them as it goes.
 */
#include "collection.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "common/crc32c.h"
#include "common/error.h"

/* The MANIFEST's header (length and CRC32C of the payload) plus its inode: a new
 * manifest differs here. False when it cannot be read. */
static bool manifest_identity(int dirfd, uint8_t out[28])
{
	memset(out, 0, 28);
	int fd = openat(dirfd, "MANIFEST", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && pread(fd, out, IRS_MANIFEST_HEADER, 0) == IRS_MANIFEST_HEADER;
	uint64_t ino = (uint64_t)st.st_ino;
	memcpy(out + IRS_MANIFEST_HEADER, &ino, 8);
	close(fd);
	return ok;
}

/* ---- schema */

static int name_check(const char *name, const char *what, irs_error *err)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > IRS_MAX_NAME)
		return irs__seterr(err, IRS_ESCHEMA, "%s name '%s' must be 1 to %d bytes", what,
				   name ? name : "", IRS_MAX_NAME);
	if (!irs__utf8_valid((const uint8_t *)name, n))
		return irs__seterr(err, IRS_ESCHEMA, "%s name is not valid UTF-8", what);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20)
			return irs__seterr(err, IRS_ESCHEMA, "%s name '%s' holds a control character", what,
					   name);
	return 0;
}

/*
 * A table name becomes a file name: restore --out DIR/ writes DIR/<name>.jsonl, and a
 * '/' in a name (YDB's paths, "DirA/TableA") makes a subdirectory. So besides the
 * rules of every name: no leading or trailing '/', no empty, "." or ".." component,
 * and components of at most IRS_MAX_NAME_COMPONENT bytes. Checked when a collection is
 * created and whenever one is opened, so no later step can meet a name it cannot
 * write.
 */
_Static_assert(IRS_MAX_NAME_COMPONENT == 249, "the message below says 249");

static int table_name_check(const char *name, irs_error *err)
{
	int rc = name_check(name, "table", err);
	if (rc)
		return rc;
	const char *why = NULL;
	if (name[0] == '/')
		why = "starts with '/'";
	for (const char *p = name; !why;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0)
			why = e ? "holds an empty path component ('//')" : "ends with '/'";
		else if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			why = "holds a '.' or '..' path component";
		else if (n > IRS_MAX_NAME_COMPONENT)
			why = "holds a path component longer than 249 bytes";
		if (!e)
			break;
		p = e + 1;
	}
	if (why)
		return irs__seterr(err, IRS_ESCHEMA,
				   "table name '%s' %s (table names become file names on export)", name, why);
	return 0;
}

void irs__schema_free(irs_mem *mem, irs_schema_table *t, uint32_t n)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < n; i++) {
		irs__strfree(mem, t[i].name);
		if (t[i].cols)
			for (uint32_t c = 0; c < t[i].ncols; c++)
				irs__strfree(mem, t[i].cols[c].name);
		irs__free(mem, t[i].cols, sizeof(irs_schema_column) * t[i].ncols);
		irs__free(mem, t[i].key_cols, sizeof(uint32_t) * t[i].nkey);
		irs__free(mem, t[i].value_cols, sizeof(uint32_t) * (t[i].nvalues ? t[i].nvalues : 1));
	}
	irs__free(mem, t, sizeof(irs_schema_table) * n);
}

static int table_build(irs_mem *mem, const Increstore__TableSchema *ts, uint32_t index,
		       irs_schema_table *t, irs_error *err)
{
	int rc = table_name_check(ts->name, err);
	if (rc)
		return rc;
	if (ts->n_columns == 0 || ts->n_columns > IRS_MAX_COLUMNS)
		return irs__seterr(err, IRS_ESCHEMA, "table %s: %zu columns (1 to %d allowed)", ts->name,
				   ts->n_columns, IRS_MAX_COLUMNS);
	if (ts->n_primary_key == 0 || ts->n_primary_key > ts->n_columns)
		return irs__seterr(err, IRS_ESCHEMA, "table %s: the primary key must have 1 to %zu columns",
				   ts->name, ts->n_columns);
	t->index = index;
	t->ncols = (uint32_t)ts->n_columns;
	t->nkey = (uint32_t)ts->n_primary_key;
	t->nvalues = t->ncols - t->nkey;
	t->value_bitmap_bytes = (t->nvalues + 7) / 8;
	t->name = irs__strdup(mem, ts->name);
	t->cols = irs__calloc(mem, sizeof(irs_schema_column) * t->ncols);
	t->key_cols = irs__malloc(mem, sizeof(uint32_t) * t->nkey);
	t->value_cols = irs__malloc(mem, sizeof(uint32_t) * (t->nvalues ? t->nvalues : 1));
	if (!t->name || !t->cols || !t->key_cols || !t->value_cols)
		return irs__seterr(err, IRS_ENOMEM, "out of memory reading the schema");
	for (uint32_t c = 0; c < t->ncols; c++) {
		const Increstore__Column *pc = ts->columns[c];
		rc = name_check(pc->name, "column", err);
		if (rc) {
			irs__errprefix(err, "table %s", ts->name);
			return rc;
		}
		if (!irs__type_valid((int)pc->type))
			return irs__seterr(err, IRS_ESCHEMA, "table %s column %s: unknown type %d", ts->name,
					   pc->name, (int)pc->type);
		for (uint32_t p = 0; p < c; p++)
			if (strcmp(ts->columns[p]->name, pc->name) == 0)
				return irs__seterr(err, IRS_ESCHEMA, "table %s: duplicate column %s", ts->name,
						   pc->name);
		t->cols[c].name = irs__strdup(mem, pc->name);
		if (!t->cols[c].name)
			return irs__seterr(err, IRS_ENOMEM, "out of memory reading the schema");
		t->cols[c].type = (irs_type)pc->type;
		t->cols[c].width = irs__type_width(t->cols[c].type);
	}
	for (uint32_t k = 0; k < t->nkey; k++) {
		uint32_t c = ts->primary_key[k];
		if (c >= t->ncols || t->cols[c].is_key)
			return irs__seterr(err, IRS_ESCHEMA, "table %s: primary key part %u names column %u, "
					   "which does not exist or repeats", ts->name, k, c);
		t->cols[c].is_key = true;
		t->cols[c].key_pos = k;
		t->key_cols[k] = c;
	}
	uint32_t vi = 0;
	for (uint32_t c = 0; c < t->ncols; c++) {
		if (t->cols[c].is_key)
			continue;
		t->cols[c].value_idx = vi;
		t->value_cols[vi++] = c;
	}
	return 0;
}

int irs__schema_build(irs_mem *mem, const Increstore__Manifest *m, irs_schema_table **out,
		      irs_error *err)
{
	*out = NULL;
	if (m->n_tables == 0 || m->n_tables > IRS_MAX_TABLES)
		return irs__seterr(err, IRS_ESCHEMA, "the collection has %zu tables (1 to %d allowed)",
				   m->n_tables, IRS_MAX_TABLES);
	uint32_t n = (uint32_t)m->n_tables;
	irs_schema_table *t = irs__calloc(mem, sizeof(irs_schema_table) * n);
	if (!t)
		return irs__seterr(err, IRS_ENOMEM, "out of memory reading the schema");
	for (uint32_t i = 0; i < n; i++) {
		int rc = table_build(mem, m->tables[i], i, &t[i], err);
		for (uint32_t j = 0; !rc && j < i; j++)
			if (strcmp(t[j].name, t[i].name) == 0)
				rc = irs__seterr(err, IRS_ESCHEMA, "duplicate table %s", t[i].name);
		if (rc) {
			/* every table, built or not (calloc'd: the rest are empty), so the array is
			 * freed with the size it was allocated with */
			irs__schema_free(mem, t, n);
			return rc;
		}
	}
	*out = t;
	return 0;
}

/* ---- chain */

int irs__path_check(const char *rel)
{
	if (!rel || !*rel || rel[0] == '/' || strlen(rel) > 1024)
		return -1;
	const char *p = rel;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return -1;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == '\\')
				return -1;
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* Checks one segment file on disk: inside the collection, regular, right size (and CRC). */
/*
 * The fewest bytes one change of table t takes in a segment: its op code and its key
 * values (fixed-width key columns at their width, utf8/bytes ones at least their
 * 4-byte length). A manifest claiming more records than a segment's bytes can hold
 * is refused before anything is sized from its counts.
 */
static uint64_t min_change_bytes(const irs_schema_table *t)
{
	uint64_t n = 1;
	for (uint32_t k = 0; k < t->nkey; k++) {
		uint8_t w = t->cols[t->key_cols[k]].width;
		n += w ? w : 4;
	}
	return n;
}

static int segment_check(irs_collection *c, const char *bname, const irs_schema_table *t,
			 const Increstore__Segment *s, unsigned flags, irs_error *err)
{
	const char *tname = t->name;
	if (irs__path_check(s->path) != 0)
		return irs__seterr(err, IRS_ECORRUPT,
				   "backup %s table %s: segment path '%s' leaves the collection", bname, tname,
				   s->path);
	char full[PATH_MAX * 2];
	snprintf(full, sizeof full, "%s/%s", c->dir, s->path);
	char *real = realpath(full, NULL);
	if (!real) {
		int e = errno;
		return irs__seterr(err, e == ENOENT ? IRS_ECORRUPT : IRS_EIO,
				   "backup %s table %s: segment %s is missing (%s)", bname, tname, s->path,
				   strerror(e));
	}
	size_t rl = strlen(c->realdir);
	bool inside = strncmp(real, c->realdir, rl) == 0 && real[rl] == '/';
	free(real);
	if (!inside)
		return irs__seterr(err, IRS_ECORRUPT,
				   "backup %s table %s: segment %s resolves outside the collection (symbolic link)",
				   bname, tname, s->path);
	struct stat st;
	if (fstatat(c->dirfd, s->path, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return irs__seterr(err, IRS_EIO, "backup %s table %s: segment %s: %s", bname, tname, s->path,
				   strerror(errno));
	if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode))
		return irs__seterr(err, IRS_ECORRUPT,
				   "backup %s table %s: segment %s is not a regular file", bname, tname, s->path);
	if ((uint64_t)st.st_size != s->size)
		return irs__seterr(err, IRS_ECORRUPT,
				   "backup %s table %s: segment %s is %llu bytes, the manifest says %llu "
				   "(truncated or replaced)",
				   bname, tname, s->path, (unsigned long long)st.st_size,
				   (unsigned long long)s->size);
	uint64_t room = s->size > IRS_SEGMENT_HEADER ? s->size - IRS_SEGMENT_HEADER : 0;
	if (s->records > room / min_change_bytes(t))
		return irs__seterr(err, IRS_ECORRUPT,
				   "MANIFEST: backup %s table %s: segment %s claims %llu records, more than its "
				   "%llu bytes can hold (at least %llu bytes each)",
				   bname, tname, s->path, (unsigned long long)s->records,
				   (unsigned long long)s->size, (unsigned long long)min_change_bytes(t));
	if (!(flags & IRS_OPEN_VERIFY_CRC))
		return 0;
	int fd = openat(c->dirfd, s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return irs__seterr(err, IRS_EIO, "segment %s: %s", s->path, strerror(errno));
	uint8_t buf[1 << 16];
	uint32_t crc = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		crc = irs__crc32c(crc, buf, (size_t)n);
	int e = errno;
	close(fd);
	if (n < 0)
		return irs__seterr(err, IRS_EIO, "segment %s: read failed: %s", s->path, strerror(e));
	if (crc != s->crc32c)
		return irs__seterr(err, IRS_ECORRUPT,
				   "backup %s table %s: segment %s: file CRC32C %08x, the manifest says %08x",
				   bname, tname, s->path, crc, s->crc32c);
	return 0;
}

static int tb_order(const void *x, const void *y)
{
	uint32_t a = (*(const Increstore__TableBackup *const *)x)->table;
	uint32_t b = (*(const Increstore__TableBackup *const *)y)->table;
	return a < b ? -1 : a > b;
}

/* bm->tables: the backup's table entries ordered by table index, each index valid and
 * listed once. */
static int backup_tables_index(irs_collection *c, const Increstore__Backup *b, irs_backup_meta *bm,
			       irs_error *err)
{
	if (!b->n_tables)
		return 0;
	if (b->n_tables > c->ntables)
		return irs__seterr(err, IRS_ECORRUPT, "backup %s: lists %zu tables, the collection has %u",
				   b->name, b->n_tables, c->ntables);
	bm->tables = irs__malloc(&c->mem, sizeof(*bm->tables) * b->n_tables);
	if (!bm->tables)
		return irs__seterr(err, IRS_ENOMEM, "out of memory reading the chain");
	bm->ntables = (uint32_t)b->n_tables;
	memcpy(bm->tables, b->tables, sizeof(*bm->tables) * b->n_tables);
	qsort(bm->tables, bm->ntables, sizeof(*bm->tables), tb_order);
	for (uint32_t k = 0; k < bm->ntables; k++) {
		uint32_t t = bm->tables[k]->table;
		if (t >= c->ntables)
			return irs__seterr(err, IRS_ECORRUPT, "backup %s: names table %u of %u", b->name, t,
					   c->ntables);
		if (k && bm->tables[k - 1]->table == t)
			return irs__seterr(err, IRS_ECORRUPT, "backup %s: table %s listed twice", b->name,
					   c->tables[t].name);
	}
	return 0;
}

static int name_order(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Refuses a chain that names two backups alike: sorted, so a long chain costs
 * O(n log n), not a comparison of every pair. */
static int chain_names_unique(irs_collection *c, irs_error *err)
{
	const Increstore__Manifest *m = c->m;
	if (m->n_chain < 2)
		return 0;
	const char **names = irs__malloc(&c->mem, sizeof(char *) * m->n_chain);
	if (!names)
		return irs__seterr(err, IRS_ENOMEM, "out of memory reading the chain");
	for (size_t i = 0; i < m->n_chain; i++)
		names[i] = m->chain[i]->name;
	qsort(names, m->n_chain, sizeof(char *), name_order);
	int rc = 0;
	for (size_t i = 1; i < m->n_chain && !rc; i++)
		if (names[i][0] && strcmp(names[i - 1], names[i]) == 0)
			rc = irs__seterr(err, IRS_ECHAIN, "backup name %s appears twice in the chain", names[i]);
	irs__free(&c->mem, names, sizeof(char *) * m->n_chain);
	return rc;
}

static int chain_build(irs_collection *c, unsigned flags, irs_error *err)
{
	const Increstore__Manifest *m = c->m;
	c->nbackups = (uint32_t)m->n_chain;
	if (m->n_chain > UINT32_MAX / 2)
		return irs__seterr(err, IRS_ECHAIN, "chain of %zu backups is too long", m->n_chain);
	if (!c->nbackups)
		return 0;
	c->backups = irs__calloc(&c->mem, sizeof(irs_backup_meta) * c->nbackups);
	if (!c->backups)
		return irs__seterr(err, IRS_ENOMEM, "out of memory reading the chain");
	int rc = chain_names_unique(c, err);
	if (rc)
		return rc;
	uint32_t base = 0;
	for (uint32_t i = 0; i < c->nbackups; i++) {
		const Increstore__Backup *b = m->chain[i];
		irs_backup_meta *bm = &c->backups[i];
		bm->pb = b;
		rc = name_check(b->name, "backup", err);
		if (rc) {
			irs__errprefix(err, "chain position %u", i + 1);
			if (err)
				err->code = IRS_ECHAIN;
			return IRS_ECHAIN;
		}
		if (b->kind != INCRESTORE__BACKUP_KIND__FULL && b->kind != INCRESTORE__BACKUP_KIND__INCREMENTAL)
			return irs__seterr(err, IRS_ECHAIN, "backup %s: unknown kind %d", b->name, (int)b->kind);
		bm->kind = b->kind == INCRESTORE__BACKUP_KIND__FULL ? IRS_BACKUP_FULL : IRS_BACKUP_INCREMENTAL;
		if (i == 0 && bm->kind != IRS_BACKUP_FULL)
			return irs__seterr(err, IRS_ECHAIN,
					   "backup %s: the chain starts with an incremental backup (no full before it)",
					   b->name);
		if (b->seq != (uint64_t)i + 1) {
			bool later = false; /* the expected one comes later: reordered, not missing */
			for (size_t j = i + 1; j < m->n_chain; j++)
				later |= m->chain[j]->seq == (uint64_t)i + 1;
			return irs__seterr(err, IRS_ECHAIN,
					   "backup %s: sequence number %llu at chain position %u: %s", b->name,
					   (unsigned long long)b->seq, i + 1,
					   b->seq > (uint64_t)i + 1 && !later ? "a backup before it is missing (gap)"
									      : "the chain is out of order");
		}
		const char *want = i ? m->chain[i - 1]->name : "";
		if (strcmp(b->parent, want) != 0)
			return irs__seterr(err, IRS_ECHAIN,
					   "backup %s: parent is '%s' but it follows '%s' (reordered or missing backup)",
					   b->name, b->parent, want);
		if (bm->kind == IRS_BACKUP_FULL)
			base = i;
		bm->base = base;
		rc = backup_tables_index(c, b, bm, err);
		if (rc)
			return rc;
		for (size_t k = 0; k < b->n_tables; k++) {
			const Increstore__TableBackup *tb = b->tables[k];
			uint64_t recs = 0;
			const char *tname = c->tables[tb->table].name;
			for (size_t s = 0; s < tb->n_segments; s++) {
				rc = segment_check(c, b->name, &c->tables[tb->table], tb->segments[s], flags, err);
				if (rc)
					return rc;
				recs += tb->segments[s]->records;
				bm->bytes += tb->segments[s]->size;
			}
			if (recs != tb->records)
				return irs__seterr(err, IRS_ECORRUPT,
						   "backup %s table %s: segments hold %llu records, the table entry says %llu",
						   b->name, tname, (unsigned long long)recs,
						   (unsigned long long)tb->records);
			bm->records += recs;
			bm->segments += (uint32_t)tb->n_segments;
		}
	}
	return 0;
}

static void coldefs_free(irs_collection *c)
{
	if (!c->coldefs)
		return;
	for (uint32_t i = 0; i < c->ntables; i++)
		irs__free(&c->mem, c->coldefs[i], sizeof(irs_column_def) * c->tables[i].ncols);
	irs__free(&c->mem, c->coldefs, sizeof(*c->coldefs) * c->ntables);
	c->coldefs = NULL;
}

void irs_collection_close(irs_collection *c)
{
	if (!c)
		return;
	irs_mem *mem = &c->mem;
	if (c->backups) {
		for (uint32_t i = 0; i < c->nbackups; i++)
			irs__free(mem, c->backups[i].tables, sizeof(void *) * c->backups[i].ntables);
		irs__free(mem, c->backups, sizeof(irs_backup_meta) * c->nbackups);
	}
	coldefs_free(c);
	irs__schema_free(mem, c->tables, c->ntables);
	irs__manifest_free(mem, c->m);
	if (c->dirfd >= 0)
		close(c->dirfd);
	irs__strfree(mem, c->dir);
	free(c->realdir); /* from realpath(3) */
	irs_allocator a = mem->a;
	a.free(a.ctx, c, sizeof *c);
}

int irs_collection_open(const char *dir, const irs_allocator *alloc, unsigned flags,
			irs_collection **out, irs_error *err)
{
	irs__errclear(err);
	if (!dir || !out)
		return irs__seterr(err, IRS_EINVAL, "irs_collection_open: NULL argument");
	*out = NULL;
	irs_mem tmp;
	irs__mem_init(&tmp, alloc, 0);
	irs_collection *c = tmp.a.malloc(tmp.a.ctx, sizeof *c);
	if (!c)
		return irs__seterr(err, IRS_ENOMEM, "out of memory opening %s", dir);
	memset(c, 0, sizeof *c);
	c->mem = tmp;
	c->dirfd = -1;
	int rc;
	c->dir = irs__strdup(&c->mem, dir);
	if (!c->dir) {
		rc = irs__seterr(err, IRS_ENOMEM, "out of memory opening %s", dir);
		goto fail;
	}
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd >= 0)
		manifest_identity(c->dirfd, c->manifest_id);
	rc = irs__manifest_read(dir, &c->mem, &c->m, err);
	if (rc)
		goto fail;
	c->realdir = realpath(dir, NULL);
	if (!c->realdir || c->dirfd < 0) {
		rc = irs__seterr(err, IRS_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
		goto fail;
	}
	if (c->m->format_version != IRS_FORMAT_VERSION) {
		rc = irs__seterr(err, IRS_ECORRUPT, "%s/MANIFEST: format_version %u, this build reads %u", dir,
				 c->m->format_version, IRS_FORMAT_VERSION);
		goto fail;
	}
	rc = irs__schema_build(&c->mem, c->m, &c->tables, err);
	if (rc) {
		irs__errprefix(err, "%s/MANIFEST", dir);
		goto fail;
	}
	c->ntables = (uint32_t)c->m->n_tables;
	for (uint32_t i = 0; i < c->ntables; i++)
		if (c->tables[i].ncols > c->max_ncols)
			c->max_ncols = c->tables[i].ncols;
	c->coldefs = irs__calloc(&c->mem, sizeof(*c->coldefs) * c->ntables);
	if (!c->coldefs) {
		rc = irs__seterr(err, IRS_ENOMEM, "out of memory opening %s", dir);
		goto fail;
	}
	for (uint32_t i = 0; i < c->ntables; i++) {
		c->coldefs[i] = irs__malloc(&c->mem, sizeof(irs_column_def) * c->tables[i].ncols);
		if (!c->coldefs[i]) {
			rc = irs__seterr(err, IRS_ENOMEM, "out of memory opening %s", dir);
			goto fail;
		}
		for (uint32_t k = 0; k < c->tables[i].ncols; k++) {
			c->coldefs[i][k].name = c->tables[i].cols[k].name;
			c->coldefs[i][k].type = c->tables[i].cols[k].type;
		}
	}
	rc = chain_build(c, flags, err);
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	irs_collection_close(c);
	return rc;
}

bool irs__collection_changed(const irs_collection *c)
{
	uint8_t now[sizeof c->manifest_id];
	return !manifest_identity(c->dirfd, now) || memcmp(now, c->manifest_id, sizeof now) != 0;
}

/* ---- information */

const char *irs_collection_id(const irs_collection *c)
{
	return c->m->collection_id;
}

uint32_t irs_collection_table_count(const irs_collection *c)
{
	return c->ntables;
}

int irs_collection_table(const irs_collection *c, uint32_t i, irs_table_def *out)
{
	if (!c || i >= c->ntables || !out)
		return IRS_EINVAL;
	const irs_schema_table *t = &c->tables[i];
	out->name = t->name;
	out->columns = c->coldefs[i];
	out->column_count = t->ncols;
	out->primary_key = t->key_cols;
	out->primary_key_count = t->nkey;
	return 0;
}

int irs_collection_find_table(const irs_collection *c, const char *name)
{
	for (uint32_t i = 0; c && name && i < c->ntables; i++)
		if (strcmp(c->tables[i].name, name) == 0)
			return (int)i;
	return -1;
}

int irs__tables_enable(const irs_collection *c, const char *const *names, uint32_t n, bool *enabled,
		       irs_error *err)
{
	for (uint32_t t = 0; t < c->ntables; t++)
		enabled[t] = names == NULL;
	for (uint32_t i = 0; names && i < n; i++) {
		int t = irs_collection_find_table(c, names[i]);
		if (t < 0)
			return irs__seterr(err, IRS_ENOTFOUND, "%s: no table named %s", c->dir, names[i]);
		enabled[t] = true;
	}
	return 0;
}

uint32_t irs_collection_backup_count(const irs_collection *c)
{
	return c->nbackups;
}

int irs_collection_backup(const irs_collection *c, uint32_t i, irs_backup_info *out)
{
	if (!c || i >= c->nbackups || !out)
		return IRS_EINVAL;
	const irs_backup_meta *b = &c->backups[i];
	out->name = b->pb->name;
	out->kind = b->kind;
	out->seq = b->pb->seq;
	out->parent = b->pb->parent;
	out->created_us = b->pb->created_us;
	out->base_index = b->base;
	out->records = b->records;
	out->bytes = b->bytes;
	out->segments = b->segments;
	return 0;
}

int irs_collection_find_backup(const irs_collection *c, const char *name)
{
	for (uint32_t i = 0; c && name && i < c->nbackups; i++)
		if (strcmp(c->backups[i].pb->name, name) == 0)
			return (int)i;
	return -1;
}

int irs_collection_table_backup(const irs_collection *c, uint32_t backup, uint32_t table,
				irs_table_backup_info *out)
{
	if (!c || backup >= c->nbackups || table >= c->ntables || !out)
		return IRS_EINVAL;
	memset(out, 0, sizeof *out);
	const Increstore__TableBackup *tb = irs__backup_table(&c->backups[backup], table);
	if (!tb)
		return 0;
	out->records = tb->records;
	out->segments = (uint32_t)tb->n_segments;
	for (size_t s = 0; s < tb->n_segments; s++)
		out->bytes += tb->segments[s]->size;
	if (tb->expected) {
		out->has_expected = 1;
		out->expected_rows = tb->expected->rows;
		out->expected_digest = tb->expected->digest;
	}
	return 0;
}

/* ---- create */

/*
 * Makes dir, or checks that the existing one is empty; *made says that this call made
 * it. On a failure a directory it made is removed when still empty (rmdir: what
 * another create put there meanwhile stays), and *made is false. Two creates
 * of one directory must not both succeed, nor one remove what the other made: each
 * holds an flock on the directory from before its checks to after its MANIFEST is in
 * place (*lockfd, closed by the caller), and a create that finds it held fails at
 * once. Under that lock a MANIFEST.tmp without a MANIFEST is what a killed create
 * left, so it does not make the directory "not empty".
 */
static int create_dir_locked(const char *dir, int *lockfd, bool *busy, irs_error *err);

static int create_dir(const char *dir, bool *made, int *lockfd, irs_error *err)
{
	*lockfd = -1;
	*made = mkdir(dir, 0755) == 0;
	if (!*made && errno != EEXIST)
		return irs__seterr(err, IRS_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
	bool busy = false;
	int rc = create_dir_locked(dir, lockfd, &busy, err);
	if (rc && *made) {
		if (!busy) /* busy: the create holding the lock works in it, though still empty */
			rmdir(dir);
		*made = false;
	}
	return rc;
}

/* create_dir's checks, under the directory's lock (*lockfd when taken; *busy when
 * another create holds it). */
static int create_dir_locked(const char *dir, int *lockfd, bool *busy, irs_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return irs__seterr(err, IRS_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		*busy = e == EWOULDBLOCK;
		return e == EWOULDBLOCK
			       ? irs__seterr(err, IRS_EEXIST, "%s: another process is creating a collection there", dir)
			       : irs__seterr(err, IRS_EIO, "%s: cannot lock: %s", dir, strerror(e));
	}
	*lockfd = fd;
	struct stat locked, named;
	if (fstat(fd, &locked) != 0 || stat(dir, &named) != 0 || locked.st_dev != named.st_dev ||
	    locked.st_ino != named.st_ino) {
		*busy = true; /* removed (and maybe made again) since the open: not ours to remove */
		return irs__seterr(err, IRS_EEXIST,
				   "%s: removed or replaced by another process while it was being created "
				   "(try again)", dir);
	}
	if (faccessat(fd, "MANIFEST", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return irs__seterr(err, IRS_EEXIST, "%s: a collection already exists there", dir);
	int dup_fd = dup(fd);
	DIR *dh = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!dh) {
		if (dup_fd >= 0)
			close(dup_fd);
		return irs__seterr(err, IRS_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
	}
	struct dirent *e;
	bool empty = true, stale_tmp = false;
	while ((e = readdir(dh))) {
		if (!strcmp(e->d_name, "MANIFEST.tmp"))
			stale_tmp = true;
		else if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	}
	closedir(dh);
	if (!empty)
		return irs__seterr(err, IRS_EEXIST, "%s: the directory is not empty", dir);
	if (stale_tmp)
		unlinkat(fd, "MANIFEST.tmp", 0);
	return 0;
}

int irs_collection_create(const char *dir, const irs_table_def *tables, uint32_t table_count,
			  irs_error *err)
{
	irs__errclear(err);
	if (!dir || (!tables && table_count))
		return irs__seterr(err, IRS_EINVAL, "irs_collection_create: NULL argument");
	for (uint32_t i = 0; i < table_count; i++)
		if ((!tables[i].columns && tables[i].column_count) ||
		    (!tables[i].primary_key && tables[i].primary_key_count))
			return irs__seterr(err, IRS_EINVAL,
					   "irs_collection_create: table %u: NULL %s with a count of %u", i,
					   tables[i].columns ? "primary_key" : "columns",
					   tables[i].columns ? tables[i].primary_key_count : tables[i].column_count);
	/* Build the manifest from the definitions and validate it exactly as open would,
	 * before anything is written: a refused schema leaves no directory behind. */
	irs_mem *mem = irs__mem_default();
	Increstore__Manifest m = INCRESTORE__MANIFEST__INIT;
	Increstore__TableSchema *ts = irs__calloc(mem, sizeof(*ts) * (table_count ? table_count : 1));
	Increstore__TableSchema **tsp = irs__calloc(mem, sizeof(*tsp) * (table_count ? table_count : 1));
	size_t ncols_total = 0;
	for (uint32_t i = 0; i < table_count; i++)
		ncols_total += tables[i].column_count;
	Increstore__Column *cols = irs__calloc(mem, sizeof(*cols) * (ncols_total ? ncols_total : 1));
	Increstore__Column **colp = irs__calloc(mem, sizeof(*colp) * (ncols_total ? ncols_total : 1));
	int rc = 0;
	if (!ts || !tsp || !cols || !colp) {
		rc = irs__seterr(err, IRS_ENOMEM, "out of memory creating %s", dir);
		goto out;
	}
	size_t ci = 0;
	for (uint32_t i = 0; i < table_count; i++) {
		const irs_table_def *d = &tables[i];
		Increstore__TableSchema init = INCRESTORE__TABLE_SCHEMA__INIT;
		ts[i] = init;
		ts[i].name = (char *)(d->name ? d->name : "");
		ts[i].n_columns = d->column_count;
		ts[i].columns = colp + ci;
		for (uint32_t k = 0; k < d->column_count; k++) {
			Increstore__Column cinit = INCRESTORE__COLUMN__INIT;
			cols[ci + k] = cinit;
			cols[ci + k].name = (char *)(d->columns[k].name ? d->columns[k].name : "");
			cols[ci + k].type = (Increstore__ColumnType)d->columns[k].type;
			colp[ci + k] = &cols[ci + k];
		}
		ci += d->column_count;
		ts[i].n_primary_key = d->primary_key_count;
		ts[i].primary_key = (uint32_t *)d->primary_key;
		tsp[i] = &ts[i];
	}
	m.format_version = IRS_FORMAT_VERSION;
	char id[33];
	{
		uint8_t rnd[16];
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		ssize_t got = fd >= 0 ? read(fd, rnd, sizeof rnd) : -1;
		if (fd >= 0)
			close(fd);
		if (got != (ssize_t)sizeof rnd) {
			/* No entropy device: time and address still make a distinct id. */
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			uint64_t a = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
			uint64_t b = (uint64_t)(uintptr_t)&now ^ (uint64_t)getpid() << 32;
			memcpy(rnd, &a, 8);
			memcpy(rnd + 8, &b, 8);
		}
		for (int i = 0; i < 16; i++)
			snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	}
	m.collection_id = id;
	m.n_tables = table_count;
	m.tables = tsp;
	irs_schema_table *check = NULL;
	rc = irs__schema_build(mem, &m, &check, err);
	if (rc)
		goto out;
	irs__schema_free(mem, check, table_count);
	bool made = false;
	int lockfd;
	rc = create_dir(dir, &made, &lockfd, err);
	if (!rc)
		rc = irs__manifest_write(dir, &m, true, err);
	if (rc && made)
		irs__remove_tree_at(AT_FDCWD, dir); /* ours, and holds nothing of anyone's */
	if (lockfd >= 0)
		close(lockfd);
out:
	irs__free(mem, ts, sizeof(*ts) * (table_count ? table_count : 1));
	irs__free(mem, tsp, sizeof(*tsp) * (table_count ? table_count : 1));
	irs__free(mem, cols, sizeof(*cols) * (ncols_total ? ncols_total : 1));
	irs__free(mem, colp, sizeof(*colp) * (ncols_total ? ncols_total : 1));
	return rc;
}
