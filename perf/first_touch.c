/*
 * first_touch.c: what the first write to fresh anonymous memory costs on this machine,
 * in 4 KiB pages (MADV_NOHUGEPAGE) and in 2 MiB-aligned transparent huge pages
 * (MADV_HUGEPAGE), the two ways the restore's tables can get their memory
 * (common/alloc.c: irs__malloc_huge).
 *
 *   irs_first_touch [MIB [REPS]]      (default 256 MiB, 5 reps, interleaved)
 *
 * Each rep maps MIB MiB, writes one byte per 4 KiB page, and unmaps it; the time of
 * the writes is the page faults (the kernel clears each page, and under a hypervisor
 * the host may have to supply it). Prints, per kind, the median and min-max of the
 * time per 4 KiB page and per MiB, the page faults counted, and the kernel's THP mode.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long minor_faults(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_minflt;
}

/* One rep: seconds for the first touch of every 4 KiB page of `bytes`; faults out. */
static double touch(size_t bytes, int advice, long *faults)
{
	const size_t huge = (size_t)2 << 20;
	uint8_t *m = mmap(NULL, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	uint8_t *p = (uint8_t *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
	if (madvise(p, bytes, advice) != 0)
		perror("madvise");
	long f0 = minor_faults();
	double t0 = now_s();
	for (size_t i = 0; i < bytes; i += 4096)
		p[i] = 1;
	double t = now_s() - t0;
	*faults = minor_faults() - f0;
	munmap(m, bytes + huge);
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	int reps = argc > 2 ? atoi(argv[2]) : 5;
	if (mib == 0 || reps <= 0 || reps > 100) {
		fprintf(stderr, "usage: irs_first_touch [MIB [REPS]]   (REPS 1..100)\n");
		return 2;
	}
	size_t bytes = mib << 20;
	char thp[128] = "unknown";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (fgets(thp, sizeof thp, f))
			thp[strcspn(thp, "\n")] = 0;
		fclose(f);
	}
	static const struct {
		const char *name;
		int advice;
	} kinds[] = {{"4 KiB pages (MADV_NOHUGEPAGE)", MADV_NOHUGEPAGE},
		     {"2 MiB pages (MADV_HUGEPAGE, aligned)", MADV_HUGEPAGE}};
	double t[2][100];
	long faults[2] = {0, 0};
	for (int r = 0; r < reps; r++)
		for (int k0 = 0; k0 < 2; k0++) {
			int k = r & 1 ? 1 - k0 : k0; /* interleaved, alternating which goes first */
			t[k][r] = touch(bytes, kinds[k].advice, &faults[k]);
		}
	printf("first touch of %zu MiB, %d reps each, interleaved; THP: %s\n", mib, reps, thp);
	for (int k = 0; k < 2; k++) {
		qsort(t[k], (size_t)reps, sizeof(double), cmp_double);
		double pages = (double)(bytes / 4096);
		printf("  %-38s  %7.2f us a 4 KiB page (%.2f-%.2f), %7.1f ms a GiB, %ld faults a rep\n",
		       kinds[k].name, t[k][reps / 2] / pages * 1e6, t[k][0] / pages * 1e6,
		       t[k][reps - 1] / pages * 1e6, t[k][reps / 2] / (double)mib * 1024 * 1e3, faults[k]);
	}
	return 0;
}
