// config_internal — what config.c's parser lends config_load.c (not a public API).
#ifndef LW_CONFIG_INTERNAL_H
#define LW_CONFIG_INTERNAL_H

#include "config/config.h"
#include "config/config_yaml.h"

// Sets an option from text (defaults, environment, CLI): lists are comma-separated, with optional
// [ ]. `where` names the source for errors ("--lenses (command line)"). Returns 0 or -1 with err.
int opt_set_text(LwRunConfig *cfg, const LwOption *o, const char *text, const char *where, LwError *err);
// Sets an option from a YAML node (scalar or sequence). Errors are "<file>:<l>:<c>: <key>: ...".
int opt_set_node(LwRunConfig *cfg, const LwOption *o, yaml_document_t *doc, yaml_node_t *node,
                 const char *file, LwError *err);
// Nearest option name (or structural key) to `key`, or NULL when nothing is close.
const char *config_nearest_key(const char *key);

#endif
