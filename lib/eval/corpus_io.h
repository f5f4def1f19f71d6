#pragma once
// Reading evaluation inputs: plain line files (hypotheses, references, language
// codes) and lang<TAB>source<TAB>reference test sets. Lines split on '\n' only
// (a final newline adds no empty line); every line must be valid UTF-8.
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

std::vector<std::string> read_lines(const std::string& path);
// `name` stands for the stream in errors (e.g. "<stdin>").
std::vector<std::string> read_lines(std::istream& in, const std::string& name);

// `count` tab-separated references per line (sacreBLEU's -nr), as `count`
// streams. A line with another number of fields throws ReferenceFieldCountError.
std::vector<std::vector<std::string>> split_reference_fields(const std::vector<std::string>& lines,
                                                             int count, const std::string& name);

struct TsvTestSet {
  std::vector<std::string> languages;   // N codes
  std::vector<std::string> sources;     // N
  std::vector<std::string> references;  // N
};
// lang<TAB>source<TAB>reference per line; the reference is everything after the second tab.
TsvTestSet read_tsv_test_set(const std::string& path);

// One non-empty language code per line (surrounding whitespace trimmed).
std::vector<std::string> read_language_codes(const std::string& path);

}  // namespace moe::eval
