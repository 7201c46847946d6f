/* schema.c: type names, UTF-8 validation and value checks shared by every codec. */
#include "schema.h"

#include <string.h>

#include <strings.h>

static const char *const type_names[] = {
	[IRS_TYPE_BOOL] = "bool",     [IRS_TYPE_INT32] = "int32",   [IRS_TYPE_INT64] = "int64",
	[IRS_TYPE_UINT32] = "uint32", [IRS_TYPE_UINT64] = "uint64", [IRS_TYPE_DOUBLE] = "double",
	[IRS_TYPE_UTF8] = "utf8",     [IRS_TYPE_BYTES] = "bytes",   [IRS_TYPE_TIMESTAMP] = "timestamp",
};

const char *irs_type_name(irs_type type)
{
	return irs__type_valid(type) ? type_names[type] : NULL;
}

int irs_type_parse(const char *name, irs_type *out)
{
	/* Our names first, then YDB's (String is bytes in YDB). */
	static const struct {
		const char *name;
		irs_type type;
	} aliases[] = {
		{"boolean", IRS_TYPE_BOOL}, {"string", IRS_TYPE_BYTES}, {"text", IRS_TYPE_UTF8},
		{"varchar", IRS_TYPE_UTF8},
	};
	if (!name || !out)
		return IRS_EINVAL;
	for (int t = IRS_TYPE_BOOL; t <= IRS_TYPE_TIMESTAMP; t++) {
		if (strcasecmp(name, type_names[t]) == 0) {
			*out = (irs_type)t;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
		if (strcasecmp(name, aliases[i].name) == 0) {
			*out = aliases[i].type;
			return 0;
		}
	}
	return IRS_EINVAL;
}

bool irs__utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		if (c < 0x80) {
			/* ASCII fast path: 8 bytes at a time while none has its high bit set, then
			 * straight to the first byte that has it */
			i++;
			while (i + 8 <= len) {
				uint64_t high = irs__load_le64(s + i) & 0x8080808080808080u;
				if (high) {
					i += (size_t)__builtin_ctzll(high) >> 3;
					break;
				}
				i += 8;
			}
			continue;
		}
		size_t n;
		uint32_t cp;
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

const char *irs__value_check(irs_type type, const irs_value *v)
{
	if (v->state == IRS_VALUE_ABSENT || v->state == IRS_VALUE_NULL)
		return NULL;
	if (v->state != IRS_VALUE_SET)
		return "invalid value state";
	switch (type) {
	case IRS_TYPE_BOOL:
		return v->v.b == 0 || v->v.b == 1 ? NULL : "bool must be 0 or 1";
	case IRS_TYPE_INT32:
		return v->v.i64 >= INT32_MIN && v->v.i64 <= INT32_MAX ? NULL : "out of range for int32";
	case IRS_TYPE_UINT32:
		return v->v.u64 <= UINT32_MAX ? NULL : "out of range for uint32";
	case IRS_TYPE_INT64:
	case IRS_TYPE_UINT64:
	case IRS_TYPE_DOUBLE:
	case IRS_TYPE_TIMESTAMP:
		return NULL;
	case IRS_TYPE_UTF8:
		if (v->v.s.len > IRS_MAX_VALUE_BYTES)
			return "value longer than 16 MiB";
		if (v->v.s.len && !v->v.s.ptr)
			return "NULL string pointer";
		return irs__utf8_valid(v->v.s.ptr, v->v.s.len) ? NULL : "invalid UTF-8";
	case IRS_TYPE_BYTES:
		if (v->v.s.len > IRS_MAX_VALUE_BYTES)
			return "value longer than 16 MiB";
		return v->v.s.len && !v->v.s.ptr ? "NULL bytes pointer" : NULL;
	}
	return "unknown type";
}
