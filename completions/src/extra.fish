
# fcap's own completers (completions/src/extra.fish): capability names (after commas
# too) for grant, revoke and explain and for verify's capability options, and users
# from /etc/passwd for verify --user.
function __fcap_caps
    set -l tok (commandline -ct)
    set -l head (string replace -r '[^,]*$' '' -- $tok)
    for c in @CAPS@ $argv
        printf '%s%s\n' $head $c
    end
end

# True when the cursor is at the subcommand's first positional argument.
function __fcap_first_arg
    set -l tokens (commandline -opc)
    set -l skip 0
    set -l n 0
    for t in $tokens[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $t
            case --color --rootid --user --pid --inheritable --ambient --bounding --drop --profile --require --exclude --root --config-dir
                set skip 1
            case '-*'
            case '*'
                set n (math $n + 1)
        end
    end
    test $n -eq 1
end

complete -c fcap -n "__fish_fcap_using_subcommand grant; and __fcap_first_arg" -f -a "(__fcap_caps)"
complete -c fcap -n "__fish_fcap_using_subcommand explain; and __fcap_first_arg" -f -a "(__fcap_caps)"
complete -c fcap -n "__fish_fcap_using_subcommand revoke; and __fcap_first_arg" -f -a "(__fcap_caps all)"
