#pragma once
// Reading evaluation inputs: plain line files (hypotheses, references, language
// codes) and lang<TAB>source<TAB>reference test sets. Lines split on '\n' only
// (a final newline adds no empty line); every line must be valid UTF-8.
// Segments (hypotheses, references) are right-stripped of Python whitespace as
// sacreBLEU's CLI reads them (METRICS.md §1.1); the metrics get them from here.
// Errors are moe::FileError naming the file and line.
#include <istream>
#include <string>
#include <vector>

#include "util/error.h"

namespace moe::eval {

// A -nr reference line without the expected number of fields (sacreBLEU exits 17).
class ReferenceFieldCountError : public FileError {
 public:
  using FileError::FileError;
};

// The lines as they are (a directory or an unreadable file is a FileError).
std::vector<std::string> read_lines(const std::string& path);
// `name` stands for the stream in errors (e.g. "<stdin>").
std::vector<std::string> read_lines(std::istream& in, const std::string& name);

// read_lines, each line right-stripped: one hypothesis or reference per line.
std::vector<std::string> read_segments(const std::string& path);
std::vector<std::string> read_segments(std::istream& in, const std::string& name);

// A multi-system stdin line with another number of fields than the first line
// (sacreBLEU exits 17).
class SystemFieldCountError : public FileError {
 public:
  using FileError::FileError;
};

// Hypotheses read from stdin, as sacreBLEU splits them: one system per
// tab-separated field of the first line (right-stripped first, so a trailing
// empty field is no system), and every later line, right-stripped, must have as
// many fields (else SystemFieldCountError naming `name` and the line); those
// fields are right-stripped too, the first line's inner fields are not. No
// lines at all read as one system with one empty line (Python's readline()
// returns ""). `lines` are read_lines' output. Returns [systems][N].
std::vector<std::vector<std::string>> split_system_fields(const std::vector<std::string>& lines,
                                                          const std::string& name);

// `count` tab-separated references per line (sacreBLEU's -nr), as `count`
// streams. As in sacreBLEU, each line is right-stripped and then split at its
// first count-1 tabs; the fields keep their own trailing whitespace (chrF sees
// it). A line with another number of fields throws ReferenceFieldCountError.
std::vector<std::vector<std::string>> split_reference_fields(const std::vector<std::string>& lines,
                                                             int count, const std::string& name);

struct TsvTestSet {
  std::vector<std::string> languages;   // N codes
  std::vector<std::string> sources;     // N
  std::vector<std::string> references;  // N
};
// lang<TAB>source<TAB>reference per line: exactly 3 tab-separated fields (else a
// FileError naming the line); the reference is right-stripped like any segment.
TsvTestSet read_tsv_test_set(const std::string& path);

// One non-empty language code per line (surrounding whitespace trimmed).
std::vector<std::string> read_language_codes(const std::string& path);

}  // namespace moe::eval
