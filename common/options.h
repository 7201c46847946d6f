/*
 * options.h (private): versioned option structs (irs_restore_options,
 * irs_writer_options), read as the version field says.
 *
 * A caller compiled against an older header passes a smaller struct whose version
 * field names that older layout. Fields are only ever appended, so version v's layout
 * is a prefix of the current one, `size_of[v]` bytes long (the end of its last field;
 * tail padding is never read). The library therefore:
 *   - *_options_init(o, v): writes the defaults of exactly size_of[v] bytes, never
 *     past the end of a version-v struct; an unknown v gets only its version field
 *     (at offset 0 in every version), so using the struct then fails with IRS_EINVAL;
 *   - reading options: copies size_of[v] bytes over a struct of current defaults, so
 *     the fields a version-v caller cannot know keep their defaults; an unknown v
 *     (0, or newer than this library) is IRS_EINVAL.
 * Adding a field: append it, bump the header's *_VERSION, append the new size to the
 * function's size table (IRS_OPTIONS_END of the new last field).
 */
#ifndef IRS_COMMON_OPTIONS_H
#define IRS_COMMON_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"

/* Bytes of a struct up to and including `field`: the size of the version whose last
 * field it is. */
#define IRS_OPTIONS_END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/*
 * Writes the first size_of[version] bytes of `defaults` (a current struct with its
 * version field set to `version`) to `o`; with a version outside 1..nversions only
 * the version field. size_of[0] is unused.
 */
static inline void irs__options_init(void *o, const void *defaults, uint32_t version,
				     const size_t *size_of, uint32_t nversions)
{
	if (version >= 1 && version <= nversions)
		memcpy(o, defaults, size_of[version]);
	else
		memcpy(o, &version, sizeof version);
}

/*
 * Reads the caller's options `src` (NULL: keep `dst` as it is) over `dst`, a current
 * struct holding the defaults: copies the bytes src's version had. Returns 0, or
 * IRS_EINVAL naming `what` when the version is unknown.
 */
static inline int irs__options_read(void *dst, const void *src, const size_t *size_of,
				    uint32_t nversions, const char *what, irs_error *err)
{
	if (!src)
		return 0;
	uint32_t version;
	memcpy(&version, src, sizeof version);
	if (version < 1 || version > nversions)
		return irs__seterr(err, IRS_EINVAL,
				   "%s version %u: this library (%s) reads versions 1 to %u", what,
				   version, IRS_VERSION_STRING, nversions);
	memcpy(dst, src, size_of[version]);
	return 0;
}

#endif
