/*
 * import_jsonl.c: JSONL rows ({"column": value, ...} per line) and changes
 * ({"op": "upsert", "row": {...}} or {"op": "erase", "key": {...}} per line), as
 * import.h describes them.
 *
 * ALGORITHM: each line goes through the pull scanner (json_scan.h); object members
 * are mapped to columns through the importer's hash of the column names and parsed
 * straight into the irs_value array, which is handed to the sink. Strings are
 * unescaped in place in the line buffer (which only shrinks them), so a value costs
 * no allocation; numbers too long for a stack buffer are copied to a scratch buffer
 * to be NUL-terminated for strtod.
 */
#include "importer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"

static int json_syntax_err(irs_importer *im, const irs_json_scanner *s)
{
	return irs_import_error(im, s->err_col, "malformed JSON: %s", s->err_msg);
}

static const char *tok_kind(int tok)
{
	switch (tok) {
	case IRS_JSON_OBJECT_BEGIN: return "an object";
	case IRS_JSON_ARRAY_BEGIN: return "an array";
	case IRS_JSON_STRING: return "a string";
	case IRS_JSON_NUMBER: return "a number";
	case IRS_JSON_TRUE: return "true";
	case IRS_JSON_FALSE: return "false";
	case IRS_JSON_NULL: return "null";
	default: return "something else";
	}
}

/* The mutable bytes of the scanner's current token (the line buffer is ours). */
static char *tok_mut(const irs_json_scanner *s, char *line)
{
	return line + (s->tok_ptr - (const char *)s->buf);
}

/* Unescapes the current string token in place; returns its length. */
static size_t tok_string(const irs_json_scanner *s, char *line, char **out)
{
	char *p = tok_mut(s, line);
	*out = p;
	return s->tok_escaped ? irs_json_unescape(p, s->tok_len, p) : s->tok_len;
}

/* A NUL-terminated copy of the number token (stack for short ones). */
static const char *number_cstr(irs_importer *im, const irs_json_scanner *s, char *small, size_t small_cap)
{
	char *dst = small;
	if (s->tok_len + 1 > small_cap) {
		if (s->tok_len + 1 > im->scratch_cap) {
			char *n = realloc(im->scratch, s->tok_len + 1);
			if (!n)
				return NULL;
			im->scratch = n;
			im->scratch_cap = s->tok_len + 1;
		}
		dst = im->scratch;
	}
	memcpy(dst, s->tok_ptr, s->tok_len);
	dst[s->tok_len] = '\0';
	return dst;
}

typedef struct value_problem {
	const char *reason;     /* NULL: fine */
	const char *got;        /* what was found, for "(got ...)"; may be NULL */
	size_t got_len;
	bool syntax;            /* a JSON syntax error inside the value: use the scanner's */
	bool nomem;
} value_problem;

static void problem(value_problem *vp, const char *reason, const char *got, size_t got_len)
{
	vp->reason = reason;
	vp->got = got;
	vp->got_len = got_len;
}

static void problem_kind(value_problem *vp, const char *reason, int tok)
{
	problem(vp, reason, tok_kind(tok), strlen(tok_kind(tok)));
}

/* The next token inside a value; a syntax error marks vp (the scanner has the message). */
static int value_token(irs_json_scanner *s, value_problem *vp)
{
	int tok = irs_json_next(s);
	if (tok == IRS_JSON_ERROR)
		vp->syntax = true;
	return tok;
}

/* Parses {"base64": "..."} after its OBJECT_BEGIN into v. */
static void json_base64(irs_json_scanner *s, char *line, irs_value *v, value_problem *vp)
{
	static const char want[] = "expected a string or {\"base64\": \"...\"}";
	int tok = value_token(s, vp);
	if (tok == IRS_JSON_ERROR)
		return;
	char *k;
	size_t klen = tok == IRS_JSON_KEY ? tok_string(s, line, &k) : 0;
	if (tok != IRS_JSON_KEY || klen != 6 || memcmp(k, "base64", 6) != 0) {
		problem(vp, want, "another object", 14);
		return;
	}
	if ((tok = value_token(s, vp)) == IRS_JSON_ERROR)
		return;
	if (tok != IRS_JSON_STRING) {
		problem_kind(vp, "\"base64\" must be a string", tok);
		return;
	}
	char *p;
	size_t n = tok_string(s, line, &p);
	size_t outlen;
	const char *r = irs_import_base64_decode(p, n, (uint8_t *)p, &outlen);
	if (r) {
		problem(vp, r, p, n);
		return;
	}
	if ((tok = value_token(s, vp)) == IRS_JSON_ERROR)
		return;
	if (tok != IRS_JSON_OBJECT_END) {
		problem(vp, want, "an object with more members", 27);
		return;
	}
	v->v.s.ptr = p;
	v->v.s.len = outlen;
	v->state = IRS_VALUE_SET;
}

/* Parses the value whose first token `tok` was just read into v (column type t). */
static void json_value(irs_importer *im, irs_json_scanner *s, char *line, int tok, irs_type t,
		       irs_value *v, value_problem *vp)
{
	char small[64];
	switch (t) {
	case IRS_TYPE_BOOL:
		if (tok == IRS_JSON_TRUE || tok == IRS_JSON_FALSE) {
			v->v.b = tok == IRS_JSON_TRUE;
			v->state = IRS_VALUE_SET;
			return;
		}
		if (tok == IRS_JSON_NUMBER || tok == IRS_JSON_STRING)
			problem(vp, "expected true or false", s->tok_ptr, s->tok_len);
		else
			problem_kind(vp, "expected true or false", tok);
		return;
	case IRS_TYPE_INT32:
	case IRS_TYPE_INT64:
	case IRS_TYPE_UINT32:
	case IRS_TYPE_UINT64:
	case IRS_TYPE_TIMESTAMP:
		if (tok == IRS_JSON_NUMBER) {
			if (s->num_fraction || s->num_exponent) {
				problem(vp, t == IRS_TYPE_TIMESTAMP
						    ? "expected integer microseconds or an RFC 3339 string"
						    : "expected an integer (no fraction or exponent)",
					s->tok_ptr, s->tok_len);
				return;
			}
			const char *r = irs_import_parse_int(t, s->tok_ptr, s->tok_len, v);
			if (r)
				problem(vp, r, s->tok_ptr, s->tok_len);
			return;
		}
		if (t == IRS_TYPE_TIMESTAMP && tok == IRS_JSON_STRING) {
			char *p;
			size_t n = tok_string(s, line, &p);
			const char *r = irs_import_parse_rfc3339(p, n, &v->v.i64);
			if (r)
				problem(vp, r, p, n);
			else
				v->state = IRS_VALUE_SET;
			return;
		}
		problem_kind(vp, t == IRS_TYPE_TIMESTAMP
					 ? "expected integer microseconds or an RFC 3339 string"
					 : "expected an integer",
			     tok);
		return;
	case IRS_TYPE_DOUBLE:
		if (tok == IRS_JSON_NUMBER) {
			const char *c = number_cstr(im, s, small, sizeof small);
			if (!c) {
				vp->nomem = true;
				return;
			}
			char *end;
			errno = 0;
			double d = strtod(c, &end);
			if (errno == ERANGE && isinf(d)) {
				problem(vp, "out of range for double", s->tok_ptr, s->tok_len);
				return;
			}
			v->v.d = d;
			v->state = IRS_VALUE_SET;
			return;
		}
		if (tok == IRS_JSON_STRING) {
			char *p;
			size_t n = tok_string(s, line, &p);
			if (irs_import_double_special(p, n, &v->v.d)) {
				v->state = IRS_VALUE_SET;
				return;
			}
			problem(vp, "expected a number (or \"NaN\", \"Infinity\", \"-Infinity\")", p, n);
			return;
		}
		problem_kind(vp, "expected a number", tok);
		return;
	case IRS_TYPE_UTF8:
	case IRS_TYPE_BYTES:
		if (tok == IRS_JSON_STRING) {
			char *p;
			v->v.s.len = tok_string(s, line, &p);
			v->v.s.ptr = p;
			v->state = IRS_VALUE_SET;
			return;
		}
		if (t == IRS_TYPE_BYTES && tok == IRS_JSON_OBJECT_BEGIN) {
			json_base64(s, line, v, vp);
			return;
		}
		problem_kind(vp, t == IRS_TYPE_UTF8 ? "expected a string"
						    : "expected a string or {\"base64\": \"...\"}",
			     tok);
		return;
	}
	problem(vp, "unknown column type", NULL, 0);
}

static int column_err(irs_importer *im, size_t col, uint32_t c, const value_problem *vp)
{
	char ex[IRS_IMPORT_EXCERPT_MAX + 4];
	const irs_column_def *cd = &im->t->columns[c];
	int nlen = (int)(im->name_len[c] < IRS_IMPORT_NAME_SHOWN ? im->name_len[c] : IRS_IMPORT_NAME_SHOWN);
	if (vp->got)
		return irs_import_error(im, col, "column \"%.*s\" (%s): %s (got %s)", nlen, cd->name,
			      irs_import_type_name(cd->type), vp->reason, irs_import_excerpt(vp->got, vp->got_len, ex));
	return irs_import_error(im, col, "column \"%.*s\" (%s): %s", nlen, cd->name, irs_import_type_name(cd->type),
		      vp->reason);
}

/*
 * Reads the members of an object whose OBJECT_BEGIN was just returned, up to its
 * OBJECT_END, into im->vals. mode: IRS_IMPORT_MODE_FULL / IRS_IMPORT_MODE_UPSERT (any column) or
 * IRS_IMPORT_MODE_ERASE (key columns only).
 */
static int json_members(irs_importer *im, irs_json_scanner *s, char *line, int mode)
{
	for (;;) {
		int tok = irs_json_next(s);
		if (tok == IRS_JSON_ERROR)
			return json_syntax_err(im, s);
		if (tok == IRS_JSON_OBJECT_END)
			return 0;
		size_t kcol = s->tok_col;
		char *name;
		size_t nlen = tok_string(s, line, &name);
		int shown = (int)(nlen < IRS_IMPORT_NAME_SHOWN ? nlen : IRS_IMPORT_NAME_SHOWN);
		int c = irs_import_find_column(im, name, nlen);
		if (c < 0) {
			const char *hint = "";
			if (mode == IRS_IMPORT_MODE_FULL && nlen == 2 && memcmp(name, "op", 2) == 0)
				hint = " (this looks like a changes file: use --incremental)";
			return irs_import_error(im, kcol, "unknown column \"%.*s\" in table \"%s\"%s", shown,
				      name, im->t->name, hint);
		}
		if (im->seen[c] == im->gen)
			return irs_import_error(im, kcol, "column \"%.*s\" is listed twice", shown, name);
		im->seen[c] = im->gen;
		if (mode == IRS_IMPORT_MODE_ERASE && !im->is_key[c])
			return irs_import_error(im, kcol,
				      "column \"%.*s\" is not a primary key column (an erase lists "
				      "the key only)",
				      shown, name);
		tok = irs_json_next(s);
		if (tok == IRS_JSON_ERROR)
			return json_syntax_err(im, s);
		size_t vcol = s->tok_col;
		irs_value *v = &im->vals[c];
		im->touched[im->ntouched++] = (uint32_t)c;
		if (tok == IRS_JSON_NULL) {
			if (im->is_key[c])
				return irs_import_error(im, vcol, "key column \"%.*s\" is null", shown, name);
			v->state = IRS_VALUE_NULL;
			continue;
		}
		value_problem vp = {0};
		json_value(im, s, line, tok, im->t->columns[c].type, v, &vp);
		if (vp.syntax)
			return json_syntax_err(im, s);
		if (vp.nomem)
			return irs_import_oom(im);
		if (vp.reason)
			return column_err(im, vcol, (uint32_t)c, &vp);
	}
}

/* Every key column must be SET. */
static int check_key(irs_importer *im)
{
	for (uint32_t k = 0; k < im->t->primary_key_count; k++) {
		uint32_t c = im->t->primary_key[k];
		if (im->vals[c].state != IRS_VALUE_SET)
			return irs_import_error(im, 0, "key column \"%s\" is missing", im->t->columns[c].name);
	}
	return 0;
}

static int expect_end(irs_importer *im, irs_json_scanner *s)
{
	int tok = irs_json_next(s);
	if (tok == IRS_JSON_END)
		return 0;
	return json_syntax_err(im, s);
}

/* Starts scanning line as one JSON object: one `what` (row, change) per line. */
static int open_object(irs_importer *im, irs_json_scanner *s, char *line, size_t len, const char *what)
{
	irs_json_init(s, line, len);
	int tok = irs_json_next(s);
	if (tok == IRS_JSON_ERROR)
		return json_syntax_err(im, s);
	if (tok != IRS_JSON_OBJECT_BEGIN)
		return irs_import_error(im, s->tok_col, "expected a JSON object (one %s per line), got %s", what,
					tok_kind(tok));
	return 0;
}

static int jsonl_row(irs_importer *im, char *line, size_t len)
{
	irs_json_scanner s;
	int rc = open_object(im, &s, line, len, "row");
	if (rc)
		return rc;
	rc = json_members(im, &s, line, IRS_IMPORT_MODE_FULL);
	if (!rc)
		rc = expect_end(im, &s);
	if (!rc)
		rc = check_key(im);
	if (!rc)
		rc = irs_import_sink_call(im, false);
	return rc;
}

static int jsonl_change(irs_importer *im, char *line, size_t len)
{
	static const char shape[] =
		"a change is {\"op\": \"upsert\", \"row\": {...}} or {\"op\": \"erase\", \"key\": {...}}";
	irs_json_scanner s;
	int rc = open_object(im, &s, line, len, "change");
	if (rc)
		return rc;
	int tok;
	int op = -1;              /* IRS_IMPORT_MODE_UPSERT or IRS_IMPORT_MODE_ERASE */
	int body = -1;            /* IRS_IMPORT_MODE_UPSERT: "row" seen; IRS_IMPORT_MODE_ERASE: "key" seen */
	size_t op_col = 0;
	for (;;) {
		tok = irs_json_next(&s);
		if (tok == IRS_JSON_ERROR)
			return json_syntax_err(im, &s);
		if (tok == IRS_JSON_OBJECT_END)
			break;
		size_t kcol = s.tok_col;
		char *k;
		size_t klen = tok_string(&s, line, &k);
		int shown = (int)(klen < IRS_IMPORT_NAME_SHOWN ? klen : IRS_IMPORT_NAME_SHOWN);
		if (klen == 2 && memcmp(k, "op", 2) == 0) {
			if (op >= 0)
				return irs_import_error(im, kcol, "\"op\" is listed twice");
			tok = irs_json_next(&s);
			if (tok == IRS_JSON_ERROR)
				return json_syntax_err(im, &s);
			op_col = s.tok_col;
			char *v = NULL;
			size_t vlen = tok == IRS_JSON_STRING ? tok_string(&s, line, &v) : 0;
			if (tok == IRS_JSON_STRING && vlen == 6 && memcmp(v, "upsert", 6) == 0)
				op = IRS_IMPORT_MODE_UPSERT;
			else if (tok == IRS_JSON_STRING && vlen == 5 && memcmp(v, "erase", 5) == 0)
				op = IRS_IMPORT_MODE_ERASE;
			else
				return irs_import_error(im, op_col, "\"op\" must be \"upsert\" or \"erase\"");
		} else if ((klen == 3 && memcmp(k, "row", 3) == 0) ||
			   (klen == 3 && memcmp(k, "key", 3) == 0)) {
			int mode = k[0] == 'r' ? IRS_IMPORT_MODE_UPSERT : IRS_IMPORT_MODE_ERASE;
			if (body >= 0)
				return irs_import_error(im, kcol, body == mode ? "\"%.*s\" is listed twice"
								     : "a change has \"row\" or \"key\", "
								       "not both (%.*s)",
					      shown, k);
			if (op >= 0 && op != mode)
				return irs_import_error(im, kcol, "\"%s\" takes \"%s\", not \"%.*s\"",
					      op == IRS_IMPORT_MODE_UPSERT ? "upsert" : "erase",
					      op == IRS_IMPORT_MODE_UPSERT ? "row" : "key", shown, k);
			body = mode;
			tok = irs_json_next(&s);
			if (tok == IRS_JSON_ERROR)
				return json_syntax_err(im, &s);
			if (tok != IRS_JSON_OBJECT_BEGIN)
				return irs_import_error(im, s.tok_col, "\"%.*s\" must be an object, got %s", shown,
					      k, tok_kind(tok));
			rc = json_members(im, &s, line, mode);
			if (rc)
				return rc;
		} else {
			int c = irs_import_find_column(im, k, klen);
			return irs_import_error(im, kcol, "unknown member \"%.*s\": %s%s", shown, k, shape,
				      c >= 0 ? " (this looks like a rows file: use --full)" : "");
		}
	}
	rc = expect_end(im, &s);
	if (rc)
		return rc;
	if (op < 0)
		return irs_import_error(im, 0, "missing \"op\": %s", shape);
	if (body < 0)
		return irs_import_error(im, 0, "\"%s\" needs \"%s\"", op == IRS_IMPORT_MODE_UPSERT ? "upsert" : "erase",
			      op == IRS_IMPORT_MODE_UPSERT ? "row" : "key");
	if (body != op)
		return irs_import_error(im, op_col, "\"%s\" takes \"%s\", not \"%s\"",
			      op == IRS_IMPORT_MODE_UPSERT ? "upsert" : "erase", op == IRS_IMPORT_MODE_UPSERT ? "row" : "key",
			      body == IRS_IMPORT_MODE_UPSERT ? "row" : "key");
	rc = check_key(im);
	if (!rc)
		rc = irs_import_sink_call(im, op == IRS_IMPORT_MODE_ERASE);
	return rc;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

int irs_import_run_jsonl(irs_importer *im)
{
	bool changes = im->o->format == IRS_IMPORT_CHANGES_JSONL;
	for (;;) {
		char *line;
		size_t len;
		bool nl;
		int rc = irs_import_read_line(im, &line, &len, &nl);
		if (rc <= 0)
			return rc;
		if (irs_import_cancelled(im))
			return irs_import_cancel_error(im);
		if (blank(line, len))
			continue;
		rc = changes ? jsonl_change(im, line, len) : jsonl_row(im, line, len);
		irs_import_record_reset(im);
		if (rc)
			return rc;
	}
}
