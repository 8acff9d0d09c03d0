/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fiber-local slots. The registry is process-wide and append-only; each
 * thread resolves the slots' addresses once, lazily. A switch swaps each
 * slot's live bytes with the fiber's saved copy: swapping in on resume and
 * swapping back on return leaves the thread's own value where it was, so no
 * separate per-thread save area is needed.
 *
 * Inside a batch (tame_fiber_batch_begin) a fiber resumed from the thread's
 * own stack leaves its values live when it suspends: the thread's stack
 * runs no code that reads the slots until the batch ends, so the next
 * switch only saves the last fiber's values and loads the next one's (two
 * copies instead of a swap out and a swap in, six), and a fiber resumed
 * twice in a row copies nothing. The thread's own values wait in the
 * caller's save area and are put back when the batch ends.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <string.h>

#include "fiber_internal.h"

struct fls_slot {
	tame_fls_resolve_fn resolve;
	void *ctx;
	size_t size;
	size_t offset;
};

static struct fls_slot slots[TAME_FLS_MAX_SLOTS];
static unsigned char fls_initial[TAME_FLS_MAX_BYTES];
static size_t fls_used_bytes;
static atomic_int fls_published;
static atomic_flag fls_lock = ATOMIC_FLAG_INIT;

static __thread void *fls_addr[TAME_FLS_MAX_SLOTS] TAME_TLS_IE;
static __thread int fls_resolved TAME_TLS_IE;

/* The open batch of this thread (see fiber_internal.h). */
__thread unsigned char *tame_fls_batch_save_ TAME_TLS_IE;
__thread unsigned char *tame_fls_batch_owner_ TAME_TLS_IE;
static __thread int batch_owner_count TAME_TLS_IE;
static __thread int batch_saved TAME_TLS_IE;
#define batch_save tame_fls_batch_save_
#define batch_owner tame_fls_batch_owner_

int tame_fls_register(tame_fls_resolve_fn resolve, void *ctx, size_t size,
		      const void *initial)
{
	size_t offset;
	int n;

	if (!resolve || size == 0)
		return -EINVAL;
	/* A spin lock, not a pthread mutex: port/ interposes those. */
	while (atomic_flag_test_and_set_explicit(&fls_lock, memory_order_acquire))
		;
	n = atomic_load_explicit(&fls_published, memory_order_relaxed);
	offset = (fls_used_bytes + 15) & ~(size_t)15;
	if (n >= TAME_FLS_MAX_SLOTS || size > TAME_FLS_MAX_BYTES - offset ||
	    offset > TAME_FLS_MAX_BYTES) {
		atomic_flag_clear_explicit(&fls_lock, memory_order_release);
		return -ENOSPC;
	}
	slots[n] = (struct fls_slot){resolve, ctx, size, offset};
	if (initial)
		memcpy(fls_initial + offset, initial, size);
	fls_used_bytes = offset + size;
	atomic_store_explicit(&fls_published, n + 1, memory_order_release);
	atomic_flag_clear_explicit(&fls_lock, memory_order_release);
	return n;
}

int tame_fls_count(void)
{
	return atomic_load_explicit(&fls_published, memory_order_acquire);
}

size_t tame_fls_bytes(void)
{
	int n = tame_fls_count();

	return n ? slots[n - 1].offset + slots[n - 1].size : 0;
}

int tame_fls_snapshot(unsigned char *save)
{
	int n = tame_fls_count();

	if (n)
		memcpy(save, fls_initial, slots[n - 1].offset + slots[n - 1].size);
	return n;
}

static void __attribute__((noinline)) fls_resolve_upto(int count)
{
	for (int i = fls_resolved; i < count; i++)
		fls_addr[i] = slots[i].resolve(slots[i].ctx);
	fls_resolved = count;
}

static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
	unsigned char tmp[256];

	while (size) {
		size_t n = size < sizeof(tmp) ? size : sizeof(tmp);

		memcpy(tmp, a, n);
		memcpy(a, b, n);
		memcpy(b, tmp, n);
		a += n;
		b += n;
		size -= n;
	}
}

static inline void copy_slot(void *dst, const void *src, size_t size)
{
	if (size == sizeof(uint64_t))
		memcpy(dst, src, sizeof(uint64_t)); /* one move, no call */
	else
		memcpy(dst, src, size);
}

static void copy_out(unsigned char *save, int from, int to)
{
	for (int i = from; i < to; i++)
		copy_slot(save + slots[i].offset, fls_addr[i], slots[i].size);
}

static void copy_in(const unsigned char *save, int from, int to)
{
	for (int i = from; i < to; i++)
		copy_slot(fls_addr[i], save + slots[i].offset, slots[i].size);
}

static int max3(int a, int b, int c)
{
	int m = a > b ? a : b;

	return m > c ? m : c;
}

__attribute__((noinline)) void tame_fls_batch_switch_slow(unsigned char *save, int count)
{
	int had = batch_owner_count, top;

	top = max3(had, count, batch_saved);
	if (__builtin_expect(fls_resolved < top, 0))
		fls_resolve_upto(top);
	if (save && had && had == count && count == batch_saved) {
		/* The common case: one fiber's values out, another's in. */
		for (int i = 0; i < count; i++) {
			size_t off = slots[i].offset, size = slots[i].size;

			copy_slot(batch_owner + off, fls_addr[i], size);
			copy_slot(fls_addr[i], save + off, size);
		}
		batch_owner = save;
		return;
	}
	if (had)
		copy_out(batch_owner, 0, had);
	if (save) {
		/* Live [had, top) are the thread's own values, perhaps changed
		 * by a fiber that does not cover them: keep them current. */
		top = count > batch_saved ? count : batch_saved;
		if (had < top)
			copy_out(batch_save, had, top);
		batch_saved = top;
		copy_in(save, 0, count);
	}
	if (count < had)
		copy_in(batch_save, count, had);
	batch_owner = save;
	batch_owner_count = count;
}

void tame_fls_batch_forget(unsigned char *save)
{
	if (batch_save && save == batch_owner)
		tame_fls_batch_switch_slow(NULL, 0);
}

bool tame_fls_batch_begin(unsigned char *save)
{
	if (batch_save || !save)
		return false;
	batch_save = save;
	batch_owner = NULL;
	batch_owner_count = 0;
	batch_saved = 0;
	return true;
}

void tame_fls_batch_end(void)
{
	if (!batch_save)
		return;
	tame_fls_batch_switch(NULL, 0);
	batch_save = NULL;
	batch_saved = 0;
}

void tame_fls_swap(unsigned char *save, int count)
{
	if (__builtin_expect(fls_resolved < count, 0))
		fls_resolve_upto(count);
	for (int i = 0; i < count; i++) {
		unsigned char *live = fls_addr[i];
		unsigned char *saved = save + slots[i].offset;

		if (slots[i].size == sizeof(uint64_t)) {
			uint64_t t;

			memcpy(&t, live, sizeof(t));
			memcpy(live, saved, sizeof(t));
			memcpy(saved, &t, sizeof(t));
		} else {
			swap_bytes(live, saved, slots[i].size);
		}
	}
}
