#include "data/catalog_pairs.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace moe::data {
namespace {

bool has_pair(const CatalogPairs& c, const std::string& source, const std::string& english) {
  return std::find(c.pairs.begin(), c.pairs.end(), std::make_pair(source, english)) != c.pairs.end();
}

TEST(CatalogPairs, PluralsUseTheCatalogsOwnPluralForms) {
  MoCatalog catalog;
  catalog.plural_forms =
      "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);";
  catalog.entries.push_back({"", "Deleted %d file", "Deleted %d files", {"Usunięto %d plik", "Usunięto %d pliki", "Usunięto %d plików"}});
  const CatalogPairs pairs = catalog_pairs(catalog, "pl", "nautilus", false);
  EXPECT_EQ(pairs.code, "pl");
  ASSERT_EQ(pairs.pairs.size(), 2u);
  EXPECT_TRUE(has_pair(pairs, "Usunięto %d plik", "Deleted %d file"));       // n=1 -> form 0
  EXPECT_TRUE(has_pair(pairs, "Usunięto %d plików", "Deleted %d files"));    // n=100 -> form 2
}

TEST(CatalogPairs, SingleFormLanguagesGiveOnlyTheSingular) {
  MoCatalog catalog;
  catalog.plural_forms = "nplurals=1; plural=0;";
  catalog.entries.push_back({"", "%d new message", "%d new messages", {"%d 件の新着メッセージ"}});
  const CatalogPairs pairs = catalog_pairs(catalog, "ja", "evolution", false);
  ASSERT_EQ(pairs.pairs.size(), 1u);
  EXPECT_EQ(pairs.pairs[0].second, "%d new message");
}

TEST(CatalogPairs, DecodesTheDeclaredCharset) {
  MoCatalog catalog;
  catalog.charset = "ISO-8859-1";
  catalog.entries.push_back({"", "Open the file", "", {"\xD6" "ffne die Datei"}});
  const CatalogPairs pairs = catalog_pairs(catalog, "de_DE.ISO-8859-1", "app", false);
  EXPECT_EQ(pairs.code, "de");
  ASSERT_EQ(pairs.pairs.size(), 1u);
  EXPECT_EQ(pairs.pairs[0].first, "Öffne die Datei");
}

TEST(CatalogPairs, SkipsEnglishProperNounKeyAndUnknownCharsetCatalogs) {
  MoCatalog catalog;
  catalog.entries.push_back({"", "Germany", "", {"Deutschland"}});
  EXPECT_FALSE(catalog_pairs(catalog, "en_GB", "app", false).skipped.empty());
  EXPECT_FALSE(catalog_pairs(catalog, "de", "iso_3166-2", false).skipped.empty());
  EXPECT_FALSE(catalog_pairs(catalog, "de", "libgweather-locations", false).skipped.empty());
  EXPECT_TRUE(catalog_pairs(catalog, "de", "iso_3166", false).skipped.empty());

  MoCatalog keys;
  keys.entries.push_back({"", "dialog.title", "", {"Titel"}});
  keys.entries.push_back({"", "menu.file_open", "", {"Öffnen"}});
  keys.entries.push_back({"", "Save the document", "", {"Dokument speichern"}});
  EXPECT_EQ(catalog_pairs(keys, "de", "acc", true).skipped, "msgids look like keys");

  MoCatalog bad_charset;
  bad_charset.charset = "NO-SUCH-CHARSET-9";
  bad_charset.entries.push_back({"", "Open", "", {"Öffnen"}});
  EXPECT_NE(catalog_pairs(bad_charset, "de", "app", false).skipped.find("NO-SUCH-CHARSET-9"), std::string::npos);
}

TEST(CatalogPairs, DropsTranslatorCreditsAndCountsDrops) {
  MoCatalog catalog;
  catalog.entries.push_back({"", "translator-credits", "", {"Hans Müller"}});
  catalog.entries.push_back({"NAME OF TRANSLATORS", "Your names", "", {"Hans Müller"}});
  catalog.entries.push_back({"", "Print the page", "", {"Print the page"}});
  catalog.entries.push_back({"", "Close the window", "", {"Fenster schließen"}});
  const CatalogPairs pairs = catalog_pairs(catalog, "de", "app", false);
  ASSERT_EQ(pairs.pairs.size(), 1u);
  EXPECT_EQ(pairs.pairs[0].first, "Fenster schließen");
  EXPECT_EQ(pairs.drops.at(DropReason::kCopyOfEnglish), 1u);
}

TEST(CatalogPairs, ChineseVariantComesFromTheCharacters) {
  MoCatalog catalog;
  catalog.entries.push_back({"", "Open the file", "", {"開啟這個檔案"}});
  catalog.entries.push_back({"", "Close the window", "", {"關閉視窗"}});
  // Traditional characters in a catalog filed as zh_CN are still zh-Hant.
  EXPECT_EQ(catalog_pairs(catalog, "zh_CN", "app", false).code, "zh-Hant");
  MoCatalog simplified;
  simplified.entries.push_back({"", "Open the file", "", {"打开这个文件"}});
  EXPECT_EQ(catalog_pairs(simplified, "zh_TW", "app", false).code, "zh-Hans");
  MoCatalog no_evidence;
  no_evidence.entries.push_back({"", "Open the file", "", {"文件"}});
  EXPECT_EQ(catalog_pairs(no_evidence, "zh_TW", "app", false).code, "zh-Hant");
  EXPECT_EQ(catalog_pairs(no_evidence, "zh_CN", "app", false).code, "zh-Hans");
}

TEST(CatalogPairs, ScriptSubtagIgnoresMarkupAndPlaceholders) {
  // The Latin letters of "<span weight=...>" and "%(name)s" are not Mongolian text.
  MoCatalog catalog;
  catalog.entries.push_back(
      {"", "Current: %(value)s", "", {"<span weight=\"bold\">Гүйдэл</span>: %(value)s"}});
  EXPECT_EQ(catalog_pairs(catalog, "mn", "app", false).code, "mn");
}

TEST(CatalogPairs, DebconfTemplatesAlignDescriptionsAndChoices) {
  const std::string templates =
      "Template: foo/mode\n"
      "Type: select\n"
      "Choices: automatic, manual\n"
      "Choices-de.UTF-8: automatisch, manuell\n"
      "Description: Configuration mode to use:\n"
      " The automatic mode configures the network\n"
      " without asking any questions.\n"
      " .\n"
      " Choose the manual mode for a custom setup.\n"
      "Description-de.UTF-8: Zu verwendender Konfigurationsmodus:\n"
      " Der automatische Modus konfiguriert das Netzwerk\n"
      " ohne weitere Fragen.\n"
      " .\n"
      " Wählen Sie den manuellen Modus für eigene Einstellungen.\n"
      "Description-fr.UTF-8: Mode de configuration :\n"
      " Un seul paragraphe ne s'aligne pas avec deux.\n";
  const std::vector<CatalogPairs> catalogs = debconf_template_pairs(templates, "foo.deb:./templates");
  // French: one paragraph against the English three parts, nothing aligns.
  ASSERT_EQ(catalogs.size(), 1u);
  const CatalogPairs& de = catalogs[0];
  EXPECT_EQ(de.code, "de");
  EXPECT_TRUE(has_pair(de, "automatisch", "automatic"));
  EXPECT_TRUE(has_pair(de, "Zu verwendender Konfigurationsmodus:", "Configuration mode to use:"));
  EXPECT_TRUE(has_pair(de, "Der automatische Modus konfiguriert das Netzwerk ohne weitere Fragen.",
                       "The automatic mode configures the network without asking any questions."));
}

}  // namespace
}  // namespace moe::data
