/* Logging for both daemons: one line per event on stderr (journald and the
 * demo's log files capture it), "TIME LEVEL PROG[PID]: message". log_reopen
 * re-opens the --log-file after logrotate (SIGHUP). */
#ifndef KC_LOG_H
#define KC_LOG_H
#include <stddef.h>

/* notice: a normal event an operator should still see (pushd's quiet-key
 * warning: likely a mistake in the app, not in the daemon). */
enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

/* Each level's name, indexed by enum log_level, NULL-terminated. */
extern const char *const log_level_names[];

void	log_init(const char *prog, enum log_level level, const char *path);
int	log_reopen(void);
int	log_parse_level(const char *s, enum log_level *out);
int	log_enabled(enum log_level level);
/* log_fold of the string src into dst (dstlen bytes, always terminated
 * when dstlen > 0), for messages kept to be logged later. Returns dst. */
char	*log_oneline(char *dst, size_t dstlen, const char *src);
void	log_msg(enum log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Copies src[0..n) into dst as one line, at most size bytes (no NUL), and
 * returns the length: a line break and the blanks around it become one
 * space, or "; " when the next line is not indented (a new message, as
 * libpq chains them); other control bytes become spaces; trailing blanks
 * go. log_msg applies it to every message, so no caller can break the
 * one-line-per-event format. */
size_t	log_fold(char *dst, size_t size, const char *src, size_t n);

#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
