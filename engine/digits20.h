/*
 * digits20.h (private): a double's first 20 significant decimal digits, as printf's
 * %.19e gives them, for textout.c (engine/digits20.c says how).
 */
#ifndef IRS_ENGINE_DIGITS20_H
#define IRS_ENGINE_DIGITS20_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The 20 significant digits of |d| rounded to nearest, NUL-terminated in w[0..21), and
 * in *exp the decimal exponent of the first: the digits and exponent of
 * printf("%.19e", fabs(d)). False, writing nothing, when d is zero, subnormal or not
 * finite, or when its 21st digit and on lie too close to one half to round here: the
 * caller then asks printf. Thread: any.
 */
bool irs__digits20(double d, char *w, int *exp);

#endif
