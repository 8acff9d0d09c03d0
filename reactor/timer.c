/* SPDX-License-Identifier: Apache-2.0 */
/* Deadline min-heap. Timers live in the sleeping fiber's frame; the heap
 * stores pointers and each timer knows its index, so removal is O(log n). */
#include <errno.h>
#include <stdlib.h>

#include "reactor_internal.h"

static void heap_set(struct tame_timer_heap *h, size_t i, struct tame_timer *t)
{
	h->v[i] = t;
	t->index = i;
}

static void sift_up(struct tame_timer_heap *h, size_t i)
{
	struct tame_timer *t = h->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (h->v[parent]->deadline_ns <= t->deadline_ns)
			break;
		heap_set(h, i, h->v[parent]);
		i = parent;
	}
	heap_set(h, i, t);
}

static void sift_down(struct tame_timer_heap *h, size_t i)
{
	struct tame_timer *t = h->v[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= h->len)
			break;
		if (child + 1 < h->len &&
		    h->v[child + 1]->deadline_ns < h->v[child]->deadline_ns)
			child++;
		if (t->deadline_ns <= h->v[child]->deadline_ns)
			break;
		heap_set(h, i, h->v[child]);
		i = child;
	}
	heap_set(h, i, t);
}

int timer_heap_push(struct tame_timer_heap *h, struct tame_timer *t)
{
	if (h->len == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct tame_timer **v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	heap_set(h, h->len++, t);
	sift_up(h, h->len - 1);
	return 0;
}

void timer_heap_remove(struct tame_timer_heap *h, struct tame_timer *t)
{
	size_t i = t->index;
	struct tame_timer *last;

	if (i == TIMER_NONE)
		return;
	t->index = TIMER_NONE;
	last = h->v[--h->len];
	if (i == h->len)
		return;
	heap_set(h, i, last);
	if (i > 0 && h->v[(i - 1) / 2]->deadline_ns > last->deadline_ns)
		sift_up(h, i);
	else
		sift_down(h, i);
}

struct tame_timer *timer_heap_top(const struct tame_timer_heap *h)
{
	return h->len ? h->v[0] : NULL;
}

void timer_heap_free(struct tame_timer_heap *h)
{
	free(h->v);
	*h = (struct tame_timer_heap){0};
}
