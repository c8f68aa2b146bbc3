#include "apps/compare/html_report.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "apps/compare/base64.h"
#include "core/error.h"

namespace ember::compare {

namespace {

// Readable on screen and in print, light or dark, without a script or a web font.
constexpr const char* kStyle = R"(body{font:15px/1.45 system-ui,sans-serif;max-width:70em;margin:1.5em auto;padding:0 1em;color:#1b1b1b;background:#fff}
h1{font-size:1.6em;margin-bottom:.1em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
.sub{color:#555;margin-top:0}nav ol{columns:2;padding-left:1.4em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.25em .55em;vertical-align:top}
th{background:#f0f0f0;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}figcaption{color:#444;font-size:.92em}
summary{cursor:pointer;color:#035}
.missing{border:1px dashed #b55;color:#933;padding:1em;background:#fff6f6}
@media (prefers-color-scheme:dark){body{background:#161616;color:#ddd}th{background:#2a2a2a}pre{background:#222}
td,th{border-color:#444}summary{color:#9cf}figure img{background:#fff}.sub,figcaption{color:#aaa}})";

std::string render_table(const ReportTable& t) {
  std::string out = "<table>\n<tr>";
  for (const std::string& h : t.header) out += "<th>" + html_escape(h) + "</th>";
  out += "</tr>\n";
  for (const std::vector<std::string>& row : t.rows) {
    out += "<tr>";
    for (size_t c = 0; c < row.size(); ++c) {
      const bool numeric = c < t.numeric.size() ? t.numeric[c] : c > 0;
      out += (numeric ? "<td class=\"n\">" : "<td>") + html_escape(row[c]) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string render_figure(const ReportFigure& f, const std::string& missing_reason) {
  const std::string uri = file_data_uri(f.path);
  const std::string name = std::filesystem::path(f.path).filename().string();
  if (uri.empty())
    return fmt::format("<div class=\"missing\">Figure not available: {} ({} would be here).<br>{}</div>\n",
                       html_escape(missing_reason), html_escape(name), html_escape(f.caption));
  return fmt::format("<figure><img src=\"{}\" alt=\"{}\"><figcaption>{} <code>{}</code></figcaption></figure>\n", uri,
                     html_escape(f.caption), html_escape(f.caption), html_escape(name));
}

std::string render_block(const ReportBlock& b, const std::string& missing_reason) {
  switch (b.kind) {
    case ReportBlock::Kind::Paragraph: return "<p>" + html_escape(b.text) + "</p>\n";
    case ReportBlock::Kind::Code: return "<pre>" + html_escape(b.text) + "</pre>\n";
    case ReportBlock::Kind::Table:
      if (b.text.empty()) return render_table(b.table);
      return "<details><summary>" + html_escape(b.text) + "</summary>\n" + render_table(b.table) + "</details>\n";
    case ReportBlock::Kind::Figure: return render_figure(b.figure, missing_reason);
    case ReportBlock::Kind::List: {
      std::string out = "<ul>\n";
      for (const std::string& item : b.items) out += "<li>" + html_escape(item) + "</li>\n";
      return out + "</ul>\n";
    }
  }
  return "";
}

}  // namespace

ReportSection& ReportSection::paragraph(std::string text) {
  blocks.push_back({ReportBlock::Kind::Paragraph, std::move(text), {}, {}, {}});
  return *this;
}
ReportSection& ReportSection::code(std::string text) {
  blocks.push_back({ReportBlock::Kind::Code, std::move(text), {}, {}, {}});
  return *this;
}
ReportSection& ReportSection::list(std::vector<std::string> items) {
  blocks.push_back({ReportBlock::Kind::List, "", std::move(items), {}, {}});
  return *this;
}
ReportSection& ReportSection::table(ReportTable t) {
  blocks.push_back({ReportBlock::Kind::Table, "", {}, std::move(t), {}});
  return *this;
}
ReportSection& ReportSection::folded_table(std::string summary, ReportTable t) {
  blocks.push_back({ReportBlock::Kind::Table, std::move(summary), {}, std::move(t), {}});
  return *this;
}
ReportSection& ReportSection::figure(std::string path, std::string caption) {
  blocks.push_back({ReportBlock::Kind::Figure, "", {}, {}, {std::move(path), std::move(caption)}});
  return *this;
}

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_report(const ReportPage& page) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      // Nothing but this file and its data URIs may load: no network, no script.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
      "style-src 'unsafe-inline'\">\n"
      "<title>" +
      html_escape(page.title) + "</title>\n<style>\n" + kStyle + "\n</style>\n</head>\n<body>\n<h1>" +
      html_escape(page.title) + "</h1>\n<p class=\"sub\">" + html_escape(page.subtitle) + "</p>\n<nav><ol>\n";
  for (const ReportSection& s : page.sections)
    out += fmt::format("<li><a href=\"#{}\">{}</a></li>\n", html_escape(s.id), html_escape(s.title));
  out += "</ol></nav>\n";
  for (const ReportSection& s : page.sections) {
    out += fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n", html_escape(s.id), html_escape(s.title));
    for (const ReportBlock& b : s.blocks) out += render_block(b, page.missing_figure_reason);
    out += "</section>\n";
  }
  return out + "</body>\n</html>\n";
}

void write_report(const std::string& path, const ReportPage& page) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << render_report(page);
    EMBER_CHECK(out.good(), "cannot write {}", tmp);
  }
  EMBER_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename {} to {}", tmp, path);
}

}  // namespace ember::compare
