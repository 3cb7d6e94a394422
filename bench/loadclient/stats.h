/* Distributions of a round's per-client figures, printed as JSON fields. */
#ifndef LC_STATS_H
#define LC_STATS_H
#include <stdint.h>

/* Sorts v ascending. */
void	st_sort(int64_t *v, long n);
/* The p-quantile (0..1) of sorted v, in ms (v in ns); -1 if n is 0. */
double	st_pct(const int64_t *v, long n, double p);
/* ,"name":{"n":..,"min":..,"p50":..,"p90":..,"p99":..,"max":..}: t[i] - ref
 * in ms over the clients with t[i] != 0. */
void	st_print_dist(const char *name, const int64_t *t, long n, int64_t ref);
/* ,"name":[...]: each v in µs. */
void	st_print_lat(const char *name, const int64_t *v, long n);
/* ,"wire":{...}: bytes on the wire per client for the update (frame
 * headers included) over the clients that arrived (arr_u != 0), and the
 * data frames of the round by kind (held.h) summed over the workers. */
void	st_print_wire(long n, int nprocs);

#endif
