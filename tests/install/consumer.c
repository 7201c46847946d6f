/* Links against the installed library and uses a few calls of the public API. */
#include <increstore.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	irs_error err;
	irs_collection *c = NULL;
	int rc = irs_collection_open("/nonexistent/collection", NULL, 0, &c, &err);
	if (rc != IRS_EIO || strcmp(irs_err_name(rc), "IRS_EIO") != 0) {
		fprintf(stderr, "unexpected: %d %s\n", rc, err.message);
		return 1;
	}
	printf("consumer: increstore %s: %s\n", irs_version(), err.message);
	return 0;
}
