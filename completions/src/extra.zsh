
# fcap's own completers (completions/src/extra.zsh), named in the specs above:
# capability names (a comma-separated list, or one), and users from /etc/passwd.
_fcap_caps() {
    _values -s , capability @CAPS@ "$@"
}

_fcap_caps_or_all() {
    _fcap_caps all
}

_fcap_caps_or_all_none() {
    _fcap_caps all none
}

_fcap_cap() {
    local -a names
    names=(@CAPS@)
    _wanted capabilities expl capability compadd -a names
}

_fcap_users() {
    local -a users
    users=(${${(f)"$(</etc/passwd)"}%%:*})
    _wanted users expl user compadd -a users
}
