# fish completion for au. Installed in $PREFIX/share/fish/vendor_completions.d, which fish
# reads for each folder of XDG_DATA_DIRS (/usr/local/share and /usr/share by default);
# for another PREFIX, add $PREFIX/share to XDG_DATA_DIRS, or that folder to
# $fish_complete_path.
#
# Names and paths come from au itself (au list --json, au mount list --json, au env
# list --json), and only those that are printable ASCII without quotes or backslashes
# are offered: whatever else a name holds never reaches the terminal through here.

# The commands and subcommands: the one place to extend when au grows (with their
# options, further down, and the options that take a value in __au_where).
set -l au_commands new run info list delete repair mount env limit net
set -l au_commands_described \
    'new	create an agent user, its group, home and entrypoint' \
    'run	run a command as the agent' \
    'info	show an agent and check its health' \
    'list	list the configured agents' \
    'delete	remove an agent and everything au made for it' \
    'repair	adopt an agent, or rebuild its entrypoint' \
    'mount	share folders of your home with an agent' \
    'env	store environment variables for an agent\'s runs' \
    'limit	set the resource limits of an agent\'s runs' \
    'net	set what an agent may reach on the network'
set -l au_subcommands \
    'mount add	share a folder' 'mount remove	stop sharing' 'mount list	list the shares' \
    'env set	store a variable' 'env unset	forget a variable' 'env list	list the variables' \
    'limit set	set limits' 'limit unset	remove limits' 'limit list	list the limits' \
    'net mode	set the network mode' 'net allow	allow destinations' \
    'net disallow	remove allowed destinations' 'net list	show the mode and the destinations' \
    'net log	show the connection log'
set -l au_limit_keys memory cpu tasks
set -l au_net_modes none allow all host
# The entrypoint sets these from the agent's account: au env and --env refuse them.
set -l au_agents_own_vars HOME USER LOGNAME SHELL

# __au_where: where the command line is: "CMD", "CMD SUB", "run COMMAND" once au run's
# COMMAND has started, or "" before the command; options and their values skipped.
function __au_where
    set -l tokens (commandline -opc)
    set -l cmd
    set -l sub
    set -l skip 0
    for t in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case -C --config -a --agent -e --env -d --directory --limit --net
                set skip 1
            case --
                test "$cmd" = run; and set sub COMMAND; and break
            case '-*'
            case '*'
                if test -z "$cmd"
                    set cmd $t
                else if test -z "$sub"; and contains -- $cmd mount env limit net
                    set sub $t
                else if test "$cmd" = run
                    set sub COMMAND
                    break
                end
        end
    end
    echo $cmd $sub
end

function __au_is
    test (__au_where) = "$argv"
end

# __au_value OPTION...: the value given to the first of these options on the command line.
function __au_value
    set -l tokens (commandline -opc)
    for i in (seq (count $tokens))
        for opt in $argv
            if test "$tokens[$i]" = $opt
                set -l next (math $i + 1)
                test $next -le (count $tokens); and echo $tokens[$next]
                return
            else if string match -q -- "$opt=*" $tokens[$i]
                string replace -- "$opt=" '' $tokens[$i]
                return
            end
        end
    end
end

# __au_query ARGS... KEY: each string value of "KEY" in "au [-C PATH] ARGS --json" that
# needs no escape in JSON and is printable ASCII.
function __au_query
    set -l key $argv[-1]
    set -e argv[-1]
    set -l config (__au_value -C --config)
    set -l au au
    test -n "$config"; and set au au -C (string replace -r '^~' $HOME -- $config)
    $au $argv --json 2>/dev/null </dev/null |
        string match -r -a -g "\"$key\":\"([^\"\\\\]*)\"" |
        string match -r '^[ -~]+$'
end

function __au_agent_arg
    set -l agent (__au_value -a --agent)
    test -n "$agent"; and printf '%s\n' -a $agent
end

# The shares of the agent: their sources, in the ~/ form when the word being completed uses it.
function __au_shares
    set -l word (commandline -ct)
    for source in (__au_query mount list (__au_agent_arg) source)
        if string match -q -- '~/*' $word; and string match -q -- "$HOME/*" $source
            echo '~/'(string replace -- "$HOME/" '' $source)
        else
            echo $source
        end
    end
end

# The human's environment variables, less those au refuses.
function __au_env_names
    set -l own $argv
    for name in (set -xn)
        contains -- $name $own; or echo $name
    end
end

# au run's COMMAND and what follows: completed as fish would without au in front.
function __au_run_command
    set -l tokens (commandline -opc)
    set -l skip 0
    set -l seen_run 0
    for i in (seq 2 (count $tokens))
        set -l t $tokens[$i]
        if test $skip = 1
            set skip 0
            continue
        end
        if test $seen_run = 0
            switch $t
                case -C --config
                    set skip 1
                case run
                    set seen_run 1
            end
            continue
        end
        switch $t
            case -a --agent -e --env -d --directory --limit --net
                set skip 1
            case --
                set -l from (math $i + 1)
                complete -C (string join ' ' -- (string escape -- $tokens[$from..-1]) (commandline -ct))
                return
            case '-*'
            case '*'
                complete -C (string join ' ' -- (string escape -- $tokens[$i..-1]) (commandline -ct))
                return
        end
    end
end

complete -c au -f

# Global options and the commands.
complete -c au -n '__au_is ""' -s C -l config -r -F -d 'the config file'
complete -c au -n '__au_is ""' -l version -d 'show the version'
complete -c au -s h -l help -d 'show the help'
for entry in $au_commands_described
    set -l parts (string split \t -- $entry)
    complete -c au -n '__au_is ""' -a $parts[1] -d $parts[2]
end
for entry in $au_subcommands
    set -l parts (string split \t -- $entry)
    set -l words (string split ' ' -- $parts[1])
    complete -c au -n "__au_is $words[1]" -a $words[2] -d $parts[2]
end

# -a NAME: an agent from the config (a new name for au new).
complete -c au -n 'not __au_is ""; and not __au_is new; and not __au_is list; and not __au_is "run COMMAND"' \
    -s a -l agent -x -a '(__au_query list name)' -d 'the agent'
complete -c au -n '__au_is new' -s a -l agent -x -d 'the new agent\'s name'

complete -c au -n '__au_is new; or __au_is delete; or __au_is repair' -s y -l yes -d 'do not ask'
complete -c au -n '__au_is repair' -l all -d 'every agent in the config'
complete -c au -n '__au_is delete' -s H -l delete-home -d 'also remove the home'
complete -c au -n '__au_is info; or __au_is list; or __au_is "mount list"; or __au_is "env list"; or __au_is "limit list"; or __au_is "net list"; or __au_is "net log"' \
    -l json -d 'print one JSON object'

# au run
complete -c au -n '__au_is run' -s e -l env -x -a "(__au_env_names $au_agents_own_vars)" -d 'a variable for the command'
complete -c au -n '__au_is run' -s d -l directory -x -a '(__fish_complete_directories)' -d 'working directory'
complete -c au -n '__au_is run' -l no-login -d 'run the command directly, not through a login shell'
complete -c au -n '__au_is run' -l keep-running -d 'leave the agent\'s other processes running'
complete -c au -n '__au_is run' -l limit -x -a "$(string join ' ' -- $au_limit_keys=)" -d 'a limit for this run'
complete -c au -n '__au_is run' -l stats -d 'print a usage line at exit'
complete -c au -n '__au_is run' -s v -l verbose -d 'say more, the usage line included'
complete -c au -n '__au_is run' -l net -x -a "$au_net_modes" -d 'the network mode for this run'
complete -c au -n '__au_is run' -a '(__fish_complete_command)'
complete -c au -n '__au_is "run COMMAND"' -a '(__au_run_command)'

# au mount, au env, au limit, au net
complete -c au -n '__au_is "mount add"' -l rw -d 'share read-write'
complete -c au -n '__au_is "mount add"' -F
complete -c au -n '__au_is "mount remove"' -x -a '(__au_shares)' -d share
complete -c au -n '__au_is "env set"' -x -a "(__au_env_names $au_agents_own_vars)"
complete -c au -n '__au_is "env unset"' -x -a '(__au_query env list (__au_agent_arg) name)'
complete -c au -n '__au_is "env list"' -l show-values -d 'show the stored values'
complete -c au -n '__au_is "limit set"' -x -a "$(string join ' ' -- $au_limit_keys=)"
complete -c au -n '__au_is "limit unset"' -x -a "$au_limit_keys"
complete -c au -n '__au_is "net mode"' -x -a "$au_net_modes"
complete -c au -n '__au_is "net log"' -s f -l follow -d 'follow the log'
