// Reading an input file whole, safely: the file is opened without blocking and must be a regular
// file, so that a FIFO, device or socket named like an image, a CSV or a weights file gives a clear
// error instead of blocking forever (or reading a device without end).
#pragma once

#include <string>

namespace effnet {

// The bytes of the regular file at `path`. Throws "PATH: cannot open WHAT: <reason>" (or "cannot
// read") when it does not exist, cannot be read, or is not a regular file (folder, FIFO, device,
// socket); `what` names the kind of input: "image", "label list", ...
std::string read_input_file(const std::string& path, const std::string& what);

// A text file people write (label lists, class lists, config files): read_input_file with a
// leading UTF-8 byte-order mark dropped, as some editors and spreadsheet exports write one.
std::string read_input_text(const std::string& path, const std::string& what);

// Throws as read_input_file does, without reading: for files another library opens by name (HDF5).
void check_input_file(const std::string& path, const std::string& what);

}  // namespace effnet
