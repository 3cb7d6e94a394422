/* The one monotonic clock of both daemons (CLOCK_MONOTONIC): it never jumps
 * with the wall clock, so deadlines, timeouts and latencies measured with it
 * stay right across NTP steps. Readings only mean something compared with
 * each other, within one boot. */
#ifndef KC_CLOCK_H
#define KC_CLOCK_H
#include <stdint.h>

/* Milliseconds: for deadlines and timeouts. */
int64_t	clock_ms(void);
/* Microseconds: for latencies reported below a millisecond. */
int64_t	clock_us(void);

#endif
