/*
 * ydb_scheme.c: a YDB dump's scheme.pb -> irs_ydb_scheme (ydb_scheme.h), on top of the
 * text-format tree of ydb_textproto.h.
 *
 * The writer of scheme.pb is TextFormat::PrintToString over a CreateTableRequest
 * (ydb/library/backup/backup.cpp), so enum values appear by name (`type_id: UINT64`);
 * a number there would be an id this code has never heard of and is reported as such.
 */
#include "ydb_scheme.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "engine/cli_support.h"
#include "ydb_textproto.h"

/* Ydb.Type.PrimitiveTypeId names -> kind and YDB's spelling. */
static const struct {
	const char *id;
	const char *name;
	irs_ydb_kind kind;
} primitives[] = {
	{"BOOL", "Bool", IRS_YDB_BOOL},
	{"INT8", "Int8", IRS_YDB_INT8},
	{"UINT8", "Uint8", IRS_YDB_UINT8},
	{"INT16", "Int16", IRS_YDB_INT16},
	{"UINT16", "Uint16", IRS_YDB_UINT16},
	{"INT32", "Int32", IRS_YDB_INT32},
	{"UINT32", "Uint32", IRS_YDB_UINT32},
	{"INT64", "Int64", IRS_YDB_INT64},
	{"UINT64", "Uint64", IRS_YDB_UINT64},
	{"FLOAT", "Float", IRS_YDB_FLOAT},
	{"DOUBLE", "Double", IRS_YDB_DOUBLE},
	{"DATE", "Date", IRS_YDB_DATE},
	{"DATETIME", "Datetime", IRS_YDB_DATETIME},
	{"TIMESTAMP", "Timestamp", IRS_YDB_TIMESTAMP},
	{"INTERVAL", "Interval", IRS_YDB_INTERVAL},
	{"STRING", "String", IRS_YDB_STRING},
	{"UTF8", "Utf8", IRS_YDB_UTF8},
	{"YSON", "Yson", IRS_YDB_YSON},
	{"JSON", "Json", IRS_YDB_JSON},
	{"JSON_DOCUMENT", "JsonDocument", IRS_YDB_JSON_DOCUMENT},
	/* known to YDB, not importable */
	{"TZ_DATE", "TzDate", IRS_YDB_UNSUPPORTED},
	{"TZ_DATETIME", "TzDatetime", IRS_YDB_UNSUPPORTED},
	{"TZ_TIMESTAMP", "TzTimestamp", IRS_YDB_UNSUPPORTED},
	{"DATE32", "Date32", IRS_YDB_UNSUPPORTED},
	{"DATETIME64", "Datetime64", IRS_YDB_UNSUPPORTED},
	{"TIMESTAMP64", "Timestamp64", IRS_YDB_UNSUPPORTED},
	{"INTERVAL64", "Interval64", IRS_YDB_UNSUPPORTED},
	{"UUID", "Uuid", IRS_YDB_UNSUPPORTED},
	{"DYNUMBER", "DyNumber", IRS_YDB_UNSUPPORTED},
	{"PRIMITIVE_TYPE_ID_UNSPECIFIED", "an unspecified type", IRS_YDB_UNSUPPORTED},
};

/* The oneof members of Ydb.Type other than type_id / decimal / optional / pg. */
static const struct {
	const char *field;
	const char *name;
} others[] = {
	{"list_type", "List<...>"},       {"tuple_type", "Tuple<...>"},
	{"struct_type", "Struct<...>"},   {"dict_type", "Dict<...>"},
	{"variant_type", "Variant<...>"}, {"tagged_type", "Tagged<...>"},
	{"void_type", "Void"},            {"null_type", "Null"},
	{"empty_list_type", "EmptyList"}, {"empty_dict_type", "EmptyDict"},
};

static int serr(irs_error *err, const char *file, const irs_tp_node *at, const char *fmt, ...)
	IRS_PRINTF(4, 5);

/* "FILE:LINE: <formatted>" (or "FILE: ..." without a node), IRS_EINPUT. */
static int serr(irs_error *err, const char *file, const irs_tp_node *at, const char *fmt, ...)
{
	char what[IRS_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (at)
		return irs__seterr(err, IRS_EINPUT, "%s:%u: %s", file, at->line, what);
	return irs__seterr(err, IRS_EINPUT, "%s: %s", file, what);
}

/* The scalar text of field `name` of msg, or NULL when absent or not a scalar. */
static const char *scalar(const irs_tp_node *msg, const char *name)
{
	const irs_tp_node *n = irs_tp_first(msg, name);
	return n && n->kind != IRS_TP_MESSAGE ? n->value : NULL;
}

/* Fills c->kind / type_name / optional from a Ydb.Type message. depth counts the
 * optional wrappers already seen. */
static int read_type(const irs_tp_node *type, irs_ydb_column *c, int depth, const char *file,
		     irs_error *err)
{
	if (!type || type->kind != IRS_TP_MESSAGE)
		return serr(err, file, type, "column %s: type is not a message", c->name);
	const irs_tp_node *n;
	if ((n = irs_tp_first(type, "optional_type")) != NULL) {
		const irs_tp_node *item = irs_tp_first(n, "item");
		if (!item)
			return serr(err, file, n, "column %s: optional_type without item", c->name);
		if (depth > 0) {
			/* Optional<Optional<T>>: a container increstore cannot hold */
			c->kind = IRS_YDB_UNSUPPORTED;
			snprintf(c->type_name, sizeof c->type_name, "Optional<Optional<...>>");
			return 0;
		}
		c->optional = true;
		return read_type(item, c, depth + 1, file, err);
	}
	if ((n = irs_tp_first(type, "type_id")) != NULL) {
		for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++) {
			if (strcmp(n->value ? n->value : "", primitives[i].id) == 0) {
				c->kind = primitives[i].kind;
				snprintf(c->type_name, sizeof c->type_name, "%s", primitives[i].name);
				return 0;
			}
		}
		c->kind = IRS_YDB_UNSUPPORTED;
		snprintf(c->type_name, sizeof c->type_name, "type id %.40s", n->value ? n->value : "?");
		return 0;
	}
	c->kind = IRS_YDB_UNSUPPORTED;
	if ((n = irs_tp_first(type, "decimal_type")) != NULL) {
		const char *p = scalar(n, "precision"), *s = scalar(n, "scale");
		snprintf(c->type_name, sizeof c->type_name, "Decimal(%.10s,%.10s)", p ? p : "?", s ? s : "?");
		return 0;
	}
	if ((n = irs_tp_first(type, "pg_type")) != NULL) {
		const char *tn = scalar(n, "type_name"), *oid = scalar(n, "oid");
		snprintf(c->type_name, sizeof c->type_name, "Pg(%.40s)", tn ? tn : oid ? oid : "?");
		return 0;
	}
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		if (irs_tp_first(type, others[i].field)) {
			snprintf(c->type_name, sizeof c->type_name, "%s", others[i].name);
			return 0;
		}
	}
	return serr(err, file, type, "column %s: type is empty or unknown", c->name);
}

static int read_columns(const irs_tp_node *root, irs_ydb_scheme *s, const char *file, irs_error *err)
{
	size_t n = irs_tp_count(root, "columns");
	if (n == 0)
		return serr(err, file, NULL, "no columns");
	/* refused before the columns are read: a collection table holds at most
	 * IRS_MAX_COLUMNS, and an incremental adds at most 3 system columns */
	if (n > IRS_MAX_COLUMNS + 3)
		return serr(err, file, NULL, "%zu columns (a table holds at most %u)", n, IRS_MAX_COLUMNS);
	s->cols = calloc(n, sizeof *s->cols);
	if (!s->cols)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", file);
	for (const irs_tp_node *c = irs_tp_first(root, "columns"); c; c = irs_tp_next(c)) {
		irs_ydb_column *col = &s->cols[s->ncols];
		if (c->kind != IRS_TP_MESSAGE)
			return serr(err, file, c, "columns is not a message");
		const irs_tp_node *nm = irs_tp_first(c, "name");
		if (!nm || nm->kind != IRS_TP_STRING || nm->value_len == 0)
			return serr(err, file, c, "a column without a name");
		if (strlen(nm->value) != nm->value_len)
			return serr(err, file, c, "a column name holds a NUL byte");
		col->name = strdup(nm->value);
		if (!col->name)
			return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", file);
		s->ncols++;
		if (irs_ydb_scheme_find(s, col->name) != (int)s->ncols - 1)
			return serr(err, file, c, "duplicate column %s", col->name);
		const irs_tp_node *ty = irs_tp_first(c, "type");
		if (!ty)
			return serr(err, file, c, "column %s has no type", col->name);
		int rc = read_type(ty, col, 0, file, err);
		if (rc)
			return rc;
		const char *nn = scalar(c, "not_null");
		col->not_null = nn && (strcmp(nn, "true") == 0 || strcmp(nn, "True") == 0 ||
				       strcmp(nn, "t") == 0 || strcmp(nn, "1") == 0);
	}
	return 0;
}

static int read_key(const irs_tp_node *root, irs_ydb_scheme *s, const char *file, irs_error *err)
{
	size_t n = irs_tp_count(root, "primary_key");
	if (n == 0)
		return serr(err, file, NULL, "no primary_key");
	if (n > s->ncols)
		return serr(err, file, NULL, "more primary_key entries than columns");
	s->pk = calloc(n, sizeof *s->pk);
	if (!s->pk)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", file);
	for (const irs_tp_node *k = irs_tp_first(root, "primary_key"); k; k = irs_tp_next(k)) {
		if (k->kind != IRS_TP_STRING)
			return serr(err, file, k, "primary_key is not a string");
		int c = irs_ydb_scheme_find(s, k->value);
		if (c < 0)
			return serr(err, file, k, "primary_key %s is not a column", k->value);
		if (irs_ydb_scheme_is_key(s, (uint32_t)c))
			return serr(err, file, k, "primary_key %s is listed twice", k->value);
		s->pk[s->npk++] = (uint32_t)c;
	}
	return 0;
}

int irs_ydb_scheme_parse(const char *text, size_t len, const char *name, irs_ydb_scheme *out,
			 irs_error *err)
{
	memset(out, 0, sizeof *out);
	irs_tp_node *root;
	int rc = irs_tp_parse(text, len, name, &root, err);
	if (rc)
		return rc;
	rc = read_columns(root, out, name, err);
	if (!rc)
		rc = read_key(root, out, name, err);
	for (const irs_tp_node *a = irs_tp_first(root, "attributes"); !rc && a; a = irs_tp_next(a)) {
		const char *k = scalar(a, "key");
		if (k && strcmp(k, "__incremental_backup") == 0)
			out->incremental = true;
	}
	irs_tp_free(root);
	if (rc)
		irs_ydb_scheme_free(out);
	return rc;
}

int irs_ydb_scheme_read(const char *path, irs_ydb_scheme *out, irs_error *err)
{
	memset(out, 0, sizeof *out);
	char *buf;
	size_t len;
	int rc = irs_cli_read_file(path, IRS_YDB_SCHEME_MAX_BYTES, IRS_EINPUT, &buf, &len, err);
	if (rc)
		return rc;
	rc = irs_ydb_scheme_parse(buf, len, path, out, err);
	free(buf);
	return rc;
}

void irs_ydb_scheme_free(irs_ydb_scheme *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->ncols; i++)
		free(s->cols[i].name);
	free(s->cols);
	free(s->pk);
	memset(s, 0, sizeof *s);
}

int irs_ydb_scheme_find(const irs_ydb_scheme *s, const char *name)
{
	for (uint32_t i = 0; i < s->ncols; i++)
		if (s->cols[i].name && strcmp(s->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool irs_ydb_scheme_is_key(const irs_ydb_scheme *s, uint32_t c)
{
	for (uint32_t i = 0; i < s->npk; i++)
		if (s->pk[i] == c)
			return true;
	return false;
}
