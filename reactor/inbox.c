/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cross-thread inbox: Dmitry Vyukov's bounded queue. Producers claim a
 * cell with one CAS on tail; the single consumer (the owner thread) needs
 * no atomic read-modify-write. Bounded: a full inbox refuses, it never
 * grows.
 */
#include <errno.h>
#include <stdlib.h>

#include "reactor_internal.h"

int inbox_init(struct tame_inbox *q, size_t capacity)
{
	q->cells = calloc(capacity, sizeof(*q->cells));
	if (!q->cells)
		return -ENOMEM;
	for (size_t i = 0; i < capacity; i++)
		atomic_init(&q->cells[i].seq, i);
	q->mask = capacity - 1;
	atomic_init(&q->tail, 0);
	q->head = 0;
	return 0;
}

void inbox_free(struct tame_inbox *q)
{
	free(q->cells);
	q->cells = NULL;
}

bool inbox_push(struct tame_inbox *q, tame_fiber_fn fn, void *arg)
{
	size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);

	for (;;) {
		struct inbox_cell *c = &q->cells[pos & q->mask];
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t dif = (intptr_t)seq - (intptr_t)pos;

		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(
				    &q->tail, &pos, pos + 1, memory_order_relaxed,
				    memory_order_relaxed)) {
				c->fn = fn;
				c->arg = arg;
				atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
				return true;
			}
		} else if (dif < 0) {
			return false; /* full */
		} else {
			pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
		}
	}
}

bool inbox_pop(struct tame_inbox *q, tame_fiber_fn *fn, void **arg)
{
	struct inbox_cell *c = &q->cells[q->head & q->mask];
	size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);

	if (seq != q->head + 1)
		return false;
	*fn = c->fn;
	*arg = c->arg;
	atomic_store_explicit(&c->seq, q->head + q->mask + 1, memory_order_release);
	q->head++;
	return true;
}

bool inbox_empty(const struct tame_inbox *q)
{
	const struct inbox_cell *c = &q->cells[q->head & q->mask];

	return atomic_load_explicit(&c->seq, memory_order_acquire) != q->head + 1;
}
