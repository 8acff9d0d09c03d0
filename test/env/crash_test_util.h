// SPDX-License-Identifier: Apache-2.0
// Keys and values shared by crash_writer.cc and crash_test.cc.
#ifndef TAME_CRASH_TEST_UTIL_H
#define TAME_CRASH_TEST_UTIL_H

#include <stdio.h>

#include <string>

namespace tamerocks_test
{

inline std::string CrashKey(int fiber, int index)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "f%d-%09d", fiber, index);
	return buf;
}

// Distinct per key, so a value read back under the wrong key shows.
inline std::string CrashValue(int fiber, int index, size_t size = 200)
{
	std::string v = CrashKey(fiber, index) + ":";
	while (v.size() < size)
		v += (char)('a' + (v.size() * 31 + (size_t)index) % 26);
	return v;
}

} // namespace tamerocks_test

#endif // TAME_CRASH_TEST_UTIL_H
