/* Per-round distributions (stats.h). */
#include <stdio.h>
#include <stdlib.h>
#include "stats.h"
#include "worker.h"
#include "xmalloc.h"

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

void
st_sort(int64_t *v, long n)
{
	qsort(v, (size_t)n, sizeof(int64_t), cmp64);
}

double
st_pct(const int64_t *v, long n, double p)
{
	if (n == 0)
		return -1;
	return (double)v[(long)(p * (double)(n - 1) + 0.5)] / 1e6;
}

void
st_print_dist(const char *name, const int64_t *t, long n, int64_t ref)
{
	int64_t *v = xmalloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
	long k = 0;

	for (long i = 0; i < n; i++)
		if (t[i] != 0)
			v[k++] = t[i] - ref;
	st_sort(v, k);
	printf(",\"%s\":{\"n\":%ld,\"min\":%.3f,\"p50\":%.3f,\"p90\":%.3f,"
	    "\"p99\":%.3f,\"max\":%.3f}", name, k, st_pct(v, k, 0),
	    st_pct(v, k, 0.5), st_pct(v, k, 0.9), st_pct(v, k, 0.99),
	    st_pct(v, k, 1));
	free(v);
}

void
st_print_lat(const char *name, const int64_t *v, long n)
{
	printf(",\"%s\":[", name);
	for (long i = 0; i < n; i++)
		printf("%s%lld", i ? "," : "", (long long)((v[i] + 500) / 1000));
	printf("]");
}

void
st_print_wire(long n, int nprocs)
{
	static const char *kn[HELD_NKINDS] = { "v1", "F", "Fz", "D", "Dz" };
	int64_t *v = xmalloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
	long k = 0;
	double sum = 0;

	for (long i = 0; i < n; i++)
		if (shm.arr_u[i] != 0) {
			v[k++] = shm.arr_bytes[i];
			sum += shm.arr_bytes[i];
		}
	st_sort(v, k);
	printf(",\"wire\":{\"n\":%ld,\"mean\":%.1f,\"p50\":%lld,\"max\":%lld",
	    k, k ? sum / (double)k : 0, (long long)(k ? v[k / 2] : 0),
	    (long long)(k ? v[k - 1] : 0));
	for (int j = 0; j < HELD_NKINDS; j++) {
		int64_t s = 0;

		for (int w = 0; w < nprocs; w++)
			s += shm.w[w].kinds[j];
		printf(",\"%s\":%lld", kn[j], (long long)s);
	}
	{
		int64_t bad = 0;

		for (int w = 0; w < nprocs; w++)
			bad += shm.w[w].bad;
		printf(",\"refused\":%lld}", (long long)bad);
	}
	free(v);
}
