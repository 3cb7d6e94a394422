/* Logging for both daemons: one line per event on stderr (journald and the
 * demo's log files capture it), "TIME LEVEL PROG[PID]: message". log_reopen
 * re-opens the --log-file after logrotate (SIGHUP). */
#ifndef KC_LOG_H
#define KC_LOG_H
#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void	log_init(const char *prog, enum log_level level, const char *path);
int	log_reopen(void);
int	log_parse_level(const char *s, enum log_level *out);
int	log_enabled(enum log_level level);
/* Copies src into dst (dstlen bytes, always terminated) as one line: each
 * run of white space holding a line break or tab becomes one space, and
 * the ends are trimmed, so a multi-line message (libpq's) fits one log
 * line. Returns dst. */
char	*log_oneline(char *dst, size_t dstlen, const char *src);
void	log_msg(enum log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
