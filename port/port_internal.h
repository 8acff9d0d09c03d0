/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TAME_PORT_INTERNAL_H
#define TAME_PORT_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

/* This library's own definitions (hidden aliases), to tell whether the
 * process resolves the public names to them. */
extern __typeof(pthread_mutex_lock) tame_port_own_mutex_lock;
extern __typeof(pthread_cond_wait) tame_port_own_cond_wait;

/* Lock owner id of the caller: its fiber on a fiber, else its OS thread. */
uint64_t tame_port_self_token(void);

/* glibc's definition of name (version preferred), found past tamerocks in
 * the lookup order; aborts with a message if there is none. */
void *tame_port_real(const char *name, const char *version);

/* The real function, looked up once. Usable in any port/ file. */
#define REAL(name, version, ...)                                                   \
	({                                                                         \
		static typeof(&name) real_;                                        \
		typeof(&name) f_ = __atomic_load_n(&real_, __ATOMIC_ACQUIRE);      \
		if (!f_) {                                                         \
			f_ = (typeof(&name))tame_port_real(#name, version);       \
			__atomic_store_n(&real_, f_, __ATOMIC_RELEASE);            \
		}                                                                  \
		f_(__VA_ARGS__);                                                   \
	})

#endif /* TAME_PORT_INTERNAL_H */
