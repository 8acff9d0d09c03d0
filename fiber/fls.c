/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fiber-local slots. The registry is process-wide and append-only; each
 * thread resolves the slots' addresses once, lazily. A switch swaps each
 * slot's live bytes with the fiber's saved copy: swapping in on resume and
 * swapping back on return leaves the thread's own value where it was, so no
 * separate per-thread save area is needed.
 */
#include <errno.h>
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
