// report_html — the one self-contained HTML page of a run directory: the cross-model table,
// curves of every model overlaid against relative depth, and per model its curves over depth
// (every lens present, milestones marked) and its logit-lens grid; then a section per battery run
// (report_battery_html.c: band charts across items).
//
// Self-contained on purpose: the page is copied off clusters and mailed around, so it carries
// its CSS and inline SVG, loads nothing (a Content-Security-Policy forbids any fetch) and needs
// no JavaScript; details live in <title> tooltips.
#ifndef LW_REPORT_HTML_H
#define LW_REPORT_HTML_H

#include <stdio.h>

#include "report/report_model.h"

void report_html_write(FILE *f, const ReportRun *run);

#endif
