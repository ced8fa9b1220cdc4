# bash completion for au
