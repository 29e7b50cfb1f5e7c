// Writing files so that a crash, a full disk or a failed write never leaves a damaged one: every
// file the project writes (weights and checkpoints, CSV lists, stage records, reports, images)
// goes through here. The bytes go to "<path>.tmp", which is flushed, fsynced and closed, then
// renamed over `path`, and the folder is fsynced so that the rename itself survives a power cut.
// `path` thus always names either the complete old file or the complete new one. On any failure
// the temporary file is removed, the old file is left as it was, and the error names the file and
// the system's reason for the step that failed (write, fsync, close or rename).
#pragma once

#include <cstddef>
#include <string>

namespace effnet {

// now: the file is durable when the call returns. batched: renamed into place without the fsyncs,
// for many files written together (a dataset folder); the writer then calls sync_file_system()
// once before it writes the file that marks the batch complete.
enum class Durability { now, batched };

void write_file_atomic(const std::string& path, const void* bytes, size_t size, Durability d = Durability::now);
inline void write_file_atomic(const std::string& path, const std::string& text, Durability d = Durability::now) {
  write_file_atomic(path, text.data(), text.size(), d);
}
// Makes everything written so far on the file system that holds `folder` durable (syncfs).
void sync_file_system(const std::string& folder);

}  // namespace effnet
