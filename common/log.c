/* Line-oriented logging to stderr or a file (see log.h). Each message is
 * written with one write(2) so lines from prefork workers never interleave. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char	*log_prog = "keycast";
static enum log_level	 log_lvl = LOG_INFO;
static const char	*log_path;	/* borrowed from argv; NULL = stderr */
static int		 log_fd = 2;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_init(const char *prog, enum log_level level, const char *path)
{
	log_prog = prog;
	log_lvl = level;
	log_path = path;
	log_reopen();
}

int
log_reopen(void)
{
	int fd;

	if (log_path == NULL)
		return 0;
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_error("cannot open log file %s: %s", log_path, strerror(errno));
		return -1;
	}
	if (log_fd != 2)
		close(log_fd);
	log_fd = fd;
	return 0;
}

int
log_parse_level(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int
log_enabled(enum log_level level)
{
	return level <= log_lvl;
}

char *
log_oneline(char *dst, size_t dstlen, const char *src)
{
	size_t n = 0;

	if (dstlen == 0)
		return dst;
	src += strspn(src, " \t\r\n");
	while (*src != '\0' && n + 1 < dstlen) {
		size_t run = strspn(src, " \t\r\n");

		if (run == 0) {
			dst[n++] = *src++;
			continue;
		}
		if (src[run] == '\0')
			break;
		/* Plain spaces stay as they are; a break becomes one space. */
		if (strcspn(src, "\t\r\n") >= run) {
			for (; run > 0 && n + 1 < dstlen; run--)
				dst[n++] = *src++;
			continue;
		}
		dst[n++] = ' ';
		src += run;
	}
	dst[n] = '\0';
	return dst;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int r;
	va_list ap;

	if (!log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s[%d]: ",
	    (long)(tv.tv_usec / 1000), level_names[level], log_prog, (int)getpid());
	if (r > 0)
		n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* A failed log write has nowhere to be reported; the daemon goes on. */
	if (write(log_fd, line, n) < 0)
		return;
}
