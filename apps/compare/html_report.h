// report.html: one self-contained page (figures embedded as data URIs, styles inline, no
// script, no network: a Content-Security-Policy meta tag forbids loading anything else) built
// from sections of paragraphs, tables, lists and figures. What goes in the sections is the
// caller's (apps/ember-train/report.cpp); this file only knows how to write them safely
// (every text escaped) and keeps the page readable without JavaScript.
#pragma once

#include <string>
#include <vector>

namespace ember::compare {

struct ReportTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> numeric;  // per column: right-aligned (empty: first column text, rest numbers)
};

struct ReportFigure {
  std::string path;     // a PNG or SVG file; embedded as a data URI
  std::string caption;  // also the image's alt text
};

// One block of a section, shown in order.
struct ReportBlock {
  enum class Kind { Paragraph, Code, List, Table, Figure } kind = Kind::Paragraph;
  std::string text;                // Paragraph, Code; Table: folded under this summary (<details>) when set
  std::vector<std::string> items;  // List
  ReportTable table;               // Table
  ReportFigure figure;             // Figure
};

struct ReportSection {
  std::string id;  // the anchor of the contents list: letters, digits, '-'
  std::string title;
  std::vector<ReportBlock> blocks;

  ReportSection& paragraph(std::string text);
  ReportSection& code(std::string text);
  ReportSection& list(std::vector<std::string> items);
  ReportSection& table(ReportTable table);
  // A long table folded away: a <details> element opened by clicking `summary` (no script).
  ReportSection& folded_table(std::string summary, ReportTable table);
  ReportSection& figure(std::string path, std::string caption);
};

struct ReportPage {
  std::string title;
  std::string subtitle;
  std::vector<ReportSection> sections;
  // Said in place of a figure whose file is missing: why (e.g. "gnuplot is not installed").
  std::string missing_figure_reason = "the figure was not drawn";
};

// &, <, >, " and ' as entities.
std::string html_escape(const std::string& text);
std::string render_report(const ReportPage& page);
// Writes render_report(page) to `path` atomically (a .tmp file renamed). ember::Error on failure.
void write_report(const std::string& path, const ReportPage& page);

}  // namespace ember::compare
