/*
 * share-record.h: what au knows of a read-write share between runs, so that
 * a run costs what changed and not the size of the share. Made by a full
 * scan (at "au mount add --rw", and whenever au cannot trust it), kept
 * up to date after each run, and read before each run to make the
 * protections (pins of the human's git directories, read-only hooks,
 * configs, .envrc...).
 *
 * It lives in ~/.local/state/au/shares/AGENT/, outside every share: a
 * record the agent could write would let it name its own repository as the
 * human's. record_dir_open() refuses a folder the agent could reach.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct config;
struct strbuf;

/* A git directory or a .git file of the human's, by path and by identity. */
struct record_item {
	char *rel; /* below the share's top, "" for the top itself */
	dev_t dev;
	ino_t ino;
};

struct share_record {
	struct record_item *gitdirs; /* git directories, by git's rules (bare ones too) */
	size_t nr_gitdirs, alloc_gitdirs;
	struct record_item *gitfiles; /* ".git" files and symlinks */
	size_t nr_gitfiles, alloc_gitfiles;
	struct record_item *entries; /* protected names (.envrc, .vscode...) at any depth */
	size_t nr_entries, alloc_entries;
};

void record_add(struct record_item **items, size_t *nr, size_t *alloc, const char *rel, dev_t dev, ino_t ino);
void share_record_release(struct share_record *rec);

/*
 * The folder of the records of agent's shares, created (0700) where
 * missing, and checked: every folder from the human's home down is the
 * human's, none is a symlink, none is writable by others or by the agent's
 * group, and none is inside a share of any agent. Returns an O_PATH fd, or
 * -1 with why.
 */
int record_dir_open(const char *home, const char *agent, gid_t agent_gid, const struct config *cfg,
		    struct strbuf *why);

/*
 * Loads the record of the share at source (whose top has the identity
 * dev/ino, and whose protected list hashes to paths_hash): -1 when there is
 * none, or it is for something else, or it does not parse.
 */
int record_load(int dir_fd, const char *source, dev_t dev, ino_t ino, const char *paths_hash,
		struct share_record *rec);

/* Writes it, atomically. Returns 0 or -1 (it said why). */
int record_save(int dir_fd, const char *source, dev_t dev, ino_t ino, const char *paths_hash,
		const struct share_record *rec);
