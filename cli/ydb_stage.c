/*
 * ydb_stage.c: the staging directory of an import and its atomic publication
 * (ydb_stage.h).
 */
#include "ydb_stage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/cli_support.h"

/* Splits dir (trailing slashes removed) into s->final and the staging name template. */
static int names(const char *dir, irs_ydb_stage *s, char **tmpl, irs_error *err)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	s->final = strndup(dir, n);
	if (!s->final)
		return irs__seterr(err, IRS_ENOMEM, "out of memory");
	const char *slash = strrchr(s->final, '/');
	const char *base = slash ? slash + 1 : s->final;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return irs__seterr(err, IRS_EINVAL, "%s: name the collection directory itself", dir);
	size_t plen = slash ? (size_t)(slash - s->final) + 1 : 0;
	size_t cap = n + 32;
	*tmpl = malloc(cap);
	if (!*tmpl)
		return irs__seterr(err, IRS_ENOMEM, "out of memory");
	snprintf(*tmpl, cap, "%.*s.%s.import-XXXXXX", (int)plen, s->final, base);
	return 0;
}

/* Creates the staging directory with `mode` (mkdtemp makes it 0700). */
static int make_tmp(irs_ydb_stage *s, char *tmpl, mode_t mode, irs_error *err)
{
	if (!mkdtemp(tmpl)) {
		int e = errno;
		free(tmpl);
		return irs__seterr(err, IRS_EIO, "%s: cannot create a staging directory next to it: %s",
				   s->final, strerror(e));
	}
	s->tmp = tmpl;
	if (chmod(tmpl, mode) != 0)
		return irs__seterr(err, IRS_EIO, "%s: %s", tmpl, strerror(errno));
	return 0;
}

int irs_ydb_stage_new(const char *dir, irs_ydb_stage *s, irs_error *err)
{
	memset(s, 0, sizeof *s);
	char *tmpl = NULL;
	int rc = names(dir, s, &tmpl, err);
	if (rc) {
		free(tmpl);
		return rc;
	}
	struct stat st;
	if (stat(s->final, &st) == 0) {
		DIR *d = S_ISDIR(st.st_mode) ? opendir(s->final) : NULL;
		bool empty = d != NULL;
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				empty = false;
		if (d)
			closedir(d);
		if (!empty) {
			free(tmpl);
			return irs__seterr(err, IRS_EEXIST, "%s: already exists and is not an empty directory",
					   s->final);
		}
	} else if (errno != ENOENT) {
		int e = errno;
		free(tmpl);
		return irs__seterr(err, IRS_EIO, "%s: %s", s->final, strerror(e));
	}
	mode_t mask = umask(0);
	umask(mask);
	return make_tmp(s, tmpl, 0777 & ~mask, err);
}

/* Copies a regular file's bytes (where a hard link is not possible). */
static int copy_file(const char *from, const char *to, irs_error *err)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return irs__seterr(err, IRS_EIO, "%s: %s", from, strerror(errno));
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		int e = errno;
		close(in);
		return irs__seterr(err, IRS_EIO, "%s: %s", to, strerror(e));
	}
	char buf[1 << 16];
	int rc = 0;
	for (;;) {
		ssize_t r = read(in, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				rc = irs__seterr(err, IRS_EIO, "%s: %s", from, strerror(errno));
			break;
		}
		for (ssize_t o = 0; o < r;) {
			ssize_t w = write(out, buf + o, (size_t)(r - o));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = irs__seterr(err, IRS_EIO, "%s: %s", to, strerror(errno));
				break;
			}
			o += w;
		}
		if (rc)
			break;
	}
	if (!rc && fsync(out) != 0)
		rc = irs__seterr(err, IRS_EIO, "%s: fsync failed: %s", to, strerror(errno));
	close(in);
	if (close(out) != 0 && !rc)
		rc = irs__seterr(err, IRS_EIO, "%s: %s", to, strerror(errno));
	return rc;
}

/* Recreates directory `from` at `to` (which exists) with hard links; fsyncs `to`. */
static int clone_dir(const char *from, const char *to, int depth, irs_error *err)
{
	if (depth > 16)
		return irs__seterr(err, IRS_EIO, "%s: directories nested too deeply", from);
	DIR *d = opendir(from);
	if (!d)
		return irs__seterr(err, IRS_EIO, "%s: %s", from, strerror(errno));
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char src[4096], dst[4096];
		if ((size_t)snprintf(src, sizeof src, "%s/%s", from, e->d_name) >= sizeof src ||
		    (size_t)snprintf(dst, sizeof dst, "%s/%s", to, e->d_name) >= sizeof dst) {
			rc = irs__seterr(err, IRS_EIO, "%s: path too long", from);
			break;
		}
		struct stat st;
		if (lstat(src, &st) != 0) {
			rc = irs__seterr(err, IRS_EIO, "%s: %s", src, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdir(dst, 0755) != 0)
				rc = irs__seterr(err, IRS_EIO, "%s: %s", dst, strerror(errno));
			else
				rc = clone_dir(src, dst, depth + 1, err);
		} else if (S_ISREG(st.st_mode)) {
			if (link(src, dst) != 0) {
				if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOTSUP)
					rc = copy_file(src, dst, err);
				else
					rc = irs__seterr(err, IRS_EIO, "%s: cannot link: %s", src, strerror(errno));
			}
		} else {
			rc = irs__seterr(err, IRS_EIO, "%s: not a regular file or directory", src);
		}
	}
	closedir(d);
	return rc ? rc : irs__fsync_dir_at(AT_FDCWD, to, err);
}

int irs_ydb_stage_clone(const char *dir, irs_ydb_stage *s, irs_error *err)
{
	memset(s, 0, sizeof *s);
	s->append = true;
	char *tmpl = NULL;
	int rc = names(dir, s, &tmpl, err);
	if (rc) {
		free(tmpl);
		return rc;
	}
	struct stat st;
	if (stat(s->final, &st) != 0) {
		int e = errno;
		free(tmpl);
		return irs__seterr(err, IRS_EIO, "%s: %s", s->final, strerror(e));
	}
	if (!S_ISDIR(st.st_mode)) {
		free(tmpl);
		return irs__seterr(err, IRS_EIO, "%s: not a directory", s->final);
	}
	if ((rc = make_tmp(s, tmpl, st.st_mode & 07777, err)) != 0)
		return rc;
	return clone_dir(s->final, s->tmp, 0, err);
}

int irs_ydb_stage_publish(irs_ydb_stage *s, irs_error *err)
{
	if (!s->append) {
		if (rename(s->tmp, s->final) != 0)
			return irs__seterr(err, errno == ENOTEMPTY || errno == EEXIST ? IRS_EEXIST : IRS_EIO,
					   "%s: cannot put the new collection in place: %s", s->final,
					   strerror(errno));
	} else if (renameat2(AT_FDCWD, s->tmp, AT_FDCWD, s->final, RENAME_EXCHANGE) != 0) {
		if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
			return irs__seterr(err, IRS_EIO, "%s: cannot swap in the appended collection: %s",
					   s->final, strerror(errno));
		/* no exchange on this file system: move the old tree aside, then rename */
		size_t n = strlen(s->tmp) + 5;
		char *old = malloc(n);
		if (!old)
			return irs__seterr(err, IRS_ENOMEM, "out of memory");
		snprintf(old, n, "%s.old", s->tmp);
		if (rename(s->final, old) != 0) {
			free(old);
			return irs__seterr(err, IRS_EIO, "%s: cannot move aside: %s", s->final, strerror(errno));
		}
		if (rename(s->tmp, s->final) != 0) {
			int e = errno;
			rename(old, s->final);
			free(old);
			return irs__seterr(err, IRS_EIO, "%s: cannot put the appended collection in place: %s",
					   s->final, strerror(e));
		}
		free(s->tmp);
		s->tmp = old; /* the old tree, removed below */
	}
	int rc = irs__fsync_parent(s->final, err);
	if (s->append)
		irs__remove_tree_at(AT_FDCWD, s->tmp); /* after the exchange s->tmp names the old collection */
	free(s->tmp);
	s->tmp = NULL;
	return rc;
}

void irs_ydb_stage_discard(irs_ydb_stage *s)
{
	if (!s)
		return;
	if (s->tmp)
		irs__remove_tree_at(AT_FDCWD, s->tmp);
	free(s->tmp);
	free(s->final);
	memset(s, 0, sizeof *s);
}
