
# fcap's own completers (completions/src/extra.bash), around clap's _fcap: capability
# names (after commas too, with or without cap_) for grant, revoke and explain and
# for verify's capability options, and user names from /etc/passwd for verify --user.
_fcap_cap_names="@CAPS@"

# Complete the last item of a comma-separated list of capabilities ($2: extra words
# such as all or none).
_fcap_complete_caps() {
    local cur="$1" head="" part="$1"
    if [[ "$cur" == *,* ]]; then
        head="${cur%,*},"
        part="${cur##*,}"
    fi
    COMPREPLY=( $(compgen -P "$head" -W "$_fcap_cap_names ${_fcap_cap_names//cap_/} $2" -- "$part") )
}

_fcap_wrap() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local i w sub="" npos=0 skip=0
    # The subcommand, and how many of its positional arguments precede the cursor
    # (option values are not positional).
    for (( i = 1; i < COMP_CWORD; i++ )); do
        w="${COMP_WORDS[i]}"
        if (( skip )); then
            skip=0
            continue
        fi
        case "$w" in
            --color|--rootid|--user|--pid|--inheritable|--ambient|--bounding|--drop|--profile|--require|--exclude|--root|--config-dir|=) skip=1 ;;
            -*) ;;
            *) if [[ -z "$sub" ]]; then sub="$w"; else npos=$((npos + 1)); fi ;;
        esac
    done
    case "$sub:$prev" in
        verify:--require|verify:--inheritable|verify:--ambient|verify:--bounding|verify:--drop)
            _fcap_complete_caps "$cur" "all none"
            return 0
            ;;
        verify:--user)
            COMPREPLY=( $(compgen -W "$(cut -d: -f1 /etc/passwd 2>/dev/null)" -- "$cur") )
            return 0
            ;;
    esac
    if [[ "$cur" != -* && $npos -eq 0 ]]; then
        case "$sub" in
            grant|explain) _fcap_complete_caps "$cur" ""; return 0 ;;
            revoke) _fcap_complete_caps "$cur" "all"; return 0 ;;
        esac
    fi
    _fcap "$@"
}
