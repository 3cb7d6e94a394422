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

const char *const log_level_names[] = { "error", "warn", "notice", "info",
    "debug", NULL };

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

	for (i = 0; log_level_names[i] != NULL; i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
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

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

size_t
log_fold(char *dst, size_t size, const char *src, size_t n)
{
	size_t i = 0, o = 0;

	while (i < n && o < size) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\n' || c == '\r') {
			int indented;

			while (o > 0 && is_blank(dst[o - 1]))
				o--;
			while (i < n && (src[i] == '\n' || src[i] == '\r'))
				i++;
			indented = i < n && (src[i] == ' ' || src[i] == '\t');
			while (i < n && is_blank(src[i]))
				i++;
			if (o > 0 && i < n) {
				if (!indented && o < size)
					dst[o++] = ';';
				if (o < size)
					dst[o++] = ' ';
			}
			continue;
		}
		dst[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
		i++;
	}
	while (o > 0 && is_blank(dst[o - 1]))
		o--;
	return o;
}

char *
log_oneline(char *dst, size_t dstlen, const char *src)
{
	size_t n;

	if (dstlen == 0)
		return dst;
	n = log_fold(dst, dstlen - 1, src, strlen(src));
	dst[n] = '\0';
	return dst;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048], msg[2048];
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
	    (long)(tv.tv_usec / 1000), log_level_names[level], log_prog, (int)getpid());
	if (r > 0)
		n += (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	if ((size_t)r >= sizeof(msg))
		r = sizeof(msg) - 1;
	/* Room for the newline. */
	n += log_fold(line + n, sizeof(line) - n - 1, msg, (size_t)r);
	line[n++] = '\n';
	/* A failed log write has nowhere to be reported; the daemon goes on. */
	if (write(log_fd, line, n) < 0)
		return;
}
