// report.html's writer: base64 and data URIs, escaping, a page that needs nothing outside
// itself, and - where Debian's chromium is installed - that a headless browser loads it
// without a console error and decodes every embedded figure.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "apps/compare/base64.h"
#include "apps/compare/html_report.h"
#include "tests/support/headless_browser.h"

namespace ember::compare {
namespace {

namespace fs = std::filesystem;

// A valid 1x1 PNG (one opaque pixel), the figure of these tests.
const char* kPngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

std::string base64_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int n = 0;
  for (char c : text) {
    if (c == '=') break;
    bits = (bits << 6) | static_cast<uint32_t>(alphabet.find(c));
    if ((n += 6) >= 8) out += static_cast<char>((bits >> (n -= 8)) & 0xFF);
  }
  return out;
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct TempDir {
  fs::path path;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = fs::temp_directory_path() / (std::string("ember-report-") + info->name() + "-" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A page with every kind of block, one real figure and one missing.
ReportPage sample_page(const fs::path& dir) {
  { std::ofstream(dir / "fig.png", std::ios::binary) << base64_decode(kPngBase64); }
  ReportPage page;
  page.title = "ember-train <comparison> & report";
  page.subtitle = "runs/x";
  page.missing_figure_reason = "gnuplot is not installed";
  ReportSection ranking{"ranking", "Ranking", {}};
  ranking.paragraph("adam \"wins\"").table({{"optimizer", "final acc"}, {{"adam", "0.51 [0.49, 0.53]"}}, {}});
  ranking.list({"adam vs sgd: +2.1 points [0.8, 3.4]"});
  ReportSection figures{"figures", "Figures", {}};
  figures.figure((dir / "fig.png").string(), "a real figure").figure((dir / "absent.png").string(), "a missing one");
  figures.code("ember-train --tune 4 --data <dir>");
  ReportSection settings{"settings", "Settings", {}};
  settings.folded_table("Every setting & more", {{"setting", "value"}, {{"epochs", "10"}}, {false, false}});
  page.sections = {ranking, figures, settings};
  return page;
}

TEST(HtmlReport, Base64MatchesRfc4648) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
}

TEST(HtmlReport, EscapesEveryText) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(HtmlReport, PageNeedsNothingOutsideItself) {
  TempDir tmp;
  const std::string html = render_report(sample_page(tmp.path));
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'; img-src data:;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("<title>ember-train &lt;comparison&gt; &amp; report</title>"), std::string::npos);
  EXPECT_NE(html.find("ember-train --tune 4 --data &lt;dir&gt;"), std::string::npos);
  // The figure is inside the page, byte for byte.
  const std::string prefix = "src=\"data:image/png;base64,";
  const size_t begin = html.find(prefix);
  ASSERT_NE(begin, std::string::npos);
  const size_t data = begin + prefix.size(), end = html.find('"', data);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(base64_decode(html.substr(data, end - data)), read(tmp.path / "fig.png"));
  // The missing one says why and what would be there.
  EXPECT_NE(html.find("Figure not available: gnuplot is not installed (absent.png would be here)"), std::string::npos);
  // Contents list links every section.
  EXPECT_NE(html.find("<a href=\"#ranking\">Ranking</a>"), std::string::npos);
  EXPECT_NE(html.find("<section id=\"figures\">"), std::string::npos);
  // A folded table: inside <details>, its summary escaped; the unfolded one (ranking) is not.
  EXPECT_NE(html.find("<details><summary>Every setting &amp; more</summary>\n<table>\n<tr><th>setting</th>"),
            std::string::npos);
  EXPECT_EQ(html.find("<details>"), html.rfind("<details>")) << "one folded table";
}

TEST(HtmlReport, WriteReportReplacesTheFileWhole) {
  TempDir tmp;
  const fs::path path = tmp.path / "report.html";
  write_report(path.string(), sample_page(tmp.path));
  EXPECT_EQ(read(path), render_report(sample_page(tmp.path)));
  EXPECT_FALSE(fs::exists(tmp.path / "report.html.tmp"));
}

TEST(HtmlReport, ChromiumLoadsItWithoutConsoleErrorsAndDecodesEveryFigure) {
  const std::string chromium = testing::find_chromium();
  if (chromium.empty())
    GTEST_SKIP() << "chromium is not installed (scripts/lib/deps.sh lists it among the optional packages)";
  TempDir tmp;
  const fs::path report = tmp.path / "report.html";
  write_report(report.string(), sample_page(tmp.path));
  testing::BrowserLoad load = testing::load_in_chromium(chromium, report, tmp.path);
  ASSERT_EQ(load.status, 0) << load.log;
  EXPECT_NE(load.dom.find("<section id=\"ranking\">"), std::string::npos) << load.dom.substr(0, 2000);
  // Console messages (a blocked load, a bad resource) are logged as INFO:CONSOLE lines.
  EXPECT_EQ(load.log.find(":CONSOLE"), std::string::npos) << load.log;
  // Every embedded figure decodes: 1 real figure + the probe's broken one.
  { std::ofstream(tmp.path / "probe.html") << testing::with_image_probe(read(report)); }
  load = testing::load_in_chromium(chromium, tmp.path / "probe.html", tmp.path);
  ASSERT_EQ(load.status, 0) << load.log;
  EXPECT_NE(load.dom.find("data-probe=\"images=2 broken=1\""), std::string::npos) << load.dom.substr(0, 300);
}

TEST(HtmlReport, ChromiumReportsALoadTheReportWouldMake) {
  // The console check above can fail: a page that asks for a network image logs the blocked load.
  const std::string chromium = testing::find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed";
  TempDir tmp;
  std::string html = render_report(sample_page(tmp.path));
  html.replace(html.find("</body>"), 7, "<img src=\"http://192.0.2.1/x.png\" alt=\"x\"></body>");
  { std::ofstream(tmp.path / "bad.html") << html; }
  const testing::BrowserLoad load = testing::load_in_chromium(chromium, tmp.path / "bad.html", tmp.path);
  ASSERT_EQ(load.status, 0) << load.log;
  EXPECT_NE(load.log.find(":CONSOLE"), std::string::npos) << load.log;
}

}  // namespace
}  // namespace ember::compare
