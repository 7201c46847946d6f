/*
 * schema_json.c: schema.json parsing with json-c (format and errors: schema_json.h).
 *
 * json-c is fine here (unlike for row data): a schema holds only names and small
 * arrays. The tokener runs in strict mode with UTF-8 validation so that what json-c
 * accepts is RFC 8259 JSON.
 *
 * OWNERSHIP: every name is copied (json-c's strings die with its objects); the
 * tables, their column and key arrays and the names are freed by
 * irs_schema_json_free, which can also clean up a half-built schema after an error.
 */
#include "schema_json.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "engine/cli_support.h"
#include "json_scan.h"

#define SCHEMA_MAX_BYTES ((size_t)64 << 20)

static const char type_list[] = "bool, int32, int64, uint32, uint64, double, utf8, bytes, "
				"timestamp (YDB names too: Uint64, Utf8, String, ...)";

void irs_schema_json_free(irs_cli_schema *s)
{
	if (!s || !s->tables)
		return;
	for (uint32_t i = 0; i < s->count; i++) {
		irs_table_def *t = &s->tables[i];
		free((char *)t->name);
		if (t->columns)
			for (uint32_t c = 0; c < t->column_count; c++)
				free((char *)t->columns[c].name);
		free((irs_column_def *)t->columns);
		free((uint32_t *)t->primary_key);
	}
	free(s->tables);
	s->tables = NULL;
	s->count = 0;
}

/* Checks a name from json-c; NULL when fine, else the reason. */
static const char *name_problem(json_object *o)
{
	if (!json_object_is_type(o, json_type_string))
		return "must be a string";
	const char *s = json_object_get_string(o);
	size_t len = (size_t)json_object_get_string_len(o);
	if (len == 0)
		return "must not be empty";
	if (strlen(s) != len)
		return "must not contain NUL";
	if (len > IRS_MAX_NAME)
		return "is longer than 255 bytes";
	if (!irs_json_utf8_valid(s, len))
		return "is not valid UTF-8";
	return NULL;
}

/* The first member of object o not named in allowed[] (NULL-terminated), or NULL. A
 * misspelt member ("colums") must not pass as an ignored extra. */
static const char *unknown_member(json_object *o, const char *const *allowed)
{
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		const char *const *a = allowed;
		while (*a && strcmp(*a, key) != 0)
			a++;
		if (!*a)
			return key;
	}
	return NULL;
}

static const char *const table_members[] = {"table", "columns", "primary_key", NULL};
static const char *const column_members[] = {"name", "type", NULL};

static int parse_table(json_object *o, uint32_t ti, const char *file, irs_table_def *t,
		       irs_error *err)
{
	if (!json_object_is_type(o, json_type_object))
		return irs__seterr(err, IRS_ESCHEMA, "%s: table %u: expected an object", file, ti + 1);
	json_object *jn, *jcols, *jpk;
	if (!json_object_object_get_ex(o, "table", &jn))
		return irs__seterr(err, IRS_ESCHEMA, "%s: table %u: missing \"table\" (its name)",
				   file, ti + 1);
	const char *why = name_problem(jn);
	if (why)
		return irs__seterr(err, IRS_ESCHEMA, "%s: table %u: the name %s", file, ti + 1, why);
	t->name = strdup(json_object_get_string(jn));
	if (!t->name)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", file);
	const char *tn = t->name;
	const char *extra = unknown_member(o, table_members);
	if (extra)
		return irs__seterr(err, IRS_ESCHEMA,
				   "%s: table \"%s\": unknown member \"%s\" (a table has \"table\", "
				   "\"columns\" and \"primary_key\")",
				   file, tn, extra);

	if (!json_object_object_get_ex(o, "columns", &jcols))
		return irs__seterr(err, IRS_ESCHEMA, "%s: table \"%s\": missing \"columns\"", file, tn);
	if (!json_object_is_type(jcols, json_type_array))
		return irs__seterr(err, IRS_ESCHEMA, "%s: table \"%s\": \"columns\" must be an array",
				   file, tn);
	size_t ncols = json_object_array_length(jcols);
	if (ncols == 0)
		return irs__seterr(err, IRS_ESCHEMA, "%s: table \"%s\": \"columns\" is empty", file, tn);
	if (ncols > IRS_MAX_COLUMNS)
		return irs__seterr(err, IRS_ESCHEMA, "%s: table \"%s\": more than %d columns", file, tn,
				   IRS_MAX_COLUMNS);
	irs_column_def *cols = calloc(ncols, sizeof *cols);
	if (!cols)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", file);
	t->columns = cols;
	for (size_t c = 0; c < ncols; c++) {
		json_object *jc = json_object_array_get_idx(jcols, c);
		json_object *jcn, *jct;
		if (!json_object_is_type(jc, json_type_object))
			return irs__seterr(err, IRS_ESCHEMA,
					   "%s: table \"%s\": column %zu: expected an object with "
					   "\"name\" and \"type\"",
					   file, tn, c + 1);
		if (!json_object_object_get_ex(jc, "name", &jcn))
			return irs__seterr(err, IRS_ESCHEMA, "%s: table \"%s\": column %zu: missing \"name\"",
					   file, tn, c + 1);
		if ((why = name_problem(jcn)))
			return irs__seterr(err, IRS_ESCHEMA, "%s: table \"%s\": column %zu: the name %s",
					   file, tn, c + 1, why);
		const char *cn = json_object_get_string(jcn);
		if ((extra = unknown_member(jc, column_members)) != NULL)
			return irs__seterr(err, IRS_ESCHEMA,
					   "%s: table \"%s\": column \"%s\": unknown member \"%s\" (a column "
					   "has \"name\" and \"type\")",
					   file, tn, cn, extra);
		for (size_t p = 0; p < c; p++)
			if (strcmp(cols[p].name, cn) == 0)
				return irs__seterr(err, IRS_ESCHEMA,
						   "%s: table \"%s\": duplicate column \"%s\"", file, tn, cn);
		if (!json_object_object_get_ex(jc, "type", &jct))
			return irs__seterr(err, IRS_ESCHEMA, "%s: table \"%s\": column \"%s\": missing \"type\"",
					   file, tn, cn);
		if (!json_object_is_type(jct, json_type_string))
			return irs__seterr(err, IRS_ESCHEMA,
					   "%s: table \"%s\": column \"%s\": \"type\" must be a string",
					   file, tn, cn);
		irs_type type;
		const char *tyname = json_object_get_string(jct);
		if (irs_type_parse(tyname, &type) != 0)
			return irs__seterr(err, IRS_ESCHEMA,
					   "%s: table \"%s\": column \"%s\": unknown type \"%s\" (types: %s)",
					   file, tn, cn, tyname, type_list);
		cols[c].name = strdup(cn);
		if (!cols[c].name)
			return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", file);
		cols[c].type = type;
		t->column_count = (uint32_t)c + 1;
	}

	if (!json_object_object_get_ex(o, "primary_key", &jpk))
		return irs__seterr(err, IRS_ESCHEMA, "%s: table \"%s\": missing \"primary_key\"", file, tn);
	size_t nkey;
	bool single = json_object_is_type(jpk, json_type_string);
	if (single)
		nkey = 1;
	else if (json_object_is_type(jpk, json_type_array))
		nkey = json_object_array_length(jpk);
	else
		return irs__seterr(err, IRS_ESCHEMA,
				   "%s: table \"%s\": \"primary_key\" must be an array of column names",
				   file, tn);
	if (nkey == 0)
		return irs__seterr(err, IRS_ESCHEMA, "%s: table \"%s\": \"primary_key\" is empty", file, tn);
	/* ncols entries are enough: past them an entry is unknown or listed twice */
	uint32_t *pk = calloc(ncols, sizeof *pk);
	if (!pk)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", file);
	t->primary_key = pk;
	for (size_t k = 0; k < nkey; k++) {
		json_object *jk = single ? jpk : json_object_array_get_idx(jpk, k);
		if (!json_object_is_type(jk, json_type_string))
			return irs__seterr(err, IRS_ESCHEMA,
					   "%s: table \"%s\": primary_key entry %zu must be a column name",
					   file, tn, k + 1);
		const char *kn = json_object_get_string(jk);
		uint32_t found = UINT32_MAX;
		for (uint32_t c = 0; c < t->column_count; c++)
			if (strcmp(cols[c].name, kn) == 0)
				found = c;
		if (found == UINT32_MAX)
			return irs__seterr(err, IRS_ESCHEMA,
					   "%s: table \"%s\": key column \"%s\" not found in \"columns\"",
					   file, tn, kn);
		for (size_t p = 0; p < k; p++)
			if (pk[p] == found)
				return irs__seterr(err, IRS_ESCHEMA,
						   "%s: table \"%s\": key column \"%s\" is listed twice",
						   file, tn, kn);
		pk[k] = found;
		t->primary_key_count = (uint32_t)k + 1;
	}
	return 0;
}

/* 1-based line and column of byte offset off in text. */
static void line_col(const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	size_t start = 0;
	for (size_t i = 0; i < off && i < len; i++)
		if (text[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	*col = off - start + 1;
}

/*
 * What json-c lets through and a schema must not have: two members of one object with
 * the same name (json-c keeps the last), a member name holding U+0000 (json-c cuts it
 * there, so "table\u0000x" would be a second "table"), and what the project's stricter
 * scanner refuses (a lone surrogate escape). "%s:LINE:COL: ...".
 *
 * A schema's objects have at most 3 members, so each name is compared with the ones
 * before it in its object only while there are fewer than MEMBERS_CHECKED: an object
 * with more has at least 5 names no schema object takes, and is refused for them.
 */
#define MEMBERS_CHECKED 8
static int repeated_member(const char *text, size_t len, const char *name, irs_error *err)
{
	struct {
		const char *p; /* the name, unescaped */
		size_t n;
	} m[IRS_JSON_MAX_DEPTH + 1][MEMBERS_CHECKED];
	uint8_t nm[IRS_JSON_MAX_DEPTH + 1] = {0};
	/* every name unescaped once, back to back (never longer than as written) */
	char *names = malloc(len + 1), *end = names;
	if (!names)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", name);
	irs_json_scanner sc;
	irs_json_init(&sc, text, len);
	int rc = 0;
	size_t line, col;
	for (int tok; !rc && (tok = irs_json_next(&sc)) != IRS_JSON_END;) {
		if (tok == IRS_JSON_ERROR) {
			line_col(text, len, sc.err_col - 1, &line, &col);
			rc = irs__seterr(err, IRS_ESCHEMA, "%s:%zu:%zu: malformed JSON: %s", name, line, col,
					 sc.err_msg);
		} else if (tok == IRS_JSON_OBJECT_BEGIN) {
			nm[sc.depth] = 0;
		} else if (tok == IRS_JSON_KEY) {
			const char *kp = end;
			size_t kl = irs_json_unescape(sc.tok_ptr, sc.tok_len, end);
			end += kl;
			size_t at = (size_t)(sc.tok_ptr - 1 - text); /* its opening quote */
			if (memchr(kp, 0, kl)) {
				line_col(text, len, at, &line, &col);
				rc = irs__seterr(err, IRS_ESCHEMA, "%s:%zu:%zu: a member name holds \\u0000", name,
						 line, col);
				break;
			}
			uint8_t *k = &nm[sc.depth];
			for (uint8_t i = 0; !rc && i < *k; i++) {
				if (m[sc.depth][i].n != kl || memcmp(m[sc.depth][i].p, kp, kl) != 0)
					continue;
				size_t n = kl > 200 ? 200 : kl;
				char shown[201];
				for (size_t c = 0; c < n; c++) /* one line, whatever the name holds */
					shown[c] = (unsigned char)kp[c] < 0x20 || kp[c] == 0x7F ? '?' : kp[c];
				shown[n] = '\0';
				line_col(text, len, at, &line, &col);
				rc = irs__seterr(err, IRS_ESCHEMA, "%s:%zu:%zu: member \"%s\" is listed twice", name,
						 line, col, shown);
			}
			if (*k < MEMBERS_CHECKED) {
				m[sc.depth][*k].p = kp;
				m[sc.depth][*k].n = kl;
				(*k)++;
			}
		}
	}
	free(names);
	return rc;
}

int irs_schema_json_parse(const char *text, size_t len, const char *name, irs_cli_schema *out,
			  irs_error *err)
{
	memset(out, 0, sizeof *out);
	if (!name)
		name = "<schema>";
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) { /* a UTF-8 BOM, as data files may have */
		text += 3;
		len -= 3;
	}
	if (len > INT32_MAX)
		return irs__seterr(err, IRS_ESCHEMA, "%s: too large", name);
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", name);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (!root && jerr == json_tokener_continue) {
		json_tokener_free(tok);
		return irs__seterr(err, IRS_ESCHEMA, "%s: malformed JSON: unexpected end of file", name);
	}
	if (!root || jerr != json_tokener_success) {
		size_t line, col;
		line_col(text, len, end, &line, &col);
		json_object_put(root);
		int rc = irs__seterr(err, IRS_ESCHEMA, "%s:%zu:%zu: malformed JSON: %s", name, line, col,
				     root ? "unexpected text after the JSON value"
					  : json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		return rc;
	}
	/* Only whitespace may follow the value. */
	for (size_t i = end; i < len; i++) {
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') {
			size_t line, col;
			line_col(text, len, i, &line, &col);
			json_object_put(root);
			json_tokener_free(tok);
			return irs__seterr(err, IRS_ESCHEMA,
					   "%s:%zu:%zu: malformed JSON: unexpected text after the JSON value",
					   name, line, col);
		}
	}
	json_tokener_free(tok);

	int rc = repeated_member(text, len, name, err);
	if (rc) {
		json_object_put(root);
		return rc;
	}
	json_object *jtables = NULL, *jtable = NULL;
	if (!json_object_is_type(root, json_type_object)) {
		rc = irs__seterr(err, IRS_ESCHEMA,
				 "%s: expected an object with \"table\" (one table) or \"tables\"", name);
		goto out;
	}
	bool many = json_object_object_get_ex(root, "tables", &jtables);
	bool one = json_object_object_get_ex(root, "table", &jtable);
	if (many && one) {
		rc = irs__seterr(err, IRS_ESCHEMA, "%s: has both \"table\" and \"tables\"", name);
		goto out;
	}
	if (!many && !one) {
		rc = irs__seterr(err, IRS_ESCHEMA,
				 "%s: missing \"table\" (one table) or \"tables\" (an array of tables)",
				 name);
		goto out;
	}
	size_t n = 1;
	if (many) {
		static const char *const root_members[] = {"tables", NULL};
		const char *extra = unknown_member(root, root_members);
		if (extra) {
			rc = irs__seterr(err, IRS_ESCHEMA, "%s: unknown member \"%s\" beside \"tables\"", name,
					 extra);
			goto out;
		}
		if (!json_object_is_type(jtables, json_type_array)) {
			rc = irs__seterr(err, IRS_ESCHEMA, "%s: \"tables\" must be an array", name);
			goto out;
		}
		n = json_object_array_length(jtables);
		if (n == 0) {
			rc = irs__seterr(err, IRS_ESCHEMA, "%s: \"tables\" is empty", name);
			goto out;
		}
		if (n > IRS_MAX_TABLES) {
			rc = irs__seterr(err, IRS_ESCHEMA, "%s: more than %d tables", name, IRS_MAX_TABLES);
			goto out;
		}
	}
	out->tables = calloc(n, sizeof *out->tables);
	if (!out->tables) {
		rc = irs__seterr(err, IRS_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *jt = many ? json_object_array_get_idx(jtables, i) : root;
		out->count = (uint32_t)i + 1;
		rc = parse_table(jt, (uint32_t)i, name, &out->tables[i], err);
		if (rc)
			goto out;
		for (size_t p = 0; p < i; p++)
			if (strcmp(out->tables[p].name, out->tables[i].name) == 0) {
				rc = irs__seterr(err, IRS_ESCHEMA, "%s: duplicate table \"%s\"", name,
						 out->tables[i].name);
				goto out;
			}
	}
out:
	json_object_put(root);
	if (rc)
		irs_schema_json_free(out);
	return rc;
}

int irs_schema_json_load(const char *path, irs_cli_schema *out, irs_error *err)
{
	memset(out, 0, sizeof *out);
	char *buf;
	size_t len;
	int rc = irs_cli_read_file(path, SCHEMA_MAX_BYTES, IRS_ESCHEMA, &buf, &len, err);
	if (rc)
		return rc;
	rc = irs_schema_json_parse(buf, len, path, out, err);
	free(buf);
	return rc;
}
