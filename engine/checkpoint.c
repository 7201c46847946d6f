/*
 * checkpoint.c: writing and loading restore checkpoints.
 *
 * LAYOUT of a checkpoint directory DIR
 *     DIR/CURRENT                 one line: the name of the current checkpoint below
 *     DIR/ckpt-<seq>-<hex>/       a collection (MANIFEST, data/) holding one full backup:
 *                                 every restored table as of backup <seq>, with its
 *                                 expected row count and digest recorded
 *     DIR/ckpt-<seq>-<hex>/RESTORE_STATE
 *                                 "IRSCKP\r\n" | u32 version | u32 length | u32 crc32c |
 *                                 RestoreState (proto/messages.proto)
 *
 *     DIR/CHECKPOINTS             what restores wrote here: one line per subdirectory,
 *                                 "<name> <collection id>", appended (and fsynced)
 *                                 before the subdirectory is made
 *
 * OWNERSHIP: DIR may hold anything else (the user's own files, even ckpt-* names of
 * their own). A restore removes only subdirectories CHECKPOINTS lists for its own
 * collection: the older ones after a new checkpoint is current, and all of them when
 * asked to start over (irs__checkpoint_discard).
 *
 * LOCK: a restore holds an flock on DIR from its start to its end; a second restore on
 * the same DIR fails at once (IRS_EIO "in use by another restore"), before it reads or
 * writes anything. DIR is made when missing and must be writable: both are checked
 * when the restore starts, not at its first checkpoint.
 *
 * WRITE PROTOCOL (crash-safe): the new subdirectory is recorded in CHECKPOINTS, then
 * written completely and fsynced (the collection writer fsyncs its files;
 * RESTORE_STATE is fsynced), then CURRENT.tmp is written, fsynced and renamed over
 * CURRENT, and DIR is fsynced. A crash at any point leaves CURRENT naming the previous
 * complete checkpoint (or no CURRENT). Older subdirectories are removed only after
 * the rename; a crashed write's partial subdirectory is recorded, so it goes then too.
 *
 * A checkpoint that cannot be read (damaged framing, CRC or data) is reported as
 * IRS_ECORRUPT naming it, with how to start over: remove DIR/CURRENT (the CLI also
 * offers --checkpoint-restart, which discards this collection's checkpoints).
 *
 * LOADING trusts nothing: the state's framing and CRC, the collection id, the target
 * backup and the table filter must match the restore being run, the backup it names
 * must be in the chain under the same name, and the checkpoint collection must have the
 * same schema and hold exactly one full backup, whose expected state the restore then
 * checks as it loads it.
 */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/error.h"

#define STATE_MAGIC "IRSCKP\r\n"
#define STATE_HEADER 20u
#define STATE_MAX (16u << 20)

/* Writes and fsyncs DIR/name (dirfd is DIR); on a failure removes it and names it. */
static int write_file_sync(int dirfd, const char *dir, const char *name, const void *buf, size_t len,
			   irs_error *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return irs__seterr(err, IRS_EIO, "checkpoint %s: cannot create: %s", path, strerror(errno));
	int rc = irs__write_all(fd, buf, len, path, err);
	if (!rc && fsync(fd) != 0)
		rc = irs__seterr(err, IRS_EIO, "checkpoint %s: fsync failed: %s", path, strerror(errno));
	close(fd);
	if (rc)
		unlinkat(dirfd, name, 0);
	return rc;
}

/* Reads a whole small file into buf (NUL-terminated); returns its length or -1. */
static ssize_t read_small(int dirfd, const char *name, uint8_t *buf, size_t cap)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	size_t n = 0;
	ssize_t k;
	while (n < cap - 1 && (k = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)k;
	close(fd);
	buf[n] = 0;
	return (ssize_t)n;
}

int irs__restore_state_parse(const uint8_t *buf, size_t len, Increstore__RestoreState **out,
			     irs_error *err)
{
	*out = NULL;
	if (len < STATE_HEADER || memcmp(buf, STATE_MAGIC, 8) != 0)
		return irs__seterr(err, IRS_ECORRUPT, "bad magic at byte 0");
	if (irs__load_le32(buf + 8) != 1)
		return irs__seterr(err, IRS_ECORRUPT, "unknown version %u at byte 8", irs__load_le32(buf + 8));
	size_t plen = irs__load_le32(buf + 12);
	if (plen > STATE_MAX || plen != len - STATE_HEADER)
		return irs__seterr(err, IRS_ECORRUPT, "payload length %zu at byte 12 does not match the file (%zu bytes)",
				   plen, len);
	if (irs__crc32c(0, buf + STATE_HEADER, plen) != irs__load_le32(buf + 16))
		return irs__seterr(err, IRS_ECORRUPT, "CRC32C mismatch at byte 16");
	irs_pb_budget budget;
	ProtobufCAllocator pa;
	/* a real state is a few names and numbers: a few times its length at most */
	irs__pb_budget_init(&budget, irs__mem_default(), 4 * plen + (1u << 20), &pa);
	*out = increstore__restore_state__unpack(&pa, plen, buf + STATE_HEADER);
	if (!*out && (budget.over || budget.failed))
		return irs__pb_budget_error(&budget, "the payload at byte 20", err);
	if (!*out)
		return irs__seterr(err, IRS_ECORRUPT, "payload at byte 20 is not a RestoreState message");
	int rc = irs__pb_check_strings(&increstore__restore_state__descriptor, buf + STATE_HEADER, plen,
				       STATE_HEADER, err);
	if (rc) {
		irs__restore_state_free(*out);
		*out = NULL;
	}
	return rc;
}

void irs__restore_state_free(Increstore__RestoreState *rs)
{
	if (!rs)
		return;
	ProtobufCAllocator pa;
	irs__pb_allocator(irs__mem_default(), &pa);
	increstore__restore_state__free_unpacked(rs, &pa);
}

static bool same_schema(const irs_collection *a, const irs_collection *b)
{
	if (a->ntables != b->ntables)
		return false;
	for (uint32_t t = 0; t < a->ntables; t++) {
		const irs_schema_table *x = &a->tables[t], *y = &b->tables[t];
		if (strcmp(x->name, y->name) || x->ncols != y->ncols || x->nkey != y->nkey)
			return false;
		for (uint32_t c = 0; c < x->ncols; c++)
			if (strcmp(x->cols[c].name, y->cols[c].name) || x->cols[c].type != y->cols[c].type)
				return false;
		for (uint32_t k = 0; k < x->nkey; k++)
			if (x->key_cols[k] != y->key_cols[k])
				return false;
	}
	return true;
}

/* Whether fd (a directory opened as `path`) is still what `path` names: a directory
 * removed and made again between the open and the lock is another one. */
static bool still_there(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Opens and locks DIR and checks that it is writable. On a failure after the lock,
 * *dfd_out holds it for the caller to release (after removing what it made). */
static int lock_dir(const char *dir, int *dfd_out, bool *busy, irs_error *err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return irs__seterr(err, IRS_EIO, "checkpoint %s: cannot open the directory: %s", dir,
				   strerror(errno));
	if (flock(dfd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(dfd);
		*busy = e == EWOULDBLOCK;
		if (e == EWOULDBLOCK)
			return irs__seterr(err, IRS_EIO,
					   "checkpoint %s is in use by another restore (wait for it to "
					   "end, or give another directory)", dir);
		return irs__seterr(err, IRS_EIO, "checkpoint %s: cannot lock: %s", dir, strerror(e));
	}
	if (!still_there(dfd, dir)) {
		close(dfd);
		*busy = true; /* whoever made a new one works in it */
		return irs__seterr(err, IRS_EIO,
				   "checkpoint %s was removed or replaced by another process while it was "
				   "being opened (try again)", dir);
	}
	*dfd_out = dfd;
	/* writable? (as root a mode check says nothing: make and remove a file) */
	char probe[64];
	snprintf(probe, sizeof probe, ".probe-%ld", (long)getpid());
	int fd = openat(dfd, probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return irs__seterr(err, IRS_EIO, "checkpoint %s is not writable: %s", dir, strerror(errno));
	close(fd);
	unlinkat(dfd, probe, 0);
	return 0;
}

int irs__checkpoint_lock(const char *dir, int *dfd_out, bool *made, irs_error *err)
{
	*dfd_out = -1;
	bool mine = mkdir(dir, 0755) == 0;
	if (made)
		*made = mine;
	if (!mine && errno != EEXIST)
		return irs__seterr(err, IRS_EIO, "checkpoint %s: cannot create the directory: %s", dir,
				   strerror(errno));
	bool busy = false;
	int rc = lock_dir(dir, dfd_out, &busy, err);
	if (rc && mine && !busy) /* busy: the restore holding it works in it, though still empty */
		rmdir(dir);          /* while the lock is held, when it was taken */
	if (rc && *dfd_out >= 0) {
		close(*dfd_out);
		*dfd_out = -1;
	}
	if (rc && made)
		*made = false;
	return rc;
}

/* The lines of DIR/CHECKPOINTS, NUL-terminated in a buffer of *cap bytes from mem
 * (NULL when there is none). */
static char *record_read(irs_mem *mem, int dfd, size_t *len, size_t *cap)
{
	*len = *cap = 0;
	int fd = openat(dfd, "CHECKPOINTS", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) == 0 && st.st_size >= 0 && st.st_size < (off_t)STATE_MAX &&
	    (buf = irs__malloc(mem, (size_t)st.st_size + 1)) != NULL) {
		*cap = (size_t)st.st_size + 1;
		ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
		*len = n > 0 ? (size_t)n : 0;
		buf[*len] = '\0';
	}
	close(fd);
	return buf;
}

/* Appends "<name> <id>" to DIR/CHECKPOINTS and makes it durable. */
static int record_add(int dfd, const char *dir, const char *name, const char *id, irs_error *err)
{
	int fd = openat(dfd, "CHECKPOINTS", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return irs__seterr(err, IRS_EIO, "checkpoint %s/CHECKPOINTS: cannot open: %s", dir,
				   strerror(errno));
	char line[128];
	int n = snprintf(line, sizeof line, "%s %s\n", name, id);
	int rc = irs__write_all(fd, line, (size_t)n, "CHECKPOINTS", err);
	if (!rc && fsync(fd) != 0)
		rc = irs__seterr(err, IRS_EIO, "CHECKPOINTS: fsync failed: %s", strerror(errno));
	close(fd);
	/* the file may be new: its directory entry must be durable too */
	if (!rc && fsync(dfd) != 0)
		rc = irs__seterr(err, IRS_EIO, "fsync failed: %s", strerror(errno));
	if (rc)
		irs__errprefix(err, "checkpoint %s", dir);
	return rc;
}

/*
 * Removes a listed subdirectory and what a write of it killed half way left: the
 * collection export writes NAME.tmp-PID and renames it to NAME only when complete.
 */
static void remove_checkpoint(int dfd, const char *name)
{
	irs__remove_tree_at(dfd, name);
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d); /* the dup shares dfd's position, which an earlier walk may have moved */
	size_t n = strlen(name);
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (strncmp(e->d_name, name, n) == 0 && strncmp(e->d_name + n, ".tmp-", 5) == 0)
			irs__remove_tree_at(dfd, e->d_name);
	closedir(d);
}

/*
 * Removes the subdirectories CHECKPOINTS lists for collection `id` (all but `keep`;
 * keep NULL: all), with their crashed writes' temporaries, and rewrites CHECKPOINTS
 * without them. Lines of other collections stay, and nothing CHECKPOINTS does not
 * list is touched.
 */
static void record_prune(irs_mem *mem, int dfd, const char *id, const char *keep)
{
	size_t len, cap;
	char *buf = record_read(mem, dfd, &len, &cap);
	if (!buf)
		return;
	char *out = irs__malloc(mem, len + 1);
	size_t olen = 0;
	for (char *line = buf, *next; out && line < buf + len; line = next) {
		char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : buf + len;
		size_t n = (size_t)(next - line);
		char name[96], owner[96];
		bool mine = sscanf(line, "%95s %95s", name, owner) == 2 && strcmp(owner, id) == 0 &&
			    strncmp(name, "ckpt-", 5) == 0 && !strchr(name, '/') && irs__path_check(name) == 0;
		if (mine && (!keep || strcmp(name, keep) != 0)) {
			remove_checkpoint(dfd, name);
			continue;
		}
		memcpy(out + olen, line, n);
		olen += n;
		if (nl == NULL && n)
			out[olen++] = '\n';
	}
	if (out && olen != len) {
		int fd = openat(dfd, "CHECKPOINTS.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		bool ok = fd >= 0 && write(fd, out, olen) == (ssize_t)olen && fsync(fd) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			renameat(dfd, "CHECKPOINTS.tmp", dfd, "CHECKPOINTS");
		else
			unlinkat(dfd, "CHECKPOINTS.tmp", 0);
	}
	irs__free(mem, out, len + 1);
	irs__free(mem, buf, cap);
}

/* The subdirectory CURRENT names (a ckpt-* name), or "" when there is none. */
static ssize_t current_name(int dfd, char cur[256])
{
	ssize_t n = read_small(dfd, "CURRENT", (uint8_t *)cur, 256);
	while (n > 0 && (cur[n - 1] == '\n' || cur[n - 1] == ' '))
		cur[--n] = 0;
	return n;
}

/* Whether CHECKPOINTS lists `name` for a collection other than `id`. */
static bool recorded_for_other(irs_mem *mem, int dfd, const char *name, const char *id)
{
	size_t len, cap;
	char *buf = record_read(mem, dfd, &len, &cap);
	bool other = false;
	for (char *line = buf; buf && line < buf + len && !other;) {
		char n[96], owner[96];
		if (sscanf(line, "%95s %95s", n, owner) == 2 && strcmp(n, name) == 0)
			other = strcmp(owner, id) != 0;
		char *nl = strchr(line, '\n');
		line = nl ? nl + 1 : buf + len;
	}
	irs__free(mem, buf, cap);
	return other;
}

int irs__checkpoint_discard(const char *dir, const irs_collection *c, irs_error *err)
{
	int dfd;
	bool made;
	int rc = irs__checkpoint_lock(dir, &dfd, &made, err);
	if (rc)
		return rc;
	if (made) { /* nothing to discard, and nothing left behind: removed under the lock */
		rmdir(dir);
		close(dfd);
		return 0;
	}
	const char *id = irs_collection_id(c);
	irs_mem *mem = (irs_mem *)&c->mem;
	char cur[256];
	/* CURRENT goes unless it names another collection's checkpoint */
	if (current_name(dfd, cur) >= 0 && !recorded_for_other(mem, dfd, cur, id) &&
	    unlinkat(dfd, "CURRENT", 0) != 0 && errno != ENOENT)
		rc = irs__seterr(err, IRS_EIO, "checkpoint %s/CURRENT: cannot remove: %s", dir, strerror(errno));
	if (!rc) {
		record_prune(mem, dfd, id, NULL);
		if (fsync(dfd) != 0)
			rc = irs__seterr(err, IRS_EIO, "checkpoint %s: fsync failed: %s", dir, strerror(errno));
	}
	close(dfd); /* and the lock with it */
	return rc;
}

/* Says how to start over after a damaged checkpoint (at the end of the message). */
static int damaged(const char *dir, int rc, irs_error *err)
{
	if (err && (rc == IRS_ECORRUPT || rc == IRS_EIO)) {
		size_t n = strlen(err->message);
		snprintf(err->message + n, sizeof err->message - n, "; to start over, remove %s/CURRENT",
			 dir);
	}
	return rc;
}

void irs__checkpoint_hint(const irs_restore *r, irs_error *err)
{
	damaged(r->o.checkpoint_dir, IRS_ECORRUPT, err);
}

int irs__checkpoint_load(irs_restore *r, uint32_t upto, irs_collection **state, int64_t *through,
			 irs_error *err)
{
	const irs_collection *c = r->c;
	const char *dir = r->o.checkpoint_dir;
	*state = NULL;
	*through = -1;
	int rc = irs__checkpoint_lock(dir, &r->ckpt_dfd, &r->ckpt_made, err);
	if (rc)
		return rc;
	int dfd = dup(r->ckpt_dfd);
	if (dfd < 0)
		return irs__seterr(err, IRS_EIO, "checkpoint %s: %s", dir, strerror(errno));
	uint8_t cur[256];
	ssize_t n = read_small(dfd, "CURRENT", cur, sizeof cur);
	if (n < 0) {
		close(dfd);
		return 0; /* no checkpoint written yet */
	}
	while (n > 0 && (cur[n - 1] == '\n' || cur[n - 1] == ' '))
		cur[--n] = 0;
	if (strncmp((char *)cur, "ckpt-", 5) != 0 || strchr((char *)cur, '/') || irs__path_check((char *)cur)) {
		close(dfd);
		return damaged(dir, irs__seterr(err, IRS_ECORRUPT, "checkpoint %s: CURRENT names '%s'", dir, cur),
			       err);
	}
	char sub[512];
	snprintf(sub, sizeof sub, "%s/RESTORE_STATE", (char *)cur);
	int fd = openat(dfd, sub, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	close(dfd);
	if (fd < 0)
		return damaged(dir, irs__seterr(err, IRS_ECORRUPT, "checkpoint %s/%s: missing", dir, sub), err);
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)STATE_HEADER || st.st_size > (off_t)(STATE_HEADER + STATE_MAX)) {
		close(fd);
		return damaged(dir, irs__seterr(err, IRS_ECORRUPT, "checkpoint %s/%s: bad size", dir, sub), err);
	}
	len = (size_t)st.st_size;
	buf = irs__malloc(&r->mem, len);
	if (!buf) {
		close(fd);
		return irs__seterr(err, IRS_ENOMEM, "out of memory reading a checkpoint");
	}
	if (pread(fd, buf, len, 0) != (ssize_t)len)
		rc = irs__seterr(err, IRS_EIO, "checkpoint %s/%s: short read", dir, sub);
	close(fd);
	Increstore__RestoreState *rs = NULL;
	if (!rc)
		rc = irs__restore_state_parse(buf, len, &rs, err);
	irs__free(&r->mem, buf, len);
	if (rc) {
		irs__errprefix(err, "checkpoint %s/%s", dir, sub);
		return rc == IRS_ENOMEM ? rc : damaged(dir, rc, err);
	}
	/* The restore it belongs to must be this one. */
	const char *target = c->backups[upto].pb->name;
	if (strcmp(rs->collection_id, irs_collection_id(c)) != 0)
		rc = irs__seterr(err, IRS_EINVAL,
				 "checkpoint %s belongs to collection %s, not to %s (collection %s)", dir,
				 rs->collection_id, c->dir, irs_collection_id(c));
	else if (strcmp(rs->upto, target) != 0)
		rc = irs__seterr(err, IRS_EINVAL,
				 "checkpoint %s was written by a restore up to %s, not up to %s", dir, rs->upto,
				 target);
	uint32_t nenabled = 0;
	for (uint32_t t = 0; !rc && t < c->ntables; t++) {
		if (!r->enabled[t])
			continue;
		if (nenabled >= rs->n_tables || strcmp(rs->tables[nenabled], c->tables[t].name) != 0)
			rc = irs__seterr(err, IRS_EINVAL,
					 "checkpoint %s was written for other tables (the table filter differs)", dir);
		nenabled++;
	}
	if (!rc && nenabled != rs->n_tables)
		rc = irs__seterr(err, IRS_EINVAL, "checkpoint %s was written for other tables (the table filter differs)",
				 dir);
	int64_t b = (int64_t)rs->through_seq - 1;
	/* at or after the base full backup of this restore (a checkpoint is only written
	 * after a backup it applied), at or before its target */
	if (!rc && (b < (int64_t)c->backups[upto].base || b > (int64_t)upto ||
		    strcmp(c->backups[b].pb->name, rs->through_name) != 0))
		rc = irs__seterr(err, IRS_ECORRUPT,
				 "checkpoint %s: backup %s (seq %llu) is not in the chain up to %s", dir,
				 rs->through_name, (unsigned long long)rs->through_seq, target);
	irs__restore_state_free(rs);
	if (rc)
		return rc == IRS_ECORRUPT ? damaged(dir, rc, err) : rc;
	char cdir[4096];
	snprintf(cdir, sizeof cdir, "%s/%s", dir, (char *)cur);
	irs_collection *sc = NULL;
	rc = irs_collection_open(cdir, &r->mem.a, 0, &sc, err);
	if (rc) {
		irs__errprefix(err, "checkpoint");
		return rc == IRS_ENOMEM ? rc : damaged(dir, rc, err);
	}
	if (!same_schema(c, sc) || sc->nbackups != 1 || sc->backups[0].kind != IRS_BACKUP_FULL) {
		irs_collection_close(sc);
		return damaged(dir, irs__seterr(err, IRS_ECORRUPT,
						"checkpoint %s: its tables do not match the collection's schema",
						cdir), err);
	}
	*state = sc;
	*through = b;
	return 0;
}

int irs__checkpoint_write(irs_restore *r, uint32_t b, irs_error *err)
{
	const irs_collection *c = r->c;
	const char *dir = r->o.checkpoint_dir;
	int dfd = dup(r->ckpt_dfd); /* opened, locked and checked when the restore began */
	if (dfd < 0)
		return irs__seterr(err, IRS_EIO, "checkpoint %s: %s", dir, strerror(errno));
	char sub[64], path[4096];
	struct timeval tv;
	gettimeofday(&tv, NULL);
	snprintf(sub, sizeof sub, "ckpt-%06u-%08lx%05lx", b + 1, (unsigned long)tv.tv_sec,
		 (unsigned long)tv.tv_usec);
	snprintf(path, sizeof path, "%s/%s", dir, sub);
	int rc = record_add(dfd, dir, sub, irs_collection_id(c), err);
	if (rc) {
		close(dfd);
		return rc;
	}
	rc = irs__export_checkpoint(r, path, err);
	if (rc) {
		irs__errprefix(err, "writing checkpoint %s", path);
		close(dfd);
		return rc;
	}
	/* The restore state, beside the tables. */
	Increstore__RestoreState rs = INCRESTORE__RESTORE_STATE__INIT;
	rs.collection_id = (char *)irs_collection_id(c);
	rs.upto = (char *)c->backups[r->upto].pb->name;
	rs.through_seq = (uint64_t)b + 1;
	rs.through_name = (char *)c->backups[b].pb->name;
	rs.shards = r->pool.nshards;
	rs.created_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	char *names[IRS_MAX_TABLES > 256 ? 256 : IRS_MAX_TABLES];
	char **np = names;
	size_t nn = 0;
	if (c->ntables > 256) {
		np = irs__malloc(&r->mem, sizeof(char *) * c->ntables);
		if (!np) {
			close(dfd);
			return irs__seterr(err, IRS_ENOMEM, "out of memory writing a checkpoint");
		}
	}
	for (uint32_t t = 0; t < c->ntables; t++)
		if (r->enabled[t])
			np[nn++] = c->tables[t].name;
	rs.n_tables = nn;
	rs.tables = np;
	size_t len = increstore__restore_state__get_packed_size(&rs);
	uint8_t *buf = irs__malloc(&r->mem, STATE_HEADER + len);
	if (!buf) {
		rc = irs__seterr(err, IRS_ENOMEM, "out of memory writing a checkpoint");
	} else {
		increstore__restore_state__pack(&rs, buf + STATE_HEADER);
		memcpy(buf, STATE_MAGIC, 8);
		irs__store_le32(buf + 8, 1);
		irs__store_le32(buf + 12, (uint32_t)len);
		irs__store_le32(buf + 16, irs__crc32c(0, buf + STATE_HEADER, len));
		char rel[128];
		snprintf(rel, sizeof rel, "%s/RESTORE_STATE", sub);
		rc = write_file_sync(dfd, dir, rel, buf, STATE_HEADER + len, err);
		irs__free(&r->mem, buf, STATE_HEADER + len);
	}
	if (np != names)
		irs__free(&r->mem, np, sizeof(char *) * c->ntables);
	if (!rc)
		rc = irs__fsync_dir_at(dfd, sub, err);
	/* Publish: CURRENT names the new checkpoint. */
	char line[80];
	int ln = snprintf(line, sizeof line, "%s\n", sub);
	if (!rc)
		rc = write_file_sync(dfd, dir, "CURRENT.tmp", line, (size_t)ln, err);
	if (!rc && renameat(dfd, "CURRENT.tmp", dfd, "CURRENT") != 0) {
		rc = irs__seterr(err, IRS_EIO, "checkpoint %s: rename of CURRENT failed: %s", dir, strerror(errno));
		unlinkat(dfd, "CURRENT.tmp", 0);
	}
	if (!rc && fsync(dfd) != 0)
		rc = irs__seterr(err, IRS_EIO, "checkpoint %s: fsync failed: %s", dir, strerror(errno));
	if (!rc)
		record_prune(&r->mem, dfd, irs_collection_id(c), sub);
	else
		irs__remove_tree_at(dfd, sub);
	close(dfd);
	return rc;
}
