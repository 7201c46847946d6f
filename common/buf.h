/* buf.h (private): a growable byte buffer over an irs_mem. */
#ifndef IRS_COMMON_BUF_H
#define IRS_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"

typedef struct irs_buf {
	irs_mem *mem;
	uint8_t *p;
	size_t len;
	size_t cap;
} irs_buf;

static inline void irs__buf_init(irs_buf *b, irs_mem *mem)
{
	b->mem = mem;
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Makes room for `more` bytes past len; false on out of memory (b unchanged). */
static inline bool irs__buf_reserve(irs_buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return true;
	size_t need = b->len + more;
	if (need < b->len)
		return false;
	size_t ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap = ncap * 2 > ncap ? ncap * 2 : need;
	uint8_t *np = irs__realloc(b->mem, b->p, b->cap, ncap);
	if (!np)
		return false;
	b->p = np;
	b->cap = ncap;
	return true;
}

static inline bool irs__buf_append(irs_buf *b, const void *data, size_t n)
{
	if (!irs__buf_reserve(b, n))
		return false;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	return true;
}

static inline void irs__buf_free(irs_buf *b)
{
	irs__free(b->mem, b->p, b->cap);
	b->p = NULL;
	b->len = b->cap = 0;
}

#endif
