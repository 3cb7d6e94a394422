/* The masters of the load client's modes, called by main.c once the
 * options are set; each returns 0 when its rounds ran. */
#ifndef LC_MODES_H
#define LC_MODES_H

/* fanout, storm, idle (fanout.c) */
int	fanout_main(void);
void	fanout_end(void);
/* scale (scale.c) */
int	scale_main(void);

#endif
