/* Writing untrusted text (values read from the topics) to reports: as a
 * JSON string, a CSV field or a table cell, always well-formed UTF-8 (bad
 * bytes become U+FFFD) and, in table cells, without control characters. */
#ifndef EG_TEXT_H
#define EG_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence starting at s (at most n bytes, n > 0),
 * or 0 when the bytes there are not one: overlong forms, surrogates and code
 * points past U+10FFFF are invalid. */
size_t eg_text_utf8_len(const char *s, size_t n);

/* Writes s as a JSON string literal: quotes, '\\' and control characters
 * escaped ("\n", "\u0007"), bad bytes as U+FFFD. */
void eg_text_json(FILE *out, const char *s);

/* Writes s as an RFC 4180 CSV field: quoted (quotes doubled) when it holds
 * a comma, quote, CR or LF, or starts or ends with a space; bad bytes as
 * U+FFFD. NULL writes nothing (an empty field). */
void eg_text_csv(FILE *out, const char *s);

/* Columns s takes in a table: one per code point (a bad byte counts one). */
size_t eg_text_width(const char *s);

/* Writes s as a table cell: control characters (C0, DEL, C1) as '?', bad
 * bytes as U+FFFD, then spaces up to width columns (none when width is 0
 * or s is wider). */
void eg_text_cell(FILE *out, const char *s, size_t width);

#endif /* EG_TEXT_H */
