/*
 * json.h - the little JSON we emit (segctl --json, the incident spool):
 * strings escaped per RFC 8259, so hostile names and comments stay data.
 */
#ifndef SEGD_JSON_H
#define SEGD_JSON_H

#include <stdio.h>

/* Writes s as a quoted JSON string ("null" for NULL). */
void seg_json_str(FILE *f, const char *s);
/* Writes "key": with the separator rules of a flat object: first ? "" : ",". */
void seg_json_key(FILE *f, int *first, const char *key);

#endif
