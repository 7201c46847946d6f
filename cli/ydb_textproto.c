/*
 * ydb_textproto.c: the protobuf text-format parser of ydb_textproto.h.
 *
 * ALGORITHM
 *   A tokenizer (identifiers, numbers, strings with their escapes decoded, one-char
 *   symbols; '#' comments and whitespace skipped) feeds a recursive-descent parser
 *   that builds the tree. Recursion is bounded by IRS_TP_MAX_DEPTH, so hostile input
 *   cannot exhaust the stack. Every token remembers its line and column for errors.
 *
 * INVARIANTS: every node reachable from the root is owned by the tree, also while a
 *   parse is failing, so one irs_tp_free releases a half-built tree.
 */
#include "ydb_textproto.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine/cli_support.h"

enum { TOK_EOF, TOK_IDENT, TOK_NUMBER, TOK_STRING, TOK_SYMBOL };

typedef struct tokenizer {
	const char *p, *end;
	const char *name;
	uint32_t line, col;        /* of p */
	/* the current token */
	int kind;
	char sym;                  /* TOK_SYMBOL */
	char *text;                /* IDENT/NUMBER: as written; STRING: decoded */
	size_t len, cap;
	uint32_t tline, tcol;
	irs_error *err;
	int rc;                    /* first error */
} tokenizer;

static int fail(tokenizer *t, uint32_t line, uint32_t col, const char *why)
{
	if (!t->rc)
		t->rc = irs__seterr(t->err, IRS_EINPUT, "%s:%u:%u: %s", t->name, line, col, why);
	return t->rc;
}

static int nomem(tokenizer *t)
{
	if (!t->rc)
		t->rc = irs__seterr(t->err, IRS_ENOMEM, "%s: out of memory", t->name);
	return t->rc;
}

static int put(tokenizer *t, char c)
{
	if (t->len + 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		char *n = realloc(t->text, ncap);
		if (!n)
			return nomem(t);
		t->text = n;
		t->cap = ncap;
	}
	t->text[t->len++] = c;
	t->text[t->len] = '\0';
	return 0;
}

static int put_utf8(tokenizer *t, uint32_t cp)
{
	char b[4];
	int n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	for (int i = 0; i < n; i++)
		if (put(t, b[i]))
			return t->rc;
	return 0;
}

static void advance(tokenizer *t)
{
	if (*t->p == '\n') {
		t->line++;
		t->col = 1;
	} else {
		t->col++;
	}
	t->p++;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* One escape after the backslash (t->p at the character after '\'). */
static int lex_escape(tokenizer *t)
{
	uint32_t line = t->line, col = t->col - 1;
	if (t->p >= t->end)
		return fail(t, line, col, "unterminated string");
	char c = *t->p;
	static const char from[] = "ntrabfv\\'\"?", to[] = "\n\t\r\a\b\f\v\\'\"?";
	const char *k = strchr(from, c);
	if (k && c) {
		advance(t);
		return put(t, to[k - from]);
	}
	if (c >= '0' && c <= '7') {
		unsigned v = 0;
		for (int i = 0; i < 3 && t->p < t->end && *t->p >= '0' && *t->p <= '7'; i++) {
			v = v * 8 + (unsigned)(*t->p - '0');
			advance(t);
		}
		if (v > 255)
			return fail(t, line, col, "octal escape above \\377");
		return put(t, (char)v);
	}
	if (c == 'x' || c == 'X') {
		advance(t);
		unsigned v = 0;
		int n = 0;
		while (n < 2 && t->p < t->end && irs_cli_hexval(*t->p) >= 0) {
			v = v * 16 + (unsigned)irs_cli_hexval(*t->p);
			advance(t);
			n++;
		}
		if (!n)
			return fail(t, line, col, "\\x without hex digits");
		return put(t, (char)v);
	}
	if (c == 'u' || c == 'U') {
		int want = c == 'u' ? 4 : 8;
		advance(t);
		uint32_t cp = 0;
		for (int i = 0; i < want; i++) {
			if (t->p >= t->end || irs_cli_hexval(*t->p) < 0)
				return fail(t, line, col, "\\u or \\U needs 4 or 8 hex digits");
			cp = cp * 16 + (uint32_t)irs_cli_hexval(*t->p);
			advance(t);
		}
		if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return fail(t, line, col, "\\u escape is not a Unicode scalar value");
		return put_utf8(t, cp);
	}
	return fail(t, line, col, "unknown escape in string");
}

static int lex_string(tokenizer *t)
{
	char q = *t->p;
	advance(t);
	for (;;) {
		if (t->p >= t->end || *t->p == '\n')
			return fail(t, t->tline, t->tcol, "unterminated string");
		char c = *t->p;
		if (c == q) {
			advance(t);
			return 0;
		}
		advance(t);
		int rc = c == '\\' ? lex_escape(t) : put(t, c);
		if (rc)
			return rc;
	}
}

static int lex_number(tokenizer *t)
{
	const char *s = t->p;
	if (s + 1 < t->end && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		advance(t);
		advance(t);
		if (t->p >= t->end || irs_cli_hexval(*t->p) < 0)
			return fail(t, t->tline, t->tcol, "hex number without digits");
		while (t->p < t->end && irs_cli_hexval(*t->p) >= 0)
			advance(t);
	} else {
		bool digits = false;
		while (t->p < t->end && is_digit(*t->p)) {
			advance(t);
			digits = true;
		}
		if (t->p < t->end && *t->p == '.') {
			advance(t);
			while (t->p < t->end && is_digit(*t->p)) {
				advance(t);
				digits = true;
			}
		}
		if (!digits)
			return fail(t, t->tline, t->tcol, "invalid number");
		if (t->p < t->end && (*t->p == 'e' || *t->p == 'E')) {
			advance(t);
			if (t->p < t->end && (*t->p == '+' || *t->p == '-'))
				advance(t);
			if (t->p >= t->end || !is_digit(*t->p))
				return fail(t, t->tline, t->tcol, "invalid number exponent");
			while (t->p < t->end && is_digit(*t->p))
				advance(t);
		}
		if (t->p < t->end && (*t->p == 'f' || *t->p == 'F'))
			advance(t);
	}
	if (t->p < t->end && (is_alpha(*t->p) || is_digit(*t->p) || *t->p == '.'))
		return fail(t, t->tline, t->tcol, "invalid number");
	for (; s < t->p; s++)
		if (put(t, *s))
			return t->rc;
	return 0;
}

/* Reads the next token into t. */
static int next(tokenizer *t)
{
	t->len = 0;
	if (t->text)
		t->text[0] = '\0';
	for (;;) {
		while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r' ||
					 *t->p == '\v' || *t->p == '\f'))
			advance(t);
		if (t->p < t->end && *t->p == '#') {
			while (t->p < t->end && *t->p != '\n')
				advance(t);
			continue;
		}
		break;
	}
	t->tline = t->line;
	t->tcol = t->col;
	if (t->p >= t->end) {
		t->kind = TOK_EOF;
		return 0;
	}
	char c = *t->p;
	if (is_alpha(c)) {
		t->kind = TOK_IDENT;
		while (t->p < t->end && (is_alpha(*t->p) || is_digit(*t->p))) {
			if (put(t, *t->p))
				return t->rc;
			advance(t);
		}
		return 0;
	}
	if (is_digit(c) || (c == '.' && t->p + 1 < t->end && is_digit(t->p[1]))) {
		t->kind = TOK_NUMBER;
		return lex_number(t);
	}
	if (c == '"' || c == '\'') {
		t->kind = TOK_STRING;
		return lex_string(t);
	}
	if (strchr("{}<>[]:;,-./", c)) {
		t->kind = TOK_SYMBOL;
		t->sym = c;
		advance(t);
		return 0;
	}
	if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7F)
		return fail(t, t->tline, t->tcol, "unexpected byte outside a string");
	return fail(t, t->tline, t->tcol, "unexpected character");
}

static bool is_sym(const tokenizer *t, char c)
{
	return t->kind == TOK_SYMBOL && t->sym == c;
}

static char *dup_text(tokenizer *t, const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d) {
		nomem(t);
		return NULL;
	}
	if (n)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static irs_tp_node *new_node(tokenizer *t, irs_tp_node *parent, irs_tp_node **last, const char *name,
			     uint32_t line)
{
	irs_tp_node *n = calloc(1, sizeof *n);
	if (!n) {
		nomem(t);
		return NULL;
	}
	n->line = line;
	n->name = dup_text(t, name, strlen(name));
	/* linked before anything can fail, so the tree owns it */
	if (*last)
		(*last)->next = n;
	else
		parent->children = n;
	*last = n;
	return n->name ? n : NULL;
}

static int parse_message(tokenizer *t, irs_tp_node *msg, char close, int depth);

/* A scalar value at the current token into n; leaves the token after it current. */
static int parse_scalar(tokenizer *t, irs_tp_node *n)
{
	if (t->kind == TOK_STRING) {
		/* adjacent strings concatenate */
		size_t cap = t->len + 1, len = 0;
		char *v = malloc(cap);
		if (!v)
			return nomem(t);
		n->value = v;
		do {
			if (len + t->len + 1 > cap) {
				cap = (len + t->len + 1) * 2;
				char *nv = realloc(n->value, cap);
				if (!nv)
					return nomem(t);
				n->value = nv;
			}
			memcpy(n->value + len, t->text, t->len);
			len += t->len;
			n->value[len] = '\0';
			if (next(t))
				return t->rc;
		} while (t->kind == TOK_STRING);
		n->kind = IRS_TP_STRING;
		n->value_len = len;
		return 0;
	}
	bool neg = false;
	if (is_sym(t, '-')) {
		neg = true;
		if (next(t))
			return t->rc;
	}
	if (t->kind != TOK_NUMBER && t->kind != TOK_IDENT)
		return fail(t, t->tline, t->tcol, "expected a value");
	n->kind = t->kind == TOK_NUMBER ? IRS_TP_NUMBER : IRS_TP_IDENT;
	n->value_len = t->len + (neg ? 1 : 0);
	n->value = malloc(n->value_len + 1);
	if (!n->value)
		return nomem(t);
	if (neg)
		n->value[0] = '-';
	memcpy(n->value + (neg ? 1 : 0), t->text, t->len + 1);
	return next(t);
}

/* A nested message: the current token is '{' or '<'. */
static int parse_nested(tokenizer *t, irs_tp_node *n, int depth)
{
	char close = is_sym(t, '{') ? '}' : '>';
	if (depth >= IRS_TP_MAX_DEPTH)
		return fail(t, t->tline, t->tcol, "messages nested too deeply");
	n->kind = IRS_TP_MESSAGE;
	if (next(t))
		return t->rc;
	if (parse_message(t, n, close, depth + 1))
		return t->rc;
	return next(t); /* past the closing symbol */
}

/* The field name at the current token (identifier or [extension]) into buf. */
static int parse_name(tokenizer *t, char *buf, size_t cap)
{
	if (t->kind == TOK_IDENT) {
		if (t->len >= cap)
			return fail(t, t->tline, t->tcol, "field name too long");
		memcpy(buf, t->text, t->len + 1);
		return next(t);
	}
	if (!is_sym(t, '['))
		return fail(t, t->tline, t->tcol, "expected a field name");
	size_t n = 0;
	buf[n++] = '[';
	if (next(t))
		return t->rc;
	for (bool want_ident = true;; want_ident = !want_ident) {
		if (want_ident && t->kind != TOK_IDENT)
			return fail(t, t->tline, t->tcol, "expected an identifier in an extension name");
		if (!want_ident && is_sym(t, ']'))
			break;
		if (!want_ident && !is_sym(t, '.') && !is_sym(t, '/'))
			return fail(t, t->tline, t->tcol, "expected '.', '/' or ']' in an extension name");
		const char *s = want_ident ? t->text : (is_sym(t, '.') ? "." : "/");
		size_t l = strlen(s);
		if (n + l + 2 > cap)
			return fail(t, t->tline, t->tcol, "extension name too long");
		memcpy(buf + n, s, l);
		n += l;
		if (next(t))
			return t->rc;
	}
	buf[n++] = ']';
	buf[n] = '\0';
	return next(t);
}

/* One field: name, value(s), optional separator. */
static int parse_field(tokenizer *t, irs_tp_node *msg, irs_tp_node **last, int depth)
{
	char name[512];
	uint32_t line = t->tline;
	uint32_t col = t->tcol;
	if (parse_name(t, name, sizeof name))
		return t->rc;
	bool colon = is_sym(t, ':');
	if (colon && next(t))
		return t->rc;
	if (is_sym(t, '{') || is_sym(t, '<')) {
		irs_tp_node *n = new_node(t, msg, last, name, line);
		if (!n || parse_nested(t, n, depth))
			return t->rc;
	} else if (!colon) {
		return fail(t, line, col, "expected ':' or '{' after the field name");
	} else if (is_sym(t, '[')) {
		if (next(t))
			return t->rc;
		for (bool first = true; !is_sym(t, ']'); first = false) {
			if (!first) {
				if (!is_sym(t, ','))
					return fail(t, t->tline, t->tcol, "expected ',' or ']' in a list");
				if (next(t))
					return t->rc;
			}
			irs_tp_node *n = new_node(t, msg, last, name, line);
			if (!n)
				return t->rc;
			if (is_sym(t, '{') || is_sym(t, '<')) {
				if (parse_nested(t, n, depth))
					return t->rc;
			} else if (parse_scalar(t, n)) {
				return t->rc;
			}
		}
		if (next(t))
			return t->rc;
	} else {
		irs_tp_node *n = new_node(t, msg, last, name, line);
		if (!n || parse_scalar(t, n))
			return t->rc;
	}
	if (is_sym(t, ';') || is_sym(t, ','))
		return next(t);
	return 0;
}

/* Fields until `close` (a symbol) or, for the root (close 0), the end of input. */
static int parse_message(tokenizer *t, irs_tp_node *msg, char close, int depth)
{
	irs_tp_node *last = NULL;
	for (;;) {
		if (t->kind == TOK_EOF) {
			if (close)
				return fail(t, t->tline, t->tcol, "unexpected end of input: a message is not closed");
			return 0;
		}
		if (close && is_sym(t, close))
			return 0;
		if (parse_field(t, msg, &last, depth))
			return t->rc;
	}
}

int irs_tp_parse(const char *text, size_t len, const char *name, irs_tp_node **root,
		 irs_error *err)
{
	*root = NULL;
	tokenizer t = {.p = text, .end = text + len, .name = name ? name : "<input>", .line = 1,
		       .col = 1, .err = err};
	irs_tp_node *r = calloc(1, sizeof *r);
	if (r)
		r->name = calloc(1, 1);
	if (!r || !r->name) {
		irs_tp_free(r);
		return irs__seterr(err, IRS_ENOMEM, "%s: out of memory", t.name);
	}
	r->kind = IRS_TP_MESSAGE;
	/* the token buffer always exists, so an empty string token has a "" text */
	if (!put(&t, 'x'))
		t.len = 0;
	if (!t.rc && !next(&t))
		parse_message(&t, r, 0, 0);
	free(t.text);
	if (t.rc) {
		irs_tp_free(r);
		return t.rc;
	}
	*root = r;
	return 0;
}

void irs_tp_free(irs_tp_node *n)
{
	/* siblings iteratively, children recursively (depth is bounded by the parser) */
	while (n) {
		irs_tp_node *nx = n->next;
		irs_tp_free(n->children);
		free(n->name);
		free(n->value);
		free(n);
		n = nx;
	}
}

const irs_tp_node *irs_tp_first(const irs_tp_node *msg, const char *name)
{
	if (!msg || msg->kind != IRS_TP_MESSAGE)
		return NULL;
	for (const irs_tp_node *c = msg->children; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

const irs_tp_node *irs_tp_next(const irs_tp_node *n)
{
	for (const irs_tp_node *c = n ? n->next : NULL; c; c = c->next)
		if (strcmp(c->name, n->name) == 0)
			return c;
	return NULL;
}

size_t irs_tp_count(const irs_tp_node *msg, const char *name)
{
	size_t k = 0;
	for (const irs_tp_node *c = irs_tp_first(msg, name); c; c = irs_tp_next(c))
		k++;
	return k;
}
