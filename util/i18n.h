// Message translation: every user-visible message is one _() literal, with
// positional printf arguments (%1$s) so translators can reorder them.
#pragma once

#include <libintl.h>

#include <string>

#ifndef PACKAGE
#define PACKAGE "arrow"
#endif

#define _(s) dgettext(PACKAGE, s)
#define N_(s) s

namespace arrow {

// printf-style formatting into a std::string (positional arguments allowed).
std::string fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace arrow
