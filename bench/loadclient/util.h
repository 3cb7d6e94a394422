/* What every part of the load client needs: fatal errors, the two clocks,
 * and parsing of HOST:PORT and files given on the command line. */
#ifndef LC_UTIL_H
#define LC_UTIL_H
#include <netinet/in.h>
#include <stdint.h>

/* Exit status of a run in which a client refused a frame or holds
 * something other than the page: the figures are void. */
#define LC_EXIT_REFUSED	3

/* Prints "loadclient: MESSAGE" and exits 1: the run is void. */
void	lc_die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
	    noreturn));
/* CLOCK_MONOTONIC in ns: one clock for every process of the machine, so
 * the master's t0 and the workers' arrivals compare. */
int64_t	lc_mono_ns(void);
/* CLOCK_REALTIME - CLOCK_MONOTONIC (ns), from the tightest of 5 brackets:
 * converts kernel receive stamps and commit timestamps to mono_ns. */
int64_t	lc_real_minus_mono(void);
/* "A.B.C.D:PORT" into sa; dies on anything else. */
void	lc_parse_addr(const char *s, struct sockaddr_in *sa);
/* The whole file, NUL-terminated; owned by the caller. Dies on error. */
char	*lc_slurp(const char *path);

#endif
