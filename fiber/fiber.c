/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "fiber_internal.h"

#ifdef TAME_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TAME_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TAME_ASAN 1
#endif
#endif

#ifdef TAME_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define asan_start(save, lo, bytes) __sanitizer_start_switch_fiber(save, lo, bytes)
#define asan_finish(save, lo, bytes) __sanitizer_finish_switch_fiber(save, lo, bytes)
#else
#define asan_start(save, lo, bytes) ((void)(save), (void)(lo), (void)(bytes))
#define asan_finish(save, lo, bytes) ((void)(save), (void)(lo), (void)(bytes))
#endif

__thread struct tame_fiber *tame_fiber_current_ TAME_TLS_IE;

static atomic_uint_fast64_t next_fiber_id = 1;
static _Atomic(tame_fiber_exit_hook_fn) exit_hook;

void **tame_fiber_keys_slot(struct tame_fiber *f)
{
	return &f->keys;
}

void tame_fiber_set_exit_hook(tame_fiber_exit_hook_fn fn)
{
	atomic_store_explicit(&exit_hook, fn, memory_order_release);
}

static void run_exit_hook(struct tame_fiber *f)
{
	tame_fiber_exit_hook_fn fn = atomic_load_explicit(&exit_hook, memory_order_acquire);

	if (f->keys && fn)
		fn(f);
}

static void fiber_entry(struct tame_transfer t)
{
	struct tame_fiber *f = t.data;

	asan_finish(NULL, &f->caller_stack_lo, &f->caller_stack_bytes);
	f->return_ctx = t.fctx;
	f->fn(f->arg);
	run_exit_hook(f);
	f->finished = true;
	/* NULL fake-stack save: this stack is never resumed again. */
	asan_start(NULL, f->caller_stack_lo, f->caller_stack_bytes);
	tame_jump_fcontext(f->return_ctx, NULL);
	__builtin_unreachable();
}

static int check_attr(const struct tame_fiber_attr *attr, size_t *stack_bytes)
{
	size_t bytes = attr && attr->stack_bytes ? attr->stack_bytes
						 : TAME_FIBER_DEFAULT_STACK_BYTES;

	if (bytes < TAME_FIBER_MIN_STACK_BYTES)
		return -EINVAL;
	if (bytes > ((size_t)1 << 30))
		return -EINVAL;
	if (attr && attr->local_bytes > TAME_FIBER_MAX_LOCAL_BYTES)
		return -EINVAL;
	*stack_bytes = bytes;
	return 0;
}

static void fiber_layout(struct tame_fiber *f, char *map_base, size_t map_bytes,
			 size_t local_bytes)
{
	char *header = map_base + map_bytes - tame_stack_header_bytes();

	f->map_base = map_base;
	f->map_bytes = map_bytes;
	f->stack_lo = map_base + TAME_FIBER_GUARD_BYTES;
	f->stack_bytes = (size_t)(header - f->stack_lo);
	f->fls = (unsigned char *)header + ((sizeof(*f) + 63) & ~(size_t)63);
	f->local = local_bytes ? f->fls + TAME_FLS_MAX_BYTES : NULL;
	if (f->local)
		memset(f->local, 0, local_bytes);
}

int tame_fiber_create(const struct tame_fiber_attr *attr, tame_fiber_fn fn,
		      void *arg, struct tame_fiber **out)
{
	size_t stack_bytes, map_bytes;
	char *map_base;
	struct tame_fiber *f;
	int ret;

	if (!fn || !out)
		return -EINVAL;
	ret = check_attr(attr, &stack_bytes);
	if (ret < 0)
		return ret;
	ret = tame_stack_thread_prepare();
	if (ret < 0)
		return ret;
	ret = tame_stack_map(stack_bytes, &map_base, &map_bytes);
	if (ret < 0)
		return ret;

	f = (struct tame_fiber *)(map_base + map_bytes - tame_stack_header_bytes());
	memset(f, 0, sizeof(*f));
	fiber_layout(f, map_base, map_bytes, attr ? attr->local_bytes : 0);
	f->fn = fn;
	f->arg = arg;
	f->id = atomic_fetch_add_explicit(&next_fiber_id, 1, memory_order_relaxed);
	if (attr && attr->name)
		snprintf(f->name, sizeof(f->name), "%s", attr->name);
	else
		snprintf(f->name, sizeof(f->name), "fiber-%llu", (unsigned long long)f->id);
	f->fls_count = tame_fls_snapshot(f->fls);
	f->ctx = tame_make_fcontext(f->stack_lo + f->stack_bytes, f->stack_bytes, fiber_entry);
	f->valgrind_id = VALGRIND_STACK_REGISTER(f->stack_lo, f->stack_lo + f->stack_bytes);
	*out = f;
	return 0;
}

/* Run f from its parent's context until it suspends or returns. */
static inline __attribute__((always_inline)) void switch_into(struct tame_fiber *f,
							      struct tame_fiber *parent)
{
	void *fake_stack = NULL;
	struct tame_transfer t;

	f->parent = parent;
	f->running = true;
	tame_fiber_current_ = f;
	asan_start(&fake_stack, f->stack_lo, f->stack_bytes);
	t = tame_jump_fcontext(f->ctx, f);
	asan_finish(fake_stack, NULL, NULL);
	tame_fiber_current_ = parent;
	f->ctx = t.fctx;
	f->running = false;
}

/*
 * tame_fiber_resume in a batch (tame_fiber_batch_begin), from the thread's
 * own stack: the fiber's values are made live and left there when it
 * suspends. Out of line, so the plain path stays small enough to inline.
 */
static bool __attribute__((noinline)) resume_in_batch(struct tame_fiber *f)
{
	tame_fls_batch_switch(f->fls, f->fls_count);
	switch_into(f, NULL);
	/* A finished fiber's save area goes back to the pool with its stack:
	 * it must not stay the owner of the live values. */
	if (f->finished)
		tame_fls_batch_switch(NULL, 0);
	return !f->finished;
}

bool tame_fiber_resume(struct tame_fiber *f)
{
	struct tame_fiber *parent = tame_fiber_current_;

	assert(!f->running);
	assert(!f->finished);
	/* In a batch only a resume from the thread's own stack is lazy; a
	 * fiber resuming another swaps, so it gets its own values back. */
	if (!parent && tame_fls_batch_open())
		return resume_in_batch(f);
	if (f->fls_count)
		tame_fls_swap(f->fls, f->fls_count);
	switch_into(f, parent);
	if (f->fls_count)
		tame_fls_swap(f->fls, f->fls_count);
	return !f->finished;
}

void tame_fiber_suspend(void)
{
	struct tame_fiber *f = tame_fiber_current_;
	struct tame_transfer t;

	assert(f != NULL);
	asan_start(&f->asan_fake_stack, f->caller_stack_lo, f->caller_stack_bytes);
	t = tame_jump_fcontext(f->return_ctx, NULL);
	asan_finish(f->asan_fake_stack, &f->caller_stack_lo, &f->caller_stack_bytes);
	f->return_ctx = t.fctx;
}

void tame_fiber_destroy(struct tame_fiber *f)
{
	if (!f)
		return;
	assert(!f->running);
	tame_fls_batch_forget(f->fls);
	run_exit_hook(f);
#ifdef TAME_ASAN
	/* A fiber discarded while parked leaves its frames' redzones behind;
	 * the next fiber on this pooled stack must not inherit them. */
	__asan_unpoison_memory_region(f->stack_lo, f->stack_bytes);
#endif
	VALGRIND_STACK_DEREGISTER(f->valgrind_id);
	tame_stack_unmap(f->map_base, f->map_bytes);
}

bool tame_fiber_batch_begin(void *save)
{
	/* A swap of a few bytes costs less than a batch's bookkeeping
	 * (tame_micro, per yield: one 8-byte slot 19 ns swapped, 26-30 ns in
	 * a batch; RocksDB's 953 bytes 215 ns swapped, 73-80 ns in a batch). */
	if (tame_fiber_current_ || tame_fls_bytes() <= TAME_FLS_BATCH_MIN_BYTES)
		return false;
	return tame_fls_batch_begin(save);
}

void tame_fiber_batch_end(void)
{
	if (!tame_fiber_current_)
		tame_fls_batch_end();
}

struct tame_fiber *tame_fiber_self(void)
{
	return tame_fiber_current_;
}

void *tame_fiber_local(struct tame_fiber *f)
{
	return f->local;
}

bool tame_fiber_finished(const struct tame_fiber *f)
{
	return f->finished;
}

const char *tame_fiber_name(const struct tame_fiber *f)
{
	return f->name;
}

uint64_t tame_fiber_id(const struct tame_fiber *f)
{
	return f->id;
}

size_t tame_fiber_stack_bytes(const struct tame_fiber *f)
{
	return f->stack_bytes;
}

const char *tame_fiber_backend(void)
{
#ifdef TAME_FCONTEXT_WRAPPER
	return "boost-cxx-wrapper";
#else
	return "boost-c";
#endif
}
