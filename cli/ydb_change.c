/*
 * ydb_change.c: YDB's incremental-restore rule for one row (ydb_change.h), the
 * protobuf wire parser for the column-state metadata, and the tag -> column recovery.
 *
 * The rule is kept literally as MakeRestoreUpdates states it, including its quirks:
 * generation 1 writes every value column as stored (so a partial update recorded by
 * that writer NULLs the columns it did not touch), and unusable metadata degrades to
 * "write everything stored" instead of failing the restore.
 */
#include "ydb_change.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli_support.h"

/* ---- system columns */

static bool is_system_name(const char *n)
{
	return strncmp(n, IRS_YDB_SYS_PREFIX, strlen(IRS_YDB_SYS_PREFIX)) == 0;
}

const char *irs_ydb_sys_detect(const irs_ydb_scheme *s, irs_ydb_sys *out)
{
	out->generation = 0;
	out->deleted_col = out->states_col = out->meta_col = -1;
	for (uint32_t c = 0; c < s->ncols; c++) {
		const irs_ydb_column *col = &s->cols[c];
		if (!is_system_name(col->name))
			continue;
		int *slot;
		irs_ydb_kind want;
		if (strcmp(col->name, IRS_YDB_SYS_DELETED) == 0) {
			slot = &out->deleted_col;
			want = IRS_YDB_BOOL;
		} else if (strcmp(col->name, IRS_YDB_SYS_STATES) == 0) {
			slot = &out->states_col;
			want = IRS_YDB_STRING;
		} else if (strcmp(col->name, IRS_YDB_SYS_META) == 0) {
			slot = &out->meta_col;
			want = IRS_YDB_STRING;
		} else {
			return "unknown system column (a newer YDB backup format?)";
		}
		if (col->kind != want)
			return want == IRS_YDB_BOOL ? "system column " IRS_YDB_SYS_DELETED " is not Bool"
						    : "system column state/metadata column is not String";
		if (irs_ydb_scheme_is_key(s, c))
			return "a system column is part of the primary key";
		*slot = (int)c;
	}
	if (out->meta_col >= 0 && out->deleted_col < 0 && out->states_col < 0)
		out->generation = 3;
	else if (out->meta_col < 0 && out->deleted_col >= 0 && out->states_col >= 0)
		out->generation = 2;
	else if (out->meta_col < 0 && out->deleted_col >= 0 && out->states_col < 0)
		out->generation = 1;
	else if (out->meta_col < 0 && out->deleted_col < 0 && out->states_col < 0)
		return "no system column (" IRS_YDB_SYS_DELETED " or " IRS_YDB_SYS_META
		       "): not an incremental backup table";
	else
		return "its system columns match no known generation of YDB's incremental backups";
	return NULL;
}

bool irs_ydb_sys_is_system(const irs_ydb_sys *sys, uint32_t c)
{
	return (int)c == sys->deleted_col || (int)c == sys->states_col || (int)c == sys->meta_col;
}

/* ---- protobuf wire format */

typedef struct wire {
	const uint8_t *p, *end;
} wire;

static bool varint(wire *w, uint64_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < 10; i++) {
		if (w->p >= w->end)
			return false;
		uint8_t b = *w->p++;
		v |= (uint64_t)(b & 0x7F) << (7 * i);
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

static bool skip_bytes(wire *w, uint64_t n)
{
	if (n > (uint64_t)(w->end - w->p))
		return false;
	w->p += n;
	return true;
}

static bool skip_field(wire *w, uint32_t field, int type, int depth);

/* A group: fields until the END_GROUP of `field`. */
static bool skip_group(wire *w, uint32_t field, int depth)
{
	if (depth > 100)
		return false;
	for (;;) {
		uint64_t key;
		if (!varint(w, &key) || key > UINT32_MAX || (key >> 3) == 0)
			return false;
		int type = (int)(key & 7);
		uint32_t f = (uint32_t)(key >> 3);
		if (type == 4)
			return f == field;
		if (!skip_field(w, f, type, depth + 1))
			return false;
	}
}

static bool skip_field(wire *w, uint32_t field, int type, int depth)
{
	uint64_t v;
	switch (type) {
	case 0:
		return varint(w, &v);
	case 1:
		return skip_bytes(w, 8);
	case 2:
		return varint(w, &v) && v <= INT32_MAX && skip_bytes(w, v);
	case 3:
		return skip_group(w, field, depth);
	case 5:
		return skip_bytes(w, 4);
	default: /* 4 (an END_GROUP with no group open), 6, 7 */
		return false;
	}
}

/* One TColumnState from p[0..len). */
static bool parse_state(const uint8_t *p, size_t len, irs_ydb_state *st)
{
	wire w = {p, p + len};
	*st = (irs_ydb_state){0, false, false};
	while (w.p < w.end) {
		uint64_t key, v;
		if (!varint(&w, &key) || key > UINT32_MAX || (key >> 3) == 0)
			return false;
		uint32_t f = (uint32_t)(key >> 3);
		int type = (int)(key & 7);
		if (type == 0 && f >= 1 && f <= 3) {
			if (!varint(&w, &v))
				return false;
			if (f == 1)
				st->tag = (uint32_t)v; /* uint32 field: the low 32 bits, as protobuf */
			else if (f == 2)
				st->is_null = v != 0;
			else
				st->is_changed = v != 0;
		} else if (!skip_field(&w, f, type, 0)) {
			return false;
		}
	}
	return true;
}

int irs_ydb_meta_parse(const uint8_t *p, size_t len, irs_ydb_meta *m)
{
	wire w = {p, p + len};
	m->n = 0;
	m->is_deleted = false;
	while (w.p < w.end) {
		uint64_t key, v;
		if (!varint(&w, &key) || key > UINT32_MAX || (key >> 3) == 0)
			return 0;
		uint32_t f = (uint32_t)(key >> 3);
		int type = (int)(key & 7);
		if (f == 1 && type == 2) {
			if (!varint(&w, &v) || v > (uint64_t)(w.end - w.p))
				return 0;
			if (m->n == m->cap) {
				size_t ncap = m->cap ? m->cap * 2 : 16;
				irs_ydb_state *ns = realloc(m->states, ncap * sizeof *ns);
				if (!ns)
					return -1;
				m->states = ns;
				m->cap = ncap;
			}
			if (!parse_state(w.p, (size_t)v, &m->states[m->n]))
				return 0;
			m->n++;
			w.p += v;
		} else if (f == 2 && type == 0) {
			if (!varint(&w, &v))
				return 0;
			m->is_deleted = v != 0;
		} else if (!skip_field(&w, f, type, 0)) {
			return 0;
		}
	}
	return 1;
}

void irs_ydb_meta_free(irs_ydb_meta *m)
{
	free(m->states);
	memset(m, 0, sizeof *m);
}

/* ---- one row */

/* Parses the row's metadata when it is usable: 1 parsed, 0 absent/empty/malformed, -1 ENOMEM. */
static int usable_meta(const irs_ydb_rowsys *rs, irs_ydb_meta *m)
{
	if (!rs->meta || rs->meta_len == 0)
		return 0;
	return irs_ydb_meta_parse(rs->meta, rs->meta_len, m);
}

long irs_ydb_row_tags(int generation, const irs_ydb_rowsys *rs, irs_ydb_meta *m)
{
	m->n = 0;
	if (generation == 1 || (generation == 2 && rs->deleted))
		return 0;
	int u = usable_meta(rs, m);
	if (u < 0)
		return -1;
	if (u == 0 || (generation == 3 && m->is_deleted)) {
		m->n = 0;
		return 0;
	}
	return (long)m->n;
}

static long map_find(const irs_ydb_tagmap *map, uint32_t tag)
{
	if (!map)
		return -1;
	size_t lo = 0, hi = map->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (map->tags[mid] < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < map->n && map->tags[lo] == tag ? (long)map->value[lo] : -1;
}

int irs_ydb_row_change(int generation, const irs_ydb_rowsys *rs, irs_ydb_meta *m,
		       const irs_ydb_tagmap *map, uint8_t *action, uint32_t nvalues,
		       uint32_t *bad_tag)
{
	memset(action, IRS_YDB_COL_STORED, nvalues);
	if (generation != 3 && rs->deleted)
		return IRS_YDB_ROW_ERASE;
	if (generation == 1)
		return IRS_YDB_ROW_UPSERT;
	int u = usable_meta(rs, m);
	if (u < 0)
		return -1;
	if (u == 0)
		return IRS_YDB_ROW_UPSERT;
	if (generation == 3 && m->is_deleted)
		return IRS_YDB_ROW_ERASE;
	for (size_t i = 0; i < m->n; i++) {
		const irs_ydb_state *st = &m->states[i];
		long j = map_find(map, st->tag);
		if (j < 0 || (uint32_t)j >= nvalues) {
			*bad_tag = st->tag;
			return -2;
		}
		action[j] = !st->is_changed ? IRS_YDB_COL_SKIP
			    : st->is_null   ? IRS_YDB_COL_NULL
					    : IRS_YDB_COL_STORED;
	}
	return IRS_YDB_ROW_UPSERT;
}

/* ---- tags */

static bool sorted_has(const uint32_t *a, size_t n, uint32_t x, size_t *at)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return lo < n && a[lo] == x;
}

int irs_ydb_tagmap_build(const uint32_t *tags, size_t ntags, const uint32_t *value_pos,
			 uint32_t nvalues, irs_ydb_tagmap *out, char *why, size_t whycap)
{
	memset(out, 0, sizeof *out);
	if (ntags == 0)
		return 0;
	bool by_order = ntags == nvalues;
	bool by_pos = true;
	for (size_t i = 0; i < ntags && by_pos && !by_order; i++) {
		size_t at;
		by_pos = sorted_has(value_pos, nvalues, tags[i], &at);
	}
	if (!by_order && !by_pos) {
		size_t len = (size_t)snprintf(why, whycap,
					      "the column-state tags of its rows (");
		for (size_t i = 0; i < ntags && len < whycap; i++) {
			if (i == 16 && ntags > 17) {
				len += (size_t)snprintf(why + len, whycap - len, ", ... %zu in all", ntags);
				break;
			}
			len += (size_t)snprintf(why + len, whycap - len, "%s%u", i ? ", " : "", tags[i]);
		}
		if (len < whycap)
			snprintf(why + len, whycap - len,
				 ") match neither its %u value columns in order nor their positions "
				 "among all columns",
				 nvalues);
		return IRS_EINPUT;
	}
	out->tags = malloc(ntags * sizeof *out->tags);
	out->value = malloc(ntags * sizeof *out->value);
	if (!out->tags || !out->value) {
		irs_ydb_tagmap_free(out);
		return IRS_ENOMEM;
	}
	for (size_t i = 0; i < ntags; i++) {
		size_t at = i;
		if (!by_order)
			sorted_has(value_pos, nvalues, tags[i], &at);
		out->tags[i] = tags[i];
		out->value[i] = (uint32_t)at;
	}
	out->n = ntags;
	return 0;
}

void irs_ydb_tagmap_free(irs_ydb_tagmap *m)
{
	free(m->tags);
	free(m->value);
	memset(m, 0, sizeof *m);
}

static size_t slot_of(uint32_t tag, size_t mask)
{
	return (size_t)((tag * 2654435761u) & mask);
}

int irs_ydb_tagset_add(irs_ydb_tagset *s, uint32_t tag)
{
	if (s->cap) {
		for (size_t i = slot_of(tag, s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
			if (s->slots[i] == 0)
				break;
			if (s->slots[i] == (uint64_t)tag + 1)
				return 0;
		}
	}
	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		uint64_t *ns = calloc(ncap, sizeof *ns);
		if (!ns)
			return -1;
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->slots[i])
				continue;
			size_t j = slot_of((uint32_t)(s->slots[i] - 1), ncap - 1);
			while (ns[j])
				j = (j + 1) & (ncap - 1);
			ns[j] = s->slots[i];
		}
		free(s->slots);
		s->slots = ns;
		s->cap = ncap;
	}
	size_t i = slot_of(tag, s->cap - 1);
	while (s->slots[i])
		i = (i + 1) & (s->cap - 1);
	s->slots[i] = (uint64_t)tag + 1;
	s->n++;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int irs_ydb_tagset_sorted(const irs_ydb_tagset *s, uint32_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!s->n)
		return 0;
	uint32_t *a = malloc(s->n * sizeof *a);
	if (!a)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i])
			a[k++] = (uint32_t)(s->slots[i] - 1);
	if (k)
		qsort(a, k, sizeof *a, cmp_u32);
	*out = a;
	*n = k;
	return 0;
}

void irs_ydb_tagset_free(irs_ydb_tagset *s)
{
	free(s->slots);
	memset(s, 0, sizeof *s);
}
