/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TAME_FIBER_INTERNAL_H
#define TAME_FIBER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcontext.h"
#include "tame_fiber.h"

#define TAME_TLS_IE __attribute__((tls_model("initial-exec")))

/*
 * Below every stack: PROT_NONE. One page is the minimum; 64 KiB costs only
 * address space and also catches frames larger than a page (RocksDB has
 * several) that would jump a single guard page into the next mapping.
 */
#define TAME_FIBER_GUARD_BYTES ((size_t)64 * 1024)

/*
 * A fiber's mapping, low to high:
 *   [guard][usable stack ............][struct tame_fiber | fls | local]
 * The header block is a fixed size so pooled mappings fit any fiber with
 * the same stack size.
 */
struct tame_fiber {
	tame_fctx ctx;		/* fiber's context while suspended */
	tame_fctx return_ctx;	/* resumer's context while running */
	struct tame_fiber *parent;
	tame_fiber_fn fn;
	void *arg;
	char *map_base;		/* start of the mapping (guard page) */
	size_t map_bytes;
	char *stack_lo;		/* lowest usable byte */
	size_t stack_bytes;
	uint64_t id;
	int fls_count;		/* slots swapped for this fiber */
	bool running;
	bool finished;
	unsigned valgrind_id;
	void *asan_fake_stack;
	const void *caller_stack_lo;
	size_t caller_stack_bytes;
	unsigned char *fls;	/* saved slot values */
	unsigned char *local;	/* owner area */
	void *keys;		/* port/'s pthread key values, or NULL */
	char name[TAME_FIBER_NAME_BYTES];
};

/* The fiber running on this thread (NULL on the thread's own stack). */
extern __thread struct tame_fiber *tame_fiber_current_ TAME_TLS_IE;

/* stack.c: mappings, the per-thread pool, the overflow reporter. */
size_t tame_stack_header_bytes(void);
int tame_stack_map(size_t stack_bytes, char **map_base, size_t *map_bytes);
void tame_stack_unmap(char *map_base, size_t map_bytes);
int tame_stack_thread_prepare(void);

/* fls.c */
int tame_fls_snapshot(unsigned char *save);
size_t tame_fls_bytes(void);
void tame_fls_swap(unsigned char *save, int count);

/*
 * The open batch of this thread (tame_fiber_batch_begin): batch_save_ is
 * the caller's area for the thread's own values, non-NULL while a batch is
 * open; batch_owner_ is the save area of the fiber whose values are live
 * (NULL: the thread's own).
 */
extern __thread unsigned char *tame_fls_batch_save_ TAME_TLS_IE;
extern __thread unsigned char *tame_fls_batch_owner_ TAME_TLS_IE;
void tame_fls_batch_switch_slow(unsigned char *save, int count);

static inline bool tame_fls_batch_open(void)
{
	return tame_fls_batch_save_ != NULL;
}

/* Make the fiber's values with this save area live (NULL or count 0: the
 * thread's own), saving the current owner's. */
static inline void tame_fls_batch_switch(unsigned char *save, int count)
{
	if (count == 0)
		save = NULL; /* such a fiber sees the thread's own values */
	if (save != tame_fls_batch_owner_)
		tame_fls_batch_switch_slow(save, count);
}

void tame_fls_batch_forget(unsigned char *save);
bool tame_fls_batch_begin(unsigned char *save);
void tame_fls_batch_end(void);

#endif /* TAME_FIBER_INTERNAL_H */
