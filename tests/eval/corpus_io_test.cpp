// Reading hypothesis/reference files, -nr fields and TSV test sets.
#include "eval/corpus_io.h"

#include <gtest/gtest.h>

#include <sstream>

#include "util/error.h"

namespace moe::eval {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::istringstream in(text);
  return read_lines(in, "mem");
}

TEST(ReadLines, SplitsOnNewlineOnlyWithoutATrailingEmptyLine) {
  EXPECT_EQ(lines_of("a\nb\r\n\nc"), (std::vector<std::string>{"a", "b\r", "", "c"}));
  EXPECT_EQ(lines_of("a\n"), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(lines_of("").empty());
  EXPECT_EQ(lines_of("a\x0b" "b\n"), (std::vector<std::string>{"a\x0b" "b"}));
}

TEST(ReadLines, InvalidUtf8NamesFileAndLine) {
  try {
    lines_of("ok\nbad \xC3\x28\n");
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_STREQ(e.what(), "mem:2: invalid UTF-8");
  }
  EXPECT_THROW(read_lines("/nonexistent/moe-eval/file.txt"), FileError);
}

TEST(ReferenceFields, SplitsAtMostCountMinusOneTabs) {
  const auto streams = split_reference_fields({"a\tb", "c\td\te"}, 2, "refs");
  EXPECT_EQ(streams[0], (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(streams[1], (std::vector<std::string>{"b", "d\te"}));
  EXPECT_THROW(split_reference_fields({"a\tb", "c"}, 2, "refs"), ReferenceFieldCountError);
}

}  // namespace
}  // namespace moe::eval
