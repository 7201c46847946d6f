/*
 * fuzz_manifest.c: libFuzzer target for the MANIFEST reader and the collection
 * validation: the input becomes DIR/MANIFEST (its payload, behind a valid header and
 * CRC when the first byte is even, so the protobuf and chain checks are reached; raw
 * bytes when odd, so the framing checks are), and irs_collection_open must either
 * accept it or return an error, never crash or leak.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "format/format.h"
#include "increstore.h"

static char dir[64];

/* The run's directory goes when the fuzzer exits (not after a crash: it then shows
 * the input's MANIFEST). */
static void remove_dir(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/MANIFEST", dir);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/irs_fuzz_manifest_XXXXXX");
		if (!mkdtemp(dir))
			abort();
		atexit(remove_dir);
	}
	char path[128];
	snprintf(path, sizeof path, "%s/MANIFEST", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		abort();
	if (size && (data[0] & 1) == 0) {
		uint8_t hdr[IRS_MANIFEST_HEADER];
		memcpy(hdr, IRS_MANIFEST_MAGIC, 8);
		irs__store_le32(hdr + 8, IRS_FORMAT_VERSION);
		irs__store_le32(hdr + 12, (uint32_t)(size - 1));
		irs__store_le32(hdr + 16, irs__crc32c(0, data + 1, size - 1));
		if (write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr ||
		    write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
			abort();
	} else if (size && write(fd, data, size) != (ssize_t)size) {
		abort();
	}
	close(fd);
	irs_collection *c = NULL;
	irs_error err = {0};
	if (irs_collection_open(dir, NULL, 0, &c, &err) == 0) {
		irs_collection_verify_data(c, UINT32_MAX, NULL, NULL, &err);
		irs_collection_close(c);
	} else if (c != NULL || err.code == 0 || !err.message[0]) {
		abort();
	}
	return 0;
}
