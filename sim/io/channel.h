/* Work handed to the event loop from another thread (the scenario runner),
 * which waits until it is done. The only way another thread touches the
 * device: the loop runs the function, so its state stays single-threaded. */
#ifndef SC_CHANNEL_H
#define SC_CHANNEL_H

#include "loop.h"

struct sc_channel;
struct sc_call;

/* NULL when out of resources. */
struct sc_channel *sc_channel_new(struct sc_loop *loop);
void sc_channel_free(struct sc_channel *ch);

/* From another thread: fn(arg, call) runs in the loop; sc_channel_run
 * returns the result fn (or a callback it set up) passed to sc_channel_done. */
int sc_channel_run(struct sc_channel *ch, void (*fn)(void *arg, struct sc_call *call), void *arg);
/* The same in two halves, so that the caller works while the loop does:
 * sc_channel_post hands fn over and returns at once (the call is owned by
 * the channel; NULL out of memory or when the loop could not be woken),
 * sc_channel_wait waits for it and returns its result. One call at a time:
 * nothing else goes through the channel between the two. */
struct sc_call *sc_channel_post(struct sc_channel *ch, void (*fn)(void *arg, struct sc_call *call),
				void *arg);
int sc_channel_wait(struct sc_call *call);
/* In the loop: the call is over. */
void sc_channel_done(struct sc_call *call, int result);

#endif
