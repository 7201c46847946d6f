/*
 * import_lines.c: the importers' line reader. It fills a buffer with read() chunks (or
 * copies from a memory buffer) and hands out one line at a time, in place, so that
 * strings can be unescaped and base64-decoded in place (both only shrink). Memory is
 * bounded by the longest line (max_line) plus one chunk: the buffer grows by doubling
 * up to max_line + 2 bytes, and a line longer than that is an error naming its line.
 *
 * A UTF-8 byte order mark at the very start of the input is skipped.
 */
#include "importer.h"

#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK ((size_t)1 << 20)

/* Waits until fd has input, checking the cancel flag (irs_cli_wait_input). Files
 * never block. */
static int wait_readable(irs_importer *im, int fd)
{
	irs_import_reader *r = &im->rd;
	if (r->may_block < 0) {
		struct stat st;
		r->may_block = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
	}
	if (!r->may_block || !im->o->cancel)
		return 0;
	return irs_cli_wait_input(fd, im->o->cancel) ? 0 : irs_import_cancel_error(im);
}

static int read_more(irs_importer *im)
{
	irs_import_reader *r = &im->rd;
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->scanned -= r->start;
		r->start = 0;
	}
	if (r->end == r->cap) {
		size_t limit = im->max_line + 2; /* a full line, its '\n', one more byte */
		size_t first = READ_CHUNK;
		if (r->fd < 0 && r->mem_len - r->mem_pos + 2 < first)
			first = r->mem_len - r->mem_pos + 2; /* a small buffer for a small input */
		if (first < 64)
			first = 64;
		size_t ncap = r->cap ? r->cap * 2 : (first < limit ? first : limit);
		if (ncap > limit)
			ncap = limit;
		if (ncap <= r->cap)
			ncap = r->cap + READ_CHUNK; /* cannot happen: the caller stops first */
		uint8_t *nb = realloc(r->buf, ncap);
		if (!nb)
			return irs_import_oom(im);
		r->buf = nb;
		r->cap = ncap;
	}
	size_t room = r->cap - r->end;
	if (r->fd < 0) {
		size_t n = r->mem_len - r->mem_pos;
		if (n > room)
			n = room;
		if (n)
			memcpy(r->buf + r->end, r->mem + r->mem_pos, n);
		r->mem_pos += n;
		r->end += n;
		im->st.bytes += n;
		if (r->mem_pos == r->mem_len)
			r->eof = true;
		return 0;
	}
	int rc = wait_readable(im, r->fd);
	if (rc)
		return rc;
	for (;;) {
		ssize_t n = read(r->fd, r->buf + r->end, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return irs__seterr(im->err, IRS_EIO, "%s: read error: %s", im->name,
					   strerror(errno));
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
		im->st.bytes += (uint64_t)n;
		return 0;
	}
}

/*
 * Next line into *line and *len (without the '\n'; *nl says whether one followed, and it
 * is then at (*line)[*len]). Returns 1, 0 at the end of the input, or an error code.
 */
int irs_import_read_line(irs_importer *im, char **line, size_t *len, bool *nl)
{
	irs_import_reader *r = &im->rd;
	for (;;) {
		uint8_t *f = r->scanned < r->end
				     ? memchr(r->buf + r->scanned, '\n', r->end - r->scanned)
				     : NULL;
		size_t llen;
		if (f) {
			llen = (size_t)(f - (r->buf + r->start));
			*nl = true;
		} else {
			r->scanned = r->end;
			if (r->end - r->start > im->max_line) {
				im->lineno++;
				return irs__seterr(im->err, IRS_EINPUT,
						   "%s:%" PRIu64 ": line longer than %zu bytes",
						   im->name, im->lineno, im->max_line);
			}
			if (!r->eof) {
				int rc = read_more(im);
				if (rc)
					return rc;
				continue;
			}
			if (r->start == r->end)
				return 0;
			llen = r->end - r->start;
			*nl = false;
		}
		im->lineno++;
		im->st.lines++;
		if (llen > im->max_line)
			return irs__seterr(im->err, IRS_EINPUT, "%s:%" PRIu64 ": line longer than %zu bytes",
					   im->name, im->lineno, im->max_line);
		*line = (char *)r->buf + r->start;
		*len = llen;
		r->start += llen + (*nl ? 1 : 0);
		r->scanned = r->start;
		if (!r->bom_checked) {
			r->bom_checked = true;
			if (llen >= 3 && memcmp(*line, "\xEF\xBB\xBF", 3) == 0) {
				*line += 3;
				*len -= 3;
			}
		}
		return 1;
	}
}
