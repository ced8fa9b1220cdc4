/* limit.c: resource limits as the human writes them, and the usage line of a run. */
#include "limit.h"
#include "entrypoint.h"
#include "util.h"

#include <string.h>

static const char *const names[LIMIT_KEYS] = {
	[LIMIT_MEMORY] = "memory",
	[LIMIT_CPU] = "cpu",
	[LIMIT_TASKS] = "tasks",
};

const char *limit_name(enum limit_key key)
{
	return names[key];
}

bool limit_key_from_name(const char *name, size_t len, enum limit_key *key)
{
	for (int k = 0; k < LIMIT_KEYS; k++) {
		if (strlen(names[k]) == len && !strncmp(name, names[k], len)) {
			*key = (enum limit_key)k;
			return true;
		}
	}
	return false;
}

/* Decimal digits only, at most max; the end of the digits in *end. */
static bool parse_digits(const char *s, unsigned long long max, unsigned long long *out, const char **end)
{
	unsigned long long n = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*out = n;
	*end = p;
	return p != s;
}

static bool parse_memory(const char *s, unsigned long long *out)
{
	static const char units[] = "KMGT";
	unsigned long long n, scale = 1;
	const char *end, *unit;

	if (!parse_digits(s, SU_MEMORY_MAX, &n, &end))
		return false;
	if (*end) {
		char c = *end >= 'a' && *end <= 'z' ? (char)(*end - 'a' + 'A') : *end;

		unit = strchr(units, c);
		if (!unit || end[1])
			return false;
		scale = 1ULL << (10 * (unit - units + 1));
	}
	if (n > SU_MEMORY_MAX / scale)
		return false;
	*out = n * scale;
	return *out >= SU_MEMORY_MIN;
}

static bool parse_cpu(const char *s, unsigned long long *out)
{
	const char *end;

	return parse_digits(s, SU_CPU_PERCENT_MAX, out, &end) && !strcmp(end, "%") && *out >= 1;
}

static bool parse_tasks(const char *s, unsigned long long *out)
{
	const char *end;

	return parse_digits(s, SU_TASKS_MAX, out, &end) && !*end && *out >= SU_TASKS_MIN;
}

int limit_parse(const char *entry, enum limit_key *key, unsigned long long *value, struct strbuf *why)
{
	const char *eq = strchr(entry, '=');
	const char *v = eq ? eq + 1 : NULL;
	bool ok;

	if (!eq || !limit_key_from_name(entry, (size_t)(eq - entry), key)) {
		autofree char *shown = escape_display(entry);

		strbuf_addf(why, "'%s' is not KEY=VALUE with KEY memory, cpu or tasks", shown);
		return -1;
	}
	if (!strcmp(v, "max")) {
		*value = 0;
		return 0;
	}
	switch (*key) {
	case LIMIT_MEMORY:
		ok = parse_memory(v, value);
		break;
	case LIMIT_CPU:
		ok = parse_cpu(v, value);
		break;
	default:
		ok = parse_tasks(v, value);
		break;
	}
	if (ok)
		return 0;
	{
		autofree char *shown = escape_display(v);

		if (*key == LIMIT_MEMORY)
			strbuf_addf(why, "memory '%s' is not a size from 1M to 1024T, such as 512M or 16G "
				    "(K, M, G, T: powers of 1024), or max", shown);
		else if (*key == LIMIT_CPU)
			strbuf_addf(why, "cpu '%s' is not a percentage of one CPU from 1%% to %llu%%, such as "
				    "50%% or 150%%, or max", shown, SU_CPU_PERCENT_MAX);
		else
			strbuf_addf(why, "tasks '%s' is not a number from %llu to %llu, or max", shown,
				    SU_TASKS_MIN, SU_TASKS_MAX);
	}
	return -1;
}

int limits_set(struct limits *l, const char *entry, struct strbuf *why)
{
	enum limit_key key;
	unsigned long long value;

	if (limit_parse(entry, &key, &value, why) < 0)
		return -1;
	l->value[key] = value;
	return 0;
}

static void add_seconds(struct strbuf *sb, unsigned long long usec)
{
	strbuf_addf(sb, "%llu.%02llu s", usec / 1000000, usec % 1000000 / 10000);
}

static void add_size(struct strbuf *sb, unsigned long long bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	unsigned long long scale = 1024;
	size_t u = 0;

	if (bytes < 1024) {
		strbuf_addf(sb, "%llu B", bytes);
		return;
	}
	while (u + 1 < ARRAY_SIZE(units) && bytes >= scale * 1024) {
		scale *= 1024;
		u++;
	}
	strbuf_addf(sb, "%llu.%llu %s", bytes / scale, bytes % scale * 10 / scale, units[u]);
}

void usage_line(struct strbuf *sb, const struct su_usage *u)
{
	const char *sep = "";

	strbuf_addstr(sb, "usage: ");
	if (u->measured & SU_USAGE_WALL) {
		strbuf_addstr(sb, "wall ");
		add_seconds(sb, u->wall_usec);
		sep = ", ";
	}
	if (u->measured & SU_USAGE_CPU) {
		strbuf_addf(sb, "%sCPU ", sep);
		add_seconds(sb, u->cpu_usec);
		if (u->measured & SU_USAGE_CPU_SPLIT) {
			strbuf_addstr(sb, " (user ");
			add_seconds(sb, u->user_usec);
			strbuf_addstr(sb, ", system ");
			add_seconds(sb, u->system_usec);
			strbuf_addch(sb, ')');
		}
		sep = ", ";
	}
	if (u->measured & SU_USAGE_MEMORY) {
		strbuf_addf(sb, "%speak memory ", sep);
		add_size(sb, u->memory_peak);
		if (u->measured & SU_USAGE_MEMORY_LARGEST)
			strbuf_addstr(sb, " (largest process)");
		sep = ", ";
	}
	if (u->measured & SU_USAGE_TASKS) {
		strbuf_addf(sb, "%speak tasks %llu", sep, u->tasks_peak);
		sep = ", ";
	}
	if ((u->measured & SU_USAGE_OOM) && u->oom_kills)
		strbuf_addf(sb, "%s%llu OOM kill%s", sep, u->oom_kills, u->oom_kills == 1 ? "" : "s");
}

void limits_describe(struct strbuf *sb, const struct limits *l)
{
	const char *sep = "";

	for (int k = 0; k < LIMIT_KEYS; k++) {
		if (!l->value[k])
			continue;
		strbuf_addf(sb, "%s%s ", sep, names[k]);
		if (k == LIMIT_MEMORY)
			add_size(sb, l->value[k]);
		else
			strbuf_addf(sb, "%llu%s", l->value[k], k == LIMIT_CPU ? "%" : "");
		sep = ", ";
	}
	if (!*sep)
		strbuf_addstr(sb, "none");
}

void usage_placement(struct strbuf *sb, const struct su_usage *u)
{
	bool v1 = u->placement & SU_PLACED_V1, v2 = u->placement & SU_PLACED_V2;

	if (u->placement & SU_PLACED_SYSTEMD)
		strbuf_addstr(sb, "a systemd scope of its own");
	else if (v1 || v2)
		strbuf_addf(sb, "a cgroup of its own (cgroup %s)", v1 && v2 ? "v1 and v2" : v2 ? "v2" : "v1");
	else
		strbuf_addstr(sb, "no cgroup of its own (none can be made here)");
}
