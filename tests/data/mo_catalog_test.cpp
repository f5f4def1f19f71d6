#include "data/mo_catalog.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace moe::data {
namespace {

MoCatalog sample_catalog() {
  MoCatalog catalog;
  catalog.charset = "ISO-8859-1";
  catalog.plural_forms = "nplurals=2; plural=(n != 1);";
  catalog.language = "de";
  catalog.entries.push_back({"", "Open", "", {"\xD6" "ffnen"}});  // Latin-1 "Öffnen"
  catalog.entries.push_back({"menu", "File", "", {"Datei"}});
  catalog.entries.push_back({"", "%d file", "%d files", {"%d Datei", "%d Dateien"}});
  return catalog;
}

class MoCatalogByteOrder : public ::testing::TestWithParam<bool> {};

TEST_P(MoCatalogByteOrder, RoundTripsHeaderContextsAndPlurals) {
  const std::string bytes = serialize_mo(sample_catalog(), /*big_endian=*/GetParam());
  // The magic number is 0x950412de in the file's own byte order.
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]), GetParam() ? 0x95 : 0xde);
  const MoCatalog parsed = parse_mo(bytes, "test.mo");
  EXPECT_EQ(parsed.charset, "ISO-8859-1");
  EXPECT_EQ(parsed.plural_forms, "nplurals=2; plural=(n != 1);");
  EXPECT_EQ(parsed.language, "de");
  ASSERT_EQ(parsed.entries.size(), 3u);  // the header entry is not an entry
  // Entries come back sorted by key, as gettext stores them.
  EXPECT_EQ(parsed.entries[0].msgid, "%d file");
  EXPECT_EQ(parsed.entries[0].msgid_plural, "%d files");
  EXPECT_EQ(parsed.entries[0].msgstrs, (std::vector<std::string>{"%d Datei", "%d Dateien"}));
  EXPECT_EQ(parsed.entries[1].msgid, "Open");
  EXPECT_EQ(parsed.entries[1].msgstrs[0], "\xD6" "ffnen");
  EXPECT_EQ(parsed.entries[2].context, "menu");
  EXPECT_EQ(parsed.entries[2].msgid, "File");
}

INSTANTIATE_TEST_SUITE_P(LittleAndBigEndian, MoCatalogByteOrder, ::testing::Values(false, true));

TEST(MoCatalog, CorruptFilesNameTheirOrigin) {
  try {
    parse_mo("not a catalog at all, but long enough", "pkg.deb:./de/LC_MESSAGES/x.mo");
    FAIL() << "expected a FileError";
  } catch (const FileError& e) {
    EXPECT_EQ(e.path(), "pkg.deb:./de/LC_MESSAGES/x.mo");
    EXPECT_NE(std::string(e.what()).find("bad magic"), std::string::npos);
  }
  std::string truncated = serialize_mo(sample_catalog());
  truncated.resize(truncated.size() - 20);
  EXPECT_THROW(parse_mo(truncated, "t.mo"), FileError);
  EXPECT_THROW(parse_mo(std::string(10, '\0'), "t.mo"), FileError);
  EXPECT_THROW(read_mo_file("/nonexistent/file.mo"), FileError);
}

TEST(MoCatalog, MissingCharsetDefaultsToUtf8) {
  MoCatalog catalog;
  catalog.charset = "CHARSET";  // what an untouched .po template declares
  catalog.entries.push_back({"", "Yes", "", {"Ja"}});
  EXPECT_EQ(parse_mo(serialize_mo(catalog), "t.mo").charset, "UTF-8");
}

}  // namespace
}  // namespace moe::data
