// report.html's writer: base64 and data URIs, escaping, a page that needs nothing outside
// itself, and - where Debian's chromium is installed - that a headless browser loads it
// without a console error and decodes every embedded figure.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include "apps/compare/base64.h"
#include "apps/compare/html_report.h"

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
  page.sections = {ranking, figures};
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
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, std::regex("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"")));
  EXPECT_EQ(base64_decode(m[1]), read(tmp.path / "fig.png"));
  // The missing one says why and what would be there.
  EXPECT_NE(html.find("Figure not available: gnuplot is not installed (absent.png would be here)"), std::string::npos);
  // Contents list links every section.
  EXPECT_NE(html.find("<a href=\"#ranking\">Ranking</a>"), std::string::npos);
  EXPECT_NE(html.find("<section id=\"figures\">"), std::string::npos);
}

TEST(HtmlReport, WriteReportReplacesTheFileWhole) {
  TempDir tmp;
  const fs::path path = tmp.path / "report.html";
  write_report(path.string(), sample_page(tmp.path));
  EXPECT_EQ(read(path), render_report(sample_page(tmp.path)));
  EXPECT_FALSE(fs::exists(tmp.path / "report.html.tmp"));
}

// Debian's chromium (EMBER_CHROMIUM overrides), or "" when there is none.
std::string find_chromium() {
  if (const char* env = std::getenv("EMBER_CHROMIUM")) return env;
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const std::string probe = std::string("command -v ") + name + " >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return name;
  }
  return "";
}

// Loads `page` in headless Chromium; returns its exit status, with the DOM after loading in
// `dom` and Chromium's log (console messages included) in `log`.
int load_in_chromium(const std::string& chromium, const fs::path& page, const fs::path& dir, std::string& dom,
                     std::string& log) {
  const std::string command = "timeout 120 " + chromium +
                              " --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir='" +
                              (dir / "profile").string() +
                              "' --enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom 'file://" +
                              fs::absolute(page).string() + "' >'" + (dir / "dom.txt").string() + "' 2>'" +
                              (dir / "log.txt").string() + "'";
  const int status = std::system(command.c_str());
  dom = read(dir / "dom.txt");
  log = read(dir / "log.txt");
  return status;
}

TEST(HtmlReport, ChromiumLoadsItWithoutConsoleErrorsAndDecodesEveryFigure) {
  const std::string chromium = find_chromium();
  if (chromium.empty())
    GTEST_SKIP() << "chromium is not installed (scripts/lib/deps.sh lists it among the optional packages)";
  TempDir tmp;
  const fs::path report = tmp.path / "report.html";
  write_report(report.string(), sample_page(tmp.path));
  std::string dom, log;
  ASSERT_EQ(load_in_chromium(chromium, report, tmp.path, dom, log), 0) << log;
  EXPECT_NE(dom.find("<section id=\"ranking\">"), std::string::npos) << dom.substr(0, 2000);
  // Console messages (a blocked load, a bad resource) are logged as INFO:CONSOLE lines.
  EXPECT_EQ(log.find(":CONSOLE"), std::string::npos) << log;

  // Images: a copy of the page without the policy and with a probe script that counts the
  // images that did not decode, plus one broken image, so that the probe is seen to work.
  std::string html = read(report);
  html = std::regex_replace(html, std::regex("<meta http-equiv=\"Content-Security-Policy\"[^>]*>"), "");
  html.replace(html.find("</body>"), 7,
               "<img src=\"data:image/png;base64,AAAA\" alt=\"broken on purpose\">"
               "<script>window.onload=function(){var n=0,b=0;for(const i of document.images){n++;"
               "if(!(i.complete&&i.naturalWidth>0))b++;}document.body.setAttribute('data-probe','images='+n+' "
               "broken='+b);};</script></body>");
  { std::ofstream(tmp.path / "probe.html") << html; }
  ASSERT_EQ(load_in_chromium(chromium, tmp.path / "probe.html", tmp.path, dom, log), 0) << log;
  EXPECT_NE(dom.find("data-probe=\"images=2 broken=1\""), std::string::npos) << dom.substr(dom.find("<body"), 300);
}

TEST(HtmlReport, ChromiumReportsALoadTheReportWouldMake) {
  // The console check above can fail: a page that asks for a network image logs the blocked load.
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed";
  TempDir tmp;
  std::string html = render_report(sample_page(tmp.path));
  html.replace(html.find("</body>"), 7, "<img src=\"http://192.0.2.1/x.png\" alt=\"x\"></body>");
  { std::ofstream(tmp.path / "bad.html") << html; }
  std::string dom, log;
  ASSERT_EQ(load_in_chromium(chromium, tmp.path / "bad.html", tmp.path, dom, log), 0) << log;
  EXPECT_NE(log.find(":CONSOLE"), std::string::npos) << log;
}

}  // namespace
}  // namespace ember::compare
