// Files, directories and socket paths, as every part of the daemon uses them:
// errors carry libvirt's SYSTEM_ERROR with the path and errno's text.
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace arrow {

// The infix of write_file_atomic's temporary files (PATH.tmp-XXXXXX).
inline constexpr std::string_view kTempInfix = ".tmp-";

// "cannot WHAT 'PATH': strerror(ERR)" as VIR_ERR_SYSTEM_ERROR.
Error system_error(const char* what, const std::string& path, int err);

// PATH's directory: "." without a slash, "/" for a file in the root.
std::string dir_of(const std::string& path);

// Makes a rename or unlink in DIR durable.
Status fsync_dir(const std::string& dir);

// Writes all of CONTENT to FD (PATH names it in errors).
Status write_all(int fd, std::string_view content, const std::string& path);

bool ends_with(const std::string& s, std::string_view suffix);

// The address of the Unix socket PATH; an error when it does not fit.
Result<sockaddr_un> unix_address(const std::string& path);

// Creates DIR and its missing parents with MODE (mkdir -p).
Status make_dirs(const std::string& dir, mode_t mode = 0755);

// Replaces PATH with CONTENT so that a crash at any point leaves either the
// old or the new file, never a torn one: writes PATH.tmp-XXXXXX in the same
// directory, fsyncs it, renames it over PATH and fsyncs the directory.
Status write_file_atomic(const std::string& path, std::string_view content, mode_t mode = 0600);

// Unlinks PATH and fsyncs its directory; a missing file is not an error.
Status remove_file_durable(const std::string& path);

Result<std::string> read_whole_file(const std::string& path);

// The names in DIR but those starting with '.', sorted; none when DIR cannot
// be read.
std::vector<std::string> list_dir(const std::string& dir);

}  // namespace arrow
