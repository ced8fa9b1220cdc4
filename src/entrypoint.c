/* entrypoint.c: builds the entrypoint's argv from a request; the only writer of its protocol. */
#include "entrypoint.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void ep_request_release(struct ep_request *req)
{
	strvec_clear(&req->env_names);
	for (size_t i = 0; i < req->nr_mounts; i++) {
		free(req->mounts[i].source);
		free(req->mounts[i].target);
	}
	free(req->mounts);
	for (size_t i = 0; i < req->nr_protected; i++)
		free(req->protected[i].path);
	free(req->protected);
	free(req->directory);
	free(req->capture_ports);
	strvec_clear(&req->command);
	memset(req, 0, sizeof(*req));
}

void ep_request_add_env(struct ep_request *req, const char *name)
{
	strvec_push(&req->env_names, name);
}

void ep_request_add_mount(struct ep_request *req, const char *source, unsigned long long dev,
			  unsigned long long ino, const char *target, bool read_only)
{
	ALLOC_GROW(req->mounts, req->nr_mounts, req->alloc_mounts);
	req->mounts[req->nr_mounts].source = xstrdup(source);
	req->mounts[req->nr_mounts].dev = dev;
	req->mounts[req->nr_mounts].ino = ino;
	req->mounts[req->nr_mounts].target = xstrdup(target);
	req->mounts[req->nr_mounts].read_only = read_only;
	req->nr_mounts++;
}

void ep_request_add_protected(struct ep_request *req, const char *path, enum ep_protect_kind kind)
{
	ALLOC_GROW(req->protected, req->nr_protected, req->alloc_protected);
	req->protected[req->nr_protected].path = xstrdup(path);
	req->protected[req->nr_protected].kind = kind;
	req->nr_protected++;
}

void ep_request_add_capture_port(struct ep_request *req, unsigned short port)
{
	static const unsigned short fixed[] = SU_NET_CAPTURE_PORTS;

	if (port == 0 || port == SU_NET_PORT_DNS || port == SU_NET_PORT_HTTP || port == SU_NET_PORT_SOCKS)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
		if (fixed[i] == port)
			return;
	}
	for (size_t i = 0; i < req->nr_capture; i++) {
		if (req->capture_ports[i] == port)
			return;
	}
	ALLOC_GROW(req->capture_ports, req->nr_capture, req->alloc_capture);
	req->capture_ports[req->nr_capture++] = port;
}

int ep_request_check(const struct ep_request *req, struct strbuf *why)
{
	if (req->nr_mounts > SU_MAX_MOUNTS) {
		strbuf_addf(why, "too many mounts (%zu; the limit is %d)", req->nr_mounts, SU_MAX_MOUNTS);
		return -1;
	}
	if (req->env_names.nr > SU_MAX_ENV) {
		strbuf_addf(why, "too many environment variables (%zu; the limit is %d)", req->env_names.nr,
			    SU_MAX_ENV);
		return -1;
	}
	if (req->nr_capture > SU_NET_MAX_CAPTURE) {
		strbuf_addf(why, "the allowed patterns name too many ports (%zu besides 22, 80 and 443; "
			    "the limit is %d)", req->nr_capture, SU_NET_MAX_CAPTURE);
		return -1;
	}
	return 0;
}

static int compare_mounts(const void *a, const void *b)
{
	const struct ep_mount *x = *(const struct ep_mount *const *)a;
	const struct ep_mount *y = *(const struct ep_mount *const *)b;

	return strcmp(x->target, y->target);
}

static void push_mounts(const struct ep_request *req, struct strvec *argv)
{
	autofree const struct ep_mount **sorted = xcalloc(req->nr_mounts + 1, sizeof(*sorted));

	for (size_t i = 0; i < req->nr_mounts; i++)
		sorted[i] = &req->mounts[i];
	/* A parent sorts before its children, so it is mounted first. */
	qsort(sorted, req->nr_mounts, sizeof(*sorted), compare_mounts);
	for (size_t i = 0; i < req->nr_mounts; i++) {
		strvec_push(argv, sorted[i]->read_only ? SU_OPT_MOUNT_RO : SU_OPT_MOUNT_RW);
		strvec_push(argv, sorted[i]->source);
		strvec_pushf(argv, "%llu:%llu", sorted[i]->dev, sorted[i]->ino);
		strvec_push(argv, sorted[i]->target);
	}
}

static int compare_protected(const void *a, const void *b)
{
	const struct ep_protect *x = *(const struct ep_protect *const *)a;
	const struct ep_protect *y = *(const struct ep_protect *const *)b;

	return strcmp(x->path, y->path);
}

static void push_protected(const struct ep_request *req, struct strvec *argv, enum ep_protect_kind kind)
{
	autofree const struct ep_protect **sorted = xcalloc(req->nr_protected + 1, sizeof(*sorted));
	size_t n = 0;

	for (size_t i = 0; i < req->nr_protected; i++) {
		if (req->protected[i].kind == kind)
			sorted[n++] = &req->protected[i];
	}
	/* Parents first: a bind over a folder is a copy without the binds below it. */
	qsort(sorted, n, sizeof(*sorted), compare_protected);
	for (size_t i = 0; i < n; i++) {
		strvec_push(argv, kind == EP_PIN ? SU_OPT_PIN : SU_OPT_PROTECT);
		strvec_push(argv, sorted[i]->path);
	}
}

static void push_limit(struct strvec *argv, const char *opt, unsigned long long value)
{
	if (!value)
		return;
	strvec_push(argv, opt);
	strvec_pushf(argv, "%llu", value);
}

void ep_request_to_argv(const struct ep_request *req, struct strvec *argv)
{
	strvec_push(argv, "su_as_agent");
	strvec_push(argv, SU_PROTOCOL);
	for (size_t i = 0; i < req->env_names.nr; i++) {
		strvec_push(argv, SU_OPT_ENV);
		strvec_push(argv, req->env_names.v[i]);
	}
	push_mounts(req, argv);
	push_protected(req, argv, EP_PIN);
	push_protected(req, argv, EP_READ_ONLY);
	if (req->directory) {
		strvec_push(argv, SU_OPT_DIRECTORY);
		strvec_push(argv, req->directory);
	}
	if (req->keep_running)
		strvec_push(argv, SU_OPT_KEEP_RUNNING);
	if (req->report)
		strvec_push(argv, SU_OPT_REPORT);
	if (req->watch)
		strvec_push(argv, SU_OPT_WATCH);
	if (req->job_control)
		strvec_push(argv, SU_OPT_JOB_CONTROL);
	push_limit(argv, SU_OPT_MEMORY, req->memory_max);
	push_limit(argv, SU_OPT_CPU, req->cpu_percent);
	push_limit(argv, SU_OPT_TASKS, req->tasks_max);
	strvec_push(argv, SU_OPT_NET);
	strvec_push(argv, req->net == SU_NET_MODE_HOST ? SU_NET_HOST :
			  req->net == SU_NET_MODE_PROXY ? SU_NET_PROXY : SU_NET_NONE);
	for (size_t i = 0; i < req->nr_capture; i++) {
		strvec_push(argv, SU_OPT_CAPTURE);
		strvec_pushf(argv, "%u", (unsigned)req->capture_ports[i]);
	}
	strvec_push(argv, SU_OPT_END);
	for (size_t i = 0; i < req->command.nr; i++)
		strvec_push(argv, req->command.v[i]);
}
