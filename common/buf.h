/* A growable byte buffer, always NUL-terminated so it can be used as a C
 * string. buf_init/buf_cleanup work on caller storage, which owns the
 * bytes. */
#ifndef KC_BUF_H
#define KC_BUF_H
#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;	/* owned; NULL until the first append */
	size_t	 len;
	size_t	 cap;
};

void	 buf_init(struct buf *b);
void	 buf_cleanup(struct buf *b);
void	 buf_reset(struct buf *b);
void	 buf_append(struct buf *b, const void *p, size_t n);
void	 buf_puts(struct buf *b, const char *s);
void	 buf_putc(struct buf *b, char c);
void	 buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends s with &, <, >, ", ' replaced by HTML entities. */
void	 buf_put_html(struct buf *b, const char *s, size_t n);

#endif
