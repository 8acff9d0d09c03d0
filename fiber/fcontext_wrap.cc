// SPDX-License-Identifier: Apache-2.0
// Only built when Boost does not export the C fcontext symbols (Boost >=
// 1.87): forwards to Boost's C++ declarations with C linkage.
#include <boost/context/detail/fcontext.hpp>

extern "C" {
#include "fcontext.h"
}

namespace bcd = boost::context::detail;

static_assert(sizeof(bcd::transfer_t) == sizeof(tame_transfer), "transfer_t layout");

extern "C" tame_transfer tame_jump_fcontext(tame_fctx const to, void *data)
{
	bcd::transfer_t t = bcd::jump_fcontext(static_cast<bcd::fcontext_t>(to), data);
	return tame_transfer{t.fctx, t.data};
}

extern "C" tame_fctx tame_make_fcontext(void *sp, size_t size, tame_fctx_entry fn)
{
	// Same layout (asserted above); the detour through void(*)() is the
	// documented way to tell -Wcast-function-type the cast is intended.
	auto entry = reinterpret_cast<void (*)(bcd::transfer_t)>(reinterpret_cast<void (*)()>(fn));
	return bcd::make_fcontext(sp, size, entry);
}
