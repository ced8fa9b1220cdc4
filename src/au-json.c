/* au-json.c: au's objects as JSON (see au-json.h). */
#include "au-json.h"

void json_mounts(struct json_writer *w, const struct agent *a)
{
	json_begin_array(w);
	for (size_t i = 0; i < a->nr_mounts; i++) {
		const struct mount_spec *m = &a->mounts[i];

		json_begin_object(w);
		json_key(w, "source");
		json_string(w, m->source);
		json_key(w, "target");
		json_string(w, m->target);
		json_key(w, "read_only");
		json_bool(w, m->read_only);
		json_end_object(w);
	}
	json_end_array(w);
}

void json_strings(struct json_writer *w, const char *const *v)
{
	json_begin_array(w);
	for (; *v; v++)
		json_string(w, *v);
	json_end_array(w);
}
