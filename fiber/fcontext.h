/* SPDX-License-Identifier: Apache-2.0 */
#ifndef TAME_FCONTEXT_H
#define TAME_FCONTEXT_H

/*
 * boost.context's fcontext, the only context switch tamerocks uses.
 *
 * jump_fcontext (jump_x86_64_sysv_elf_gas.S) saves the callee-saved state on
 * the current stack and switches stacks:
 *
 *   saved on the old stack     rbx rbp r12-r15, MXCSR + x87 control word,
 *                              return address
 *   returned in rax/rdx        transfer { fctx of the context that jumped
 *                              here, data passed to jump_fcontext }
 *
 * Boost <= 1.86 exports the C symbols and we call them directly. Later
 * Boost hides them; the build then compiles fcontext_wrap.cc, which calls
 * Boost's C++ declarations (TAME_FCONTEXT_WRAPPER).
 */

#include <stddef.h>

typedef void *tame_fctx;

struct tame_transfer {
	tame_fctx fctx;
	void *data;
};

typedef void (*tame_fctx_entry)(struct tame_transfer);

#ifdef TAME_FCONTEXT_WRAPPER
struct tame_transfer tame_jump_fcontext(tame_fctx const to, void *data);
tame_fctx tame_make_fcontext(void *sp, size_t size, tame_fctx_entry fn);
#else
struct tame_transfer jump_fcontext(tame_fctx const to, void *data);
tame_fctx make_fcontext(void *sp, size_t size, tame_fctx_entry fn);
#define tame_jump_fcontext jump_fcontext
#define tame_make_fcontext make_fcontext
#endif

#endif /* TAME_FCONTEXT_H */
