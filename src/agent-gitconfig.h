/*
 * agent-gitconfig.h: git's safe.directory for the agent, without running git.
 *
 * The agent's git refuses a repository owned by someone else unless
 * safe.directory names it (CVE-2022-24765), and the human's repositories in
 * shares are the human's. au used to add each share to the agent's own
 * ~/.gitconfig by running git as the agent from "au mount add": the
 * human's command ran the agent's tools and waited on them (a FIFO as
 * ~/.gitconfig hung it for good). Now au writes that part itself, a file of
 * the human's outside every share (~/.local/state/au/NAME/gitconfig), and
 * each "au run" has the entrypoint bind it read-only over the agent's
 * ~/.config/git/config. git reads that file in the global scope, where
 * safe.directory counts, before ~/.gitconfig, which stays the agent's own
 * (and is where "git config --global" writes). No environment variable is
 * needed, so a tool that clears the environment keeps it, and
 * /etc/gitconfig still applies.
 */
#pragma once

struct agent;
struct agent_user;
struct ep_request;

/*
 * Brings the file up to date with a's shares (each target, and each target
 * followed by a slash and a star, which git 2.46 and later match against
 * the repositories inside it), and adds its read-only mount to req. Nothing when a has no share; a
 * warning, and no mount, when the file cannot be written.
 */
void agent_gitconfig_add_mount(struct ep_request *req, const struct agent *a, const struct agent_user *u);
