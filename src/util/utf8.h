// utf8 — the two small Unicode helpers the metric rules need: walking UTF-8 by code point and
// Python's str.isspace(), which METRICS.md's whitespace rules (§2.4, is_answer's strip) follow.
#ifndef LW_UTF8_H
#define LW_UTF8_H

// Next code point of a NUL-terminated UTF-8 string; advances *pp. A byte that does not start a
// valid sequence is returned as itself (one byte consumed), so the walk always terminates.
unsigned utf8_next(const unsigned char **pp);
// Python's str.isspace() for one code point.
int utf8_py_isspace(unsigned c);

#endif
