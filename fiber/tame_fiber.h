/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TAME_FIBER_H
#define TAME_FIBER_H

/*
 * tamerocks fibers: stackful coroutines on boost.context's fcontext.
 *
 * Mechanism only. A fiber is resumed by whoever holds it (a reactor, a test)
 * and suspends back to that resumer; nothing here knows about run queues or
 * I/O. Every function acts on the calling OS thread: a fiber is created,
 * resumed and destroyed on one thread and never migrates.
 *
 * Errors are returned as -errno; programmer errors are assertions.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RocksDB's call chains are deep (table readers, compaction iterators). */
#define TAME_FIBER_DEFAULT_STACK_BYTES ((size_t)256 * 1024)
/* Smallest usable stack accepted by tame_fiber_create. */
#define TAME_FIBER_MIN_STACK_BYTES ((size_t)16 * 1024)
/* Largest owner area a fiber carries for its scheduler (tame_fiber_local). */
#define TAME_FIBER_MAX_LOCAL_BYTES ((size_t)1024)
/* Names are copied and truncated to this many bytes including the NUL. */
#define TAME_FIBER_NAME_BYTES 32

/* Fiber-local slot registry limits (see tame_fls_register). */
#define TAME_FLS_MAX_SLOTS 16
#define TAME_FLS_MAX_BYTES ((size_t)4096)
#define TAME_FLS_BATCH_MIN_BYTES ((size_t)64)

struct tame_fiber; /* opaque; lives at the top of its own stack mapping */

typedef void (*tame_fiber_fn)(void *arg);

struct tame_fiber_attr {
	/* Usable stack, rounded up to whole pages; 0 selects the default. A
	 * PROT_NONE guard page is added below it. */
	size_t stack_bytes;
	/* Bytes reserved for the resumer's own per-fiber state, 16-byte
	 * aligned and zeroed, returned by tame_fiber_local(). At most
	 * TAME_FIBER_MAX_LOCAL_BYTES. */
	size_t local_bytes;
	/* Copied; NULL names the fiber "fiber-<id>". */
	const char *name;
};

/*
 * Create a suspended fiber that will run fn(arg) when first resumed.
 * Stacks of the default size come from a per-thread pool, so spawning does
 * not mmap each time. Returns 0 and sets *out, or -EINVAL (bad attr),
 * -ENOMEM (no memory or no mappings left).
 */
int tame_fiber_create(const struct tame_fiber_attr *attr, tame_fiber_fn fn,
		      void *arg, struct tame_fiber **out);

/*
 * Switch from the calling context (a thread or another fiber) into f until f
 * suspends or returns. Fiber-local slots are swapped in and out around the
 * switch. Returns true while f can be resumed again, false once fn returned.
 * f must belong to this thread and must not be running.
 */
bool tame_fiber_resume(struct tame_fiber *f);

/*
 * A batch of resumes for a scheduler: between tame_fiber_batch_begin() and
 * tame_fiber_batch_end() on one thread, a fiber resumed from the thread's
 * own stack leaves its fiber-local slot values in place when it suspends,
 * and the next resume moves them to its save area only if another fiber
 * runs next. The thread's own values are parked in save (at least
 * TAME_FLS_MAX_BYTES bytes, owned by the caller until the batch ends) and
 * put back by tame_fiber_batch_end(). Until then the thread's own stack must
 * not read or write the slots' variables, and no fiber resumed in the batch
 * may be resumed on, or destroyed by, another thread. Returns false (and
 * changes nothing) on a fiber, with save NULL, with no more than
 * TAME_FLS_BATCH_MIN_BYTES of slots registered (swapping them is cheaper)
 * or with a batch already open; call tame_fiber_batch_end() only after a
 * true.
 */
bool tame_fiber_batch_begin(void *save);
void tame_fiber_batch_end(void);

/* From a running fiber: switch back to the context that resumed it. */
void tame_fiber_suspend(void);

/*
 * Release f and return its stack to this thread's pool. f must not be
 * running; a suspended fiber is discarded without unwinding its stack.
 */
void tame_fiber_destroy(struct tame_fiber *f);

/* The fiber running on this thread, or NULL on a plain thread context. */
struct tame_fiber *tame_fiber_self(void);

/* Owner area of local_bytes reserved at creation (NULL if 0 were asked). */
void *tame_fiber_local(struct tame_fiber *f);

/* True once fn has returned. */
bool tame_fiber_finished(const struct tame_fiber *f);

/* Name given at creation (or "fiber-<id>"); valid until destroy. */
const char *tame_fiber_name(const struct tame_fiber *f);

/* Process-wide unique id, never 0. */
uint64_t tame_fiber_id(const struct tame_fiber *f);

/* Usable stack bytes (after page rounding, without the guard page). */
size_t tame_fiber_stack_bytes(const struct tame_fiber *f);

/*
 * Release this thread's pooled stacks. Stacks are also released when the
 * thread exits.
 */
void tame_fiber_pool_trim(void);

/* Per-thread pool limit in stacks (default 128); returns the old limit. */
size_t tame_fiber_pool_set_limit(size_t stacks);

/*
 * Fiber-local slots: thread-local variables that each fiber sees its own
 * copy of. resolve(ctx) must return the calling thread's instance of the
 * variable (for a C thread-local, its address; for a shared library's TLS
 * symbol, dlsym()'s answer on that thread); it is called once per thread
 * that switches fibers, never on the hot path. size bytes are swapped at
 * every switch. A new fiber starts with a copy of initial (zeroes if NULL).
 *
 * Register before creating the fibers that must see the slot: a fiber
 * created earlier does not swap slots registered after it. Thread-safe.
 * Returns the slot index, or -EINVAL (size 0 or resolve NULL), -ENOSPC
 * (TAME_FLS_MAX_SLOTS or TAME_FLS_MAX_BYTES exceeded).
 */
typedef void *(*tame_fls_resolve_fn)(void *ctx);
int tame_fls_register(tame_fls_resolve_fn resolve, void *ctx, size_t size,
		      const void *initial);

/* Number of registered slots. */
int tame_fls_count(void);

/*
 * One pointer per fiber for port/'s per-fiber pthread keys, and a hook
 * called when a fiber whose pointer is set finishes: on the fiber, after fn
 * returned (so key destructors may still park), or from tame_fiber_destroy
 * for a fiber discarded unfinished. The hook must clear the pointer. Set the
 * hook once, before any fiber sets its pointer.
 */
void **tame_fiber_keys_slot(struct tame_fiber *f);
typedef void (*tame_fiber_exit_hook_fn)(struct tame_fiber *f);
void tame_fiber_set_exit_hook(tame_fiber_exit_hook_fn fn);

/*
 * Name of the fcontext backend chosen at configure time: "boost-c" when
 * Boost exports the C jump_fcontext symbols, "boost-cxx-wrapper" otherwise.
 */
const char *tame_fiber_backend(void);

#ifdef __cplusplus
}
#endif

#endif /* TAME_FIBER_H */
