// Reading hypothesis/reference files, -nr fields and TSV test sets.
#include "eval/corpus_io.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <stdlib.h>

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

// A file in a fresh temporary directory, removed with it at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "moe-eval-io-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    path_ = dir_ + "/file.tsv";
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempFile() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, path_;
};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const FileError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ReadLines, DirectoryIsAFileError) {
  const TempFile file("");
  EXPECT_EQ(message_of([&] { read_lines(file.dir()); }), file.dir() + ": is a directory");
}

TEST(ReadSegments, RightStripsPythonWhitespaceOnly) {
  std::istringstream in("a b \r\n  lead\u00A0\u3000\nz\u200B\n\t\n");
  EXPECT_EQ(read_segments(in, "mem"),
            (std::vector<std::string>{"a b", "  lead", "z\u200B", ""}));
}

TEST(ReferenceFields, SplitsAtMostCountMinusOneTabs) {
  const auto streams = split_reference_fields({"a\tb", "c\td\te"}, 2, "refs");
  EXPECT_EQ(streams[0], (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(streams[1], (std::vector<std::string>{"b", "d\te"}));
  EXPECT_THROW(split_reference_fields({"a\tb", "c"}, 2, "refs"), ReferenceFieldCountError);
}

TEST(ReferenceFields, RightStripTheLineBeforeSplittingAsSacrebleu) {
  // line.rstrip().split('\t', 1): the trailing tab goes, and with it the second field.
  EXPECT_THROW(split_reference_fields({"a b\t"}, 2, "refs"), ReferenceFieldCountError);
  EXPECT_THROW(split_reference_fields({"a b\t \u3000"}, 2, "refs"), ReferenceFieldCountError);
  // Inner fields keep their trailing whitespace (chrF with whitespace on sees it).
  const auto streams = split_reference_fields({"a b \tzz \r", "\t\u00A0x\u00A0"}, 2, "refs");
  EXPECT_EQ(streams[0], (std::vector<std::string>{"a b ", ""}));
  EXPECT_EQ(streams[1], (std::vector<std::string>{"zz", "\u00A0x"}));
}

TEST(SystemFields, FirstLineDecidesTheNumberOfSystems) {
  // sacreBLEU's stdin: fields = readline().rstrip().split('\t'); later lines the same,
  // then each field rstripped. The first line's inner fields keep their spaces.
  const auto systems = split_system_fields({"a \tb \r", "c \td\u3000"}, "<stdin>");
  ASSERT_EQ(systems.size(), 2u);
  EXPECT_EQ(systems[0], (std::vector<std::string>{"a ", "c"}));
  EXPECT_EQ(systems[1], (std::vector<std::string>{"b", "d"}));
  // The rstrip takes a trailing tab, and with it a system.
  EXPECT_EQ(split_system_fields({"a\t", "b"}, "<stdin>").size(), 1u);
  // No lines: readline() gives "", one system with one empty line.
  EXPECT_EQ(split_system_fields({}, "<stdin>"),
            (std::vector<std::vector<std::string>>{{""}}));
  EXPECT_EQ(message_of([] { split_system_fields({"a\tb", "c\td", "e"}, "<stdin>"); }),
            "<stdin>:3: the number of tab-delimited fields differs across lines (2 on line 1, 1 "
            "here)");
  EXPECT_THROW(split_system_fields({"a", "b\tc"}, "<stdin>"), SystemFieldCountError);
}

TEST(TsvTestSet, ExactlyThreeFieldsAndAStrippedReference) {
  const TempFile good("de\tQuelle \tthe ref \u3000\r\nfr\tsrc\t\n");
  const TsvTestSet set = read_tsv_test_set(good.path());
  EXPECT_EQ(set.languages, (std::vector<std::string>{"de", "fr"}));
  EXPECT_EQ(set.sources, (std::vector<std::string>{"Quelle ", "src"}));
  EXPECT_EQ(set.references, (std::vector<std::string>{"the ref", ""}));
  const TempFile four("de\ts\tr\nfr\ts\tr\textra\n");
  EXPECT_EQ(message_of([&] { read_tsv_test_set(four.path()); }),
            four.path() + ":2: expected lang<TAB>source<TAB>reference (3 tab-separated fields), found 4");
  const TempFile two("de\ts\n");
  EXPECT_EQ(message_of([&] { read_tsv_test_set(two.path()); }),
            two.path() + ":1: expected lang<TAB>source<TAB>reference (3 tab-separated fields), found 2");
}

TEST(TsvTestSet, AByteOrderMarkIsNotPartOfTheFirstLanguageCode) {
  const TempFile tsv("\xEF\xBB\xBF" "de\tQuelle\tref\nfr\tsrc\tref2\n");
  EXPECT_EQ(read_tsv_test_set(tsv.path()).languages, (std::vector<std::string>{"de", "fr"}));
  const TempFile codes("\xEF\xBB\xBF" "de\nfr\n");
  EXPECT_EQ(read_language_codes(codes.path()), (std::vector<std::string>{"de", "fr"}));
  // Hypotheses and references keep it, as sacreBLEU reads them.
  EXPECT_EQ(lines_of("\xEF\xBB\xBF" "a\n"), (std::vector<std::string>{"\xEF\xBB\xBF" "a"}));
}

}  // namespace
}  // namespace moe::eval
