/*
 * keycodec.h (private): the encoded primary key, whose bytewise order (memcmp, then
 * length) equals the typed order of the key tuple.
 *
 * FORMAT, per key column in key order:
 *   bool              1 byte, 0 or 1
 *   int32, int64,     big-endian two's complement with the sign bit flipped
 *   timestamp         (4 bytes for int32, 8 otherwise)
 *   uint32, uint64    big-endian (4 or 8 bytes)
 *   double            IEEE-754 bits big-endian; sign bit flipped for +, all bits
 *                     flipped for -; so -inf < ... < -0 < +0 < ... < +inf. NaNs sort
 *                     past the infinities by their bits. -0 and +0 are distinct keys.
 *   utf8, bytes       each 0x00 byte written as 0x00 0xFF, then the terminator 0x00 0x00
 *                     (order-preserving and self-delimiting, so composite keys work)
 *
 * The hash that partitions rows across shards is XXH3-64 of these bytes.
 */
#ifndef IRS_COMMON_KEYCODEC_H
#define IRS_COMMON_KEYCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/schema.h"

/*
 * Encodes the key columns of `row` (one irs_value per column, key columns SET) into
 * out[0..cap). Returns the encoded length, or 0 when it would exceed cap or
 * IRS_MAX_KEY_BYTES. Values must already have passed irs__value_check.
 */
size_t irs__key_encode(const irs_schema_table *t, const irs_value *row, uint8_t *out, size_t cap);

/* Big-endian reads and writes, the byte order of encoded fixed-width key parts. */
static inline uint32_t irs__load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t irs__load_be64(const uint8_t *p)
{
	return (uint64_t)irs__load_be32(p) << 32 | irs__load_be32(p + 4);
}

static inline void irs__store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void irs__store_be64(uint8_t *p, uint64_t v)
{
	irs__store_be32(p, (uint32_t)(v >> 32));
	irs__store_be32(p + 4, (uint32_t)v);
}

#define IRS_KEY_SIGN32 0x80000000u
#define IRS_KEY_SIGN64 0x8000000000000000u

/* The order-preserving bits of a double's bits (see the top comment). */
static inline uint64_t irs__key_double_bits(uint64_t bits)
{
	return (bits & IRS_KEY_SIGN64) ? ~bits : bits ^ IRS_KEY_SIGN64;
}

/* The string part of irs__key_encode_part (utf8/bytes; 0 for any other type). */
size_t irs__key_encode_var(irs_type ty, const uint8_t *v, size_t len, uint8_t *out, size_t room);

/*
 * Encodes one key column value of type ty given in its stored form (little-endian
 * fixed-width bytes as in records and ChangeBatches, or the bytes of a utf8/bytes
 * value of length len) into out[0..room). Returns the bytes written, or 0 when they
 * do not fit. Inline: it runs once per key part of every change, and a fixed-width part
 * is a load, a flip and a byte swap.
 */
static inline size_t irs__key_encode_part(irs_type ty, const uint8_t *v, size_t len, uint8_t *out,
					  size_t room)
{
	switch (ty) {
	case IRS_TYPE_BOOL:
		if (room < 1)
			return 0;
		*out = (uint8_t)(v[0] != 0);
		return 1;
	case IRS_TYPE_INT32:
	case IRS_TYPE_UINT32:
		if (room < 4)
			return 0;
		irs__store_be32(out, irs__load_le32(v) ^ (ty == IRS_TYPE_INT32 ? IRS_KEY_SIGN32 : 0));
		return 4;
	case IRS_TYPE_INT64:
	case IRS_TYPE_TIMESTAMP:
	case IRS_TYPE_UINT64:
		if (room < 8)
			return 0;
		irs__store_be64(out, irs__load_le64(v) ^ (ty == IRS_TYPE_UINT64 ? 0 : IRS_KEY_SIGN64));
		return 8;
	case IRS_TYPE_DOUBLE:
		if (room < 8)
			return 0;
		irs__store_be64(out, irs__key_double_bits(irs__load_le64(v)));
		return 8;
	default:
		return irs__key_encode_var(ty, v, len, out, room);
	}
}

/* Upper bound of the encoded length of one key column value. */
size_t irs__key_part_bound(irs_type type, const irs_value *v);

/*
 * Decodes an encoded key into the key columns of row[] (other entries untouched).
 * utf8/bytes values without a 0x00 point into key; those with 0x00 are unescaped into
 * scratch (of at least key_len bytes). Returns 0, or IRS_ECORRUPT on malformed input.
 */
int irs__key_decode(const irs_schema_table *t, const uint8_t *key, size_t key_len, irs_value *row,
		    uint8_t *scratch);

/* The partition/slot hash of an encoded key. */
uint64_t irs__key_hash(const uint8_t *key, size_t len);

/* Shard owning a hash, for `shards` shards (uses the high bits; slots use the low). */
static inline uint32_t irs__shard_of(uint64_t hash, uint32_t shards)
{
	return (uint32_t)(((hash >> 32) * (uint64_t)shards) >> 32);
}

/*
 * The hash partition (0..k-1) of a key with hash `hash`, for a restore split into k
 * partitions (restore --partition I/K): the top 32 bits of the MurmurHash3 finalizer
 * of the key hash, scaled to k. It is a function of the encoded key alone (not of the
 * shard count), documented in docs/format.md so other programs can reproduce it; the
 * finalizer makes it independent of the bits that pick shards and table slots, so a
 * partition spreads evenly over shards.
 */
static inline uint32_t irs__key_partition(uint64_t hash, uint32_t k)
{
	uint64_t h = hash;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)(((h >> 32) * (uint64_t)k) >> 32);
}

#endif
