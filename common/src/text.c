/* Untrusted text for reports: JSON strings, CSV fields and table cells. */
#include "eg/text.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

size_t eg_text_utf8_len(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t len;
  uint32_t cp;

  if (s == NULL || n == 0)
    return 0;
  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xC2 && s[0] <= 0xDF) {
    len = 2;
    cp = s[0] & 0x1F;
  } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
    len = 3;
    cp = s[0] & 0x0F;
  } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
    len = 4;
    cp = s[0] & 0x07;
  } else {
    return 0;
  }
  if (len > n)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return len;
}

void eg_text_json(FILE *out, const char *s) {
  const char *p = s != NULL ? s : "";
  size_t n = strlen(p);

  fputc('"', out);
  while (n > 0) {
    size_t len = eg_text_utf8_len(p, n);
    unsigned char c = (unsigned char)*p;

    if (len == 0) {
      fputs(replacement, out);
      len = 1;
    } else if (c == '"' || c == '\\') {
      fputc('\\', out);
      fputc(c, out);
    } else if (c == '\n') {
      fputs("\\n", out);
    } else if (c == '\r') {
      fputs("\\r", out);
    } else if (c == '\t') {
      fputs("\\t", out);
    } else if (c < 0x20 || c == 0x7F) {
      fprintf(out, "\\u%04x", c);
    } else {
      fwrite(p, 1, len, out);
    }
    p += len;
    n -= len;
  }
  fputc('"', out);
}

/* Writes n bytes of p, bad bytes as U+FFFD, doubling quotes when asked. */
static void write_utf8(FILE *out, const char *p, size_t n, bool double_quotes) {
  while (n > 0) {
    size_t len = eg_text_utf8_len(p, n);

    if (len == 0) {
      fputs(replacement, out);
      len = 1;
    } else {
      if (double_quotes && *p == '"')
        fputc('"', out);
      fwrite(p, 1, len, out);
    }
    p += len;
    n -= len;
  }
}

void eg_text_csv(FILE *out, const char *s) {
  size_t n;

  if (s == NULL)
    return;
  n = strlen(s);
  if (strpbrk(s, ",\"\r\n") == NULL &&
      (n == 0 || (s[0] != ' ' && s[n - 1] != ' '))) {
    write_utf8(out, s, n, false);
    return;
  }
  fputc('"', out);
  write_utf8(out, s, n, true);
  fputc('"', out);
}

size_t eg_text_width(const char *s) {
  size_t n = s != NULL ? strlen(s) : 0, w = 0;

  while (n > 0) {
    size_t len = eg_text_utf8_len(s, n);

    if (len == 0)
      len = 1;
    s += len;
    n -= len;
    w++;
  }
  return w;
}

void eg_text_cell(FILE *out, const char *s, size_t width) {
  const char *p = s != NULL ? s : "";
  size_t n = strlen(p), w = 0;

  while (n > 0) {
    size_t len = eg_text_utf8_len(p, n);
    unsigned char c = (unsigned char)*p;

    if (len == 0) {
      fputs(replacement, out);
      len = 1;
    } else if (c < 0x20 || c == 0x7F ||
               (len == 2 && c == 0xC2 && (unsigned char)p[1] < 0xA0)) {
      /* C0, DEL and C1 (U+0080..U+009F) controls. */
      fputc('?', out);
    } else {
      fwrite(p, 1, len, out);
    }
    p += len;
    n -= len;
    w++;
  }
  while (w++ < width)
    fputc(' ', out);
}
