// Invariant checks that stay on in release builds. Bad input is never asserted: it is an error
// path. A failed assertion means the program itself is wrong, so it stops at once.
#pragma once

#include <cstdio>
#include <cstdlib>

#define CHORUS_ASSERT(cond)                                                                 \
    do {                                                                                    \
        if (!(cond)) [[unlikely]] {                                                         \
            std::fprintf(stderr, "chorus: assertion failed: %s (%s:%d)\n", #cond, __FILE__, \
                         __LINE__);                                                         \
            std::abort();                                                                   \
        }                                                                                   \
    } while (0)
