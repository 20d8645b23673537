# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_fcap_global_optspecs
    string join \n color= h/help V/version
end

function __fish_fcap_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_fcap_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_fcap_using_subcommand
    set -l cmd (__fish_fcap_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c fcap -n "__fish_fcap_needs_command" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fcap -n "__fish_fcap_needs_command" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "read" -d 'Show the capabilities of files (getcap-compatible)'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "grant" -d 'Add capabilities to files, keeping the ones they have'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "revoke" -d 'Remove capabilities from files'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "set" -d 'Replace files\' capabilities with a libcap text expression (setcap-compatible)'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "verify" -d 'Predict what a process gets when it executes a file, and why'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "run" -d 'Run a program as another user with ambient capabilities, checked first'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "apply" -d 'Make files carry exactly the capabilities a manifest lists'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "check" -d 'Compare files against manifests; exit 1 on any drift'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "audit" -d 'Judge every privileged file (capabilities, setuid, setgid) against rules and a policy'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "list" -d 'List every capability with what it allows'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "explain" -d 'Explain what one capability allows and how dangerous it is'
complete -c fcap -n "__fish_fcap_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c fcap -n "__fish_fcap_using_subcommand read" -l image -d 'Read the files of a container image instead of the host\'s: a docker save tarball, an OCI layout (directory or tar) or a layer tar (plain, gzip, zstd), as IMAGE or IMAGE:TAG. Implies -r; nothing is unpacked and no root is needed' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand read" -l platform -d 'With --image, the platform to pick when the image has several (OS/ARCH[/VARIANT]; default: this machine\'s)' -r
complete -c fcap -n "__fish_fcap_using_subcommand read" -l exclude -d 'With -r, leave out entries matching this glob (repeatable). Without a \'/\', it matches names at any depth (node_modules, \'*.so\'); with one, whole paths (/usr/share/doc). \'*\' stops at \'/\', \'**\' does not; an excluded directory is not entered' -r
complete -c fcap -n "__fish_fcap_using_subcommand read" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_using_subcommand read" -s r -l recursive -d 'Walk directories recursively (never following symlinks; output sorted by path)'
complete -c fcap -n "__fish_fcap_using_subcommand read" -s v -l verbose -d 'Also list files without capabilities, like getcap -v'
complete -c fcap -n "__fish_fcap_using_subcommand read" -l rootid -d 'Append " [rootid=N]" to namespaced (v3) values (getcap\'s -n; fcap\'s -n is --dry-run, for the commands that write)'
complete -c fcap -n "__fish_fcap_using_subcommand read" -s x -l one-file-system -d 'With -r, do not descend into other filesystems'
complete -c fcap -n "__fish_fcap_using_subcommand read" -s L -l dereference -d 'Follow a symlink named on the command line and read the file it points to'
complete -c fcap -n "__fish_fcap_using_subcommand read" -l json -d 'Print JSON Lines: one object per file'
complete -c fcap -n "__fish_fcap_using_subcommand read" -s l -l long -d 'Human view: one capability per line with its sets and what it allows'
complete -c fcap -n "__fish_fcap_using_subcommand read" -s h -l help -d 'Print help'
complete -c fcap -n "__fish_fcap_using_subcommand read" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_using_subcommand grant" -l rootid -d 'Write a namespaced (v3) value bound to this user-namespace root uid (without it, an existing rootid is kept)' -r
complete -c fcap -n "__fish_fcap_using_subcommand grant" -l image -d 'Change the files inside this image instead of on the host: an OCI layout (DIR[:TAG]), an oci-archive or a docker save tar. Paths are resolved inside it; the input is never modified' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand grant" -s o -l output -d 'Where the new image goes (a file, DIR or DIR:TAG; DIR:TAG may be the input\'s own layout, which then gets one more tag). Needed with --image unless --dry-run' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand grant" -l format -d 'The output\'s shape (default: the input\'s)' -r -f -a "oci\t'An OCI image layout directory (`DIR` or `DIR:TAG`)'
oci-archive\t'An OCI layout in a tar file (`skopeo`\'s oci-archive)'
docker-archive\t'A `docker save` tar (Docker 25\'s shape: `docker load` and `podman load` take it)'"
complete -c fcap -n "__fish_fcap_using_subcommand grant" -l tag -d 'Name the result (a docker save\'s name:tag, an OCI layout\'s ref name)' -r
complete -c fcap -n "__fish_fcap_using_subcommand grant" -l platform -d 'Which image of a multi-platform index (OS/ARCH[/VARIANT])' -r
complete -c fcap -n "__fish_fcap_using_subcommand grant" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_using_subcommand grant" -s n -l dry-run -d 'Show what would change, write nothing'
complete -c fcap -n "__fish_fcap_using_subcommand grant" -l json -d 'Print one JSON object per file: path, target, before, after, changed, warnings'
complete -c fcap -n "__fish_fcap_using_subcommand grant" -s P -l no-dereference -d 'Refuse symlinks anywhere in the path, directories included, instead of following them (this also reaches paths longer than PATH_MAX)'
complete -c fcap -n "__fish_fcap_using_subcommand grant" -l all-platforms -d 'Change every platform\'s image of a multi-platform index (one new layer each; attestation manifests are left out, since they describe the old ones)'
complete -c fcap -n "__fish_fcap_using_subcommand grant" -l force -d 'Replace an existing OUT'
complete -c fcap -n "__fish_fcap_using_subcommand grant" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fcap -n "__fish_fcap_using_subcommand grant" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -l image -d 'Change the files inside this image instead of on the host: an OCI layout (DIR[:TAG]), an oci-archive or a docker save tar. Paths are resolved inside it; the input is never modified' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -s o -l output -d 'Where the new image goes (a file, DIR or DIR:TAG; DIR:TAG may be the input\'s own layout, which then gets one more tag). Needed with --image unless --dry-run' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -l format -d 'The output\'s shape (default: the input\'s)' -r -f -a "oci\t'An OCI image layout directory (`DIR` or `DIR:TAG`)'
oci-archive\t'An OCI layout in a tar file (`skopeo`\'s oci-archive)'
docker-archive\t'A `docker save` tar (Docker 25\'s shape: `docker load` and `podman load` take it)'"
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -l tag -d 'Name the result (a docker save\'s name:tag, an OCI layout\'s ref name)' -r
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -l platform -d 'Which image of a multi-platform index (OS/ARCH[/VARIANT])' -r
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -s n -l dry-run -d 'Show what would change, write nothing'
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -l json -d 'Print one JSON object per file: path, target, before, after, changed, warnings'
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -s P -l no-dereference -d 'Refuse symlinks anywhere in the path, directories included, instead of following them (this also reaches paths longer than PATH_MAX)'
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -l all-platforms -d 'Change every platform\'s image of a multi-platform index (one new layer each; attestation manifests are left out, since they describe the old ones)'
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -l force -d 'Replace an existing OUT'
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fcap -n "__fish_fcap_using_subcommand revoke" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_using_subcommand set" -l rootid -d 'Write a namespaced (v3) value bound to this user-namespace root uid' -r
complete -c fcap -n "__fish_fcap_using_subcommand set" -l image -d 'Change the files inside this image instead of on the host: an OCI layout (DIR[:TAG]), an oci-archive or a docker save tar. Paths are resolved inside it; the input is never modified' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand set" -s o -l output -d 'Where the new image goes (a file, DIR or DIR:TAG; DIR:TAG may be the input\'s own layout, which then gets one more tag). Needed with --image unless --dry-run' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand set" -l format -d 'The output\'s shape (default: the input\'s)' -r -f -a "oci\t'An OCI image layout directory (`DIR` or `DIR:TAG`)'
oci-archive\t'An OCI layout in a tar file (`skopeo`\'s oci-archive)'
docker-archive\t'A `docker save` tar (Docker 25\'s shape: `docker load` and `podman load` take it)'"
complete -c fcap -n "__fish_fcap_using_subcommand set" -l tag -d 'Name the result (a docker save\'s name:tag, an OCI layout\'s ref name)' -r
complete -c fcap -n "__fish_fcap_using_subcommand set" -l platform -d 'Which image of a multi-platform index (OS/ARCH[/VARIANT])' -r
complete -c fcap -n "__fish_fcap_using_subcommand set" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_using_subcommand set" -l check -d 'Write nothing; exit 1 when a file\'s value differs from EXPR (like setcap -v)'
complete -c fcap -n "__fish_fcap_using_subcommand set" -s n -l dry-run -d 'Show what would change, write nothing'
complete -c fcap -n "__fish_fcap_using_subcommand set" -l json -d 'Print one JSON object per file: path, target, before, after, changed, warnings'
complete -c fcap -n "__fish_fcap_using_subcommand set" -s P -l no-dereference -d 'Refuse symlinks anywhere in the path, directories included, instead of following them (this also reaches paths longer than PATH_MAX)'
complete -c fcap -n "__fish_fcap_using_subcommand set" -l all-platforms -d 'Change every platform\'s image of a multi-platform index (one new layer each; attestation manifests are left out, since they describe the old ones)'
complete -c fcap -n "__fish_fcap_using_subcommand set" -l force -d 'Replace an existing OUT'
complete -c fcap -n "__fish_fcap_using_subcommand set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fcap -n "__fish_fcap_using_subcommand set" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l image -d 'Verify PATH inside this container image (see \'fcap read --image\'; PATH defaults to the image\'s entrypoint): its owner, mode, capabilities and `#!` lines come from the image, symlinks are followed inside it, --user is looked up in its /etc/passwd and defaults to its User, and the caller is a Docker container\'s process (--profile docker) unless told otherwise' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l platform -d 'With --image, the platform to pick when the image has several' -r
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l oci-config -d 'The caller is the `process` section of this OCI runtime config (a bundle\'s config.json), applied as runc applies it; PATH defaults to `args[0]` in the bundle\'s root' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l k8s -d 'The caller is a container of this Kubernetes manifest (Pod, Deployment, StatefulSet, DaemonSet, Job, CronJob; multi-document YAML), as the kubelet and --runtime start it' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l container -d 'The container to use when the manifest has several' -r
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l unit -d 'The caller is the main process of this systemd service unit (with its drop-ins FILE.d/*.conf); PATH defaults to ExecStart=\'s program' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l compose -d 'The caller is a service of this Docker Compose file, as docker (or --runtime podman) starts it' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l service -d 'The service to use when the Compose file has several' -r
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l docker-args -d 'The caller is the container these `docker run` flags start (\'--user 1000 --cap-add NET_BIND_SERVICE IMAGE [COMMAND]\')' -r
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l runtime -d 'The engine that starts the container (--k8s and --profile k8s-restricted: containerd by default; --compose and --docker-args: docker by default)' -r -f -a "containerd\t'containerd\'s CRI plugin (most Kubernetes clusters)'
cri-o\t'CRI-O'
docker\t'Docker/moby (also cri-dockerd and Compose)'
podman\t'Podman'"
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l user -d 'Simulate a fresh process of this user (name or uid)' -r -f -a "(cut -d: -f1 /etc/passwd)"
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l pid -d 'Use the state of a running process as the caller' -r
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l inheritable -d 'The caller\'s inheritable set' -r -f -a "(__fcap_caps all none)"
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l ambient -d 'The caller\'s ambient set (systemd AmbientCapabilities=); also inheritable' -r -f -a "(__fcap_caps all none)"
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l bounding -d 'The caller\'s bounding set, exactly (systemd CapabilityBoundingSet=)' -r -f -a "(__fcap_caps all none)"
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l drop -d 'Remove these from the caller\'s bounding set (docker --cap-drop)' -r -f -a "(__fcap_caps all none)"
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l profile -d 'Start from a deployment target\'s setup' -r -f -a "docker\t'Docker\'s default: the bounding set is the 14 capabilities moby grants (CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE), empty inheritable and ambient sets; root unless --user'
k8s-baseline\t'A Kubernetes Pod Security "baseline" container: the most a baseline pod may hold, Docker\'s defaults without NET_RAW (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT), started by --runtime (containerd by default)'
k8s-restricted\t'A Kubernetes Pod Security "restricted" container: capabilities drop ALL + add NET_BIND_SERVICE, no_new_privs (allowPrivilegeEscalation: false), a non-root user (--user required), started by --runtime (containerd by default). containerd and CRI-O put the added capability in the bounding, effective and permitted sets, so a `=ep` entrypoint keeps it; Docker (cri-dockerd) gives a non-root user the bounding set only. `--drop net_bind_service` is the same pod without the added capability'"
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l require -d 'Exit 1 unless the exec succeeds and each of these capabilities is effective' -r -f -a "(__fcap_caps all none)"
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l then -d 'Then the process execs PROG (a bare name is looked up in PATH): predict each link of the chain in order' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l then-user -d 'Then the process switches to USER[:GROUP] in user space, as gosu, su-exec, su and s6-setuidgid do (setgroups, setgid, setuid, no capability handling)' -r
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l explain-caller -d 'Print the process section derived from the descriptor, which setting made each part, and the resulting caller; predict nothing'
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l no-new-privs -d 'The caller has no_new_privs (allowPrivilegeEscalation: false, NoNewPrivileges=)'
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l noroot -d 'The caller has SECBIT_NOROOT: root gets no capabilities for being root'
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l json -d 'Print one JSON object'
complete -c fcap -n "__fish_fcap_using_subcommand verify" -l then-fork -d 'Then the process forks and the child goes on (it keeps everything): a daemon\'s worker, pm2\'s cluster'
complete -c fcap -n "__fish_fcap_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fcap -n "__fish_fcap_using_subcommand verify" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_using_subcommand run" -l user -d 'Run as this user (name or uid; its groups from /etc/group unless --groups)' -r
complete -c fcap -n "__fish_fcap_using_subcommand run" -l group -d 'Primary group (name or gid; default: the user\'s)' -r
complete -c fcap -n "__fish_fcap_using_subcommand run" -l groups -d 'Supplementary groups, a comma list of names or gids (\'\' for none)' -r
complete -c fcap -n "__fish_fcap_using_subcommand run" -l ambient -d 'Capabilities to raise in the ambient set (also inheritable and permitted)' -r
complete -c fcap -n "__fish_fcap_using_subcommand run" -l bounding -d 'Cut the bounding set to exactly these capabilities' -r
complete -c fcap -n "__fish_fcap_using_subcommand run" -l then -d 'Then the process execs PROG (a bare name is looked up in PATH): predict each link of the chain in order' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand run" -l then-user -d 'Then the process switches to USER[:GROUP] in user space, as gosu, su-exec, su and s6-setuidgid do (setgroups, setgid, setuid, no capability handling)' -r
complete -c fcap -n "__fish_fcap_using_subcommand run" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_using_subcommand run" -l init-groups -d 'The user\'s groups from /etc/group (the default with --user)'
complete -c fcap -n "__fish_fcap_using_subcommand run" -l no-new-privs -d 'Set no_new_privs: no set-ID bit or file capability grants anything new'
complete -c fcap -n "__fish_fcap_using_subcommand run" -l explain -d 'Print what PROGRAM (and each --then link) would get; run nothing'
complete -c fcap -n "__fish_fcap_using_subcommand run" -l json -d 'With --explain, print one JSON object'
complete -c fcap -n "__fish_fcap_using_subcommand run" -l force -d 'Run PROGRAM even when the check says the ambient set would not reach it'
complete -c fcap -n "__fish_fcap_using_subcommand run" -l then-fork -d 'Then the process forks and the child goes on (it keeps everything): a daemon\'s worker, pm2\'s cluster'
complete -c fcap -n "__fish_fcap_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fcap -n "__fish_fcap_using_subcommand run" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l config-dir -d 'The system manifest directory used by --system' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l keep-setid -d 'A file whose setuid/setgid bits --strip-setid keeps (repeatable)' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l image -d 'Change the files inside this image instead of on the host: an OCI layout (DIR[:TAG]), an oci-archive or a docker save tar. Paths are resolved inside it; the input is never modified' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand apply" -s o -l output -d 'Where the new image goes (a file, DIR or DIR:TAG; DIR:TAG may be the input\'s own layout, which then gets one more tag). Needed with --image unless --dry-run' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l format -d 'The output\'s shape (default: the input\'s)' -r -f -a "oci\t'An OCI image layout directory (`DIR` or `DIR:TAG`)'
oci-archive\t'An OCI layout in a tar file (`skopeo`\'s oci-archive)'
docker-archive\t'A `docker save` tar (Docker 25\'s shape: `docker load` and `podman load` take it)'"
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l tag -d 'Name the result (a docker save\'s name:tag, an OCI layout\'s ref name)' -r
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l platform -d 'Which image of a multi-platform index (OS/ARCH[/VARIANT])' -r
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l system -d 'Also use every *.caps manifest in the system directory (/etc/fcap.d); the package-manager hook runs \'fcap apply --system\''
complete -c fcap -n "__fish_fcap_using_subcommand apply" -s n -l dry-run -d 'Show what would change, write nothing'
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l json -d 'Print JSON Lines: one object per file'
complete -c fcap -n "__fish_fcap_using_subcommand apply" -s q -l quiet -d 'Print only the files that change (and errors)'
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l prune -d 'With --image: every other file with capabilities loses them (the manifests are the allowlist)'
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l strip-setid -d 'With --image: clear the setuid and setgid bits of every file except those given with --keep-setid'
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l all-platforms -d 'Change every platform\'s image of a multi-platform index (one new layer each; attestation manifests are left out, since they describe the old ones)'
complete -c fcap -n "__fish_fcap_using_subcommand apply" -l force -d 'Replace an existing OUT'
complete -c fcap -n "__fish_fcap_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fcap -n "__fish_fcap_using_subcommand apply" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_using_subcommand check" -l config-dir -d 'The system manifest directory used by --system' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand check" -l root -d 'Also scan DIR (repeatable) and report files with capabilities that no manifest lists: the CI gate "no new privileged binaries"' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand check" -l exclude -d 'With --root, leave out entries matching this glob (as for \'fcap read -r\')' -r
complete -c fcap -n "__fish_fcap_using_subcommand check" -l image -d 'Check the files of a container image instead of the host\'s (see \'fcap read --image\'); --root then names directories inside the image' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand check" -l platform -d 'With --image, the platform to pick when the image has several' -r
complete -c fcap -n "__fish_fcap_using_subcommand check" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_using_subcommand check" -l system -d 'Also use every *.caps manifest in the system directory (/etc/fcap.d); the package-manager hook runs \'fcap apply --system\''
complete -c fcap -n "__fish_fcap_using_subcommand check" -s x -l one-file-system -d 'With --root, do not descend into other filesystems'
complete -c fcap -n "__fish_fcap_using_subcommand check" -l json -d 'Print JSON Lines: one object per difference'
complete -c fcap -n "__fish_fcap_using_subcommand check" -l allow-empty -d 'Accept manifests that list nothing (without --root, such a check passes whatever the files carry, so it is an error unless asked for)'
complete -c fcap -n "__fish_fcap_using_subcommand check" -s h -l help -d 'Print help'
complete -c fcap -n "__fish_fcap_using_subcommand check" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l image -d 'Audit a container image instead of the host (see \'fcap read --image\')' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l platform -d 'With --image, the platform to pick when the image has several' -r
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l profile -d 'Judge the capabilities against a deployment target (FC120, FC121) with verify\'s exec model; with --image the entrypoint is verified as \'verify --image\' would' -r -f -a "docker\t'Docker\'s default: the bounding set is the 14 capabilities moby grants (CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE), empty inheritable and ambient sets; root unless --user'
k8s-baseline\t'A Kubernetes Pod Security "baseline" container: the most a baseline pod may hold, Docker\'s defaults without NET_RAW (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT), started by --runtime (containerd by default)'
k8s-restricted\t'A Kubernetes Pod Security "restricted" container: capabilities drop ALL + add NET_BIND_SERVICE, no_new_privs (allowPrivilegeEscalation: false), a non-root user (--user required), started by --runtime (containerd by default). containerd and CRI-O put the added capability in the bounding, effective and permitted sets, so a `=ep` entrypoint keeps it; Docker (cri-dockerd) gives a non-root user the bounding set only. `--drop net_bind_service` is the same pod without the added capability'"
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l runtime -d 'The engine that starts the container (as for \'fcap verify\')' -r -f -a "containerd\t'containerd\'s CRI plugin (most Kubernetes clusters)'
cri-o\t'CRI-O'
docker\t'Docker/moby (also cri-dockerd and Compose)'
podman\t'Podman'"
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l user -d 'Who runs the files under --profile (default: the image\'s User; on a host, root for docker and nobody (65534) for the Kubernetes profiles)' -r
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l allow -d 'Manifests (as \'fcap read -r\' prints them) of the paths that may carry capabilities and the most each may carry (FC140)' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l policy -d 'The policy file (default: .fcap-policy.yaml in the working directory, if any)' -r -F
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l exclude -d 'Leave out entries matching this glob (as for \'fcap read -r\')' -r
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l format -d 'Output format' -r -f -a "human\t''
json\t''
sarif\t''
gitlab\t''
junit\t''"
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l fail-on -d 'The lowest severity that fails the run (exit 1); none: never' -r -f -a "error\t''
warning\t''
note\t''
none\t''"
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l no-exceptions -d 'Ignore every exception: audit everything'
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l show-suppressed -d 'Also show the findings that exceptions suppress, with their reasons'
complete -c fcap -n "__fish_fcap_using_subcommand audit" -l json -d 'Print JSON Lines: one object per finding (same as --format json)'
complete -c fcap -n "__fish_fcap_using_subcommand audit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c fcap -n "__fish_fcap_using_subcommand audit" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_using_subcommand list" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_using_subcommand list" -l json -d 'Print JSON Lines: one object per capability (number, name, summary, danger, kernel, bounding)'
complete -c fcap -n "__fish_fcap_using_subcommand list" -s h -l help -d 'Print help'
complete -c fcap -n "__fish_fcap_using_subcommand list" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_using_subcommand explain" -l color -d 'When to use colours: auto (a terminal, and NO_COLOR unset), always or never' -r -f -a "auto\t'Colour when stdout is a terminal and `NO_COLOR` is not set'
always\t''
never\t''"
complete -c fcap -n "__fish_fcap_using_subcommand explain" -l json -d 'Print one JSON object instead of text'
complete -c fcap -n "__fish_fcap_using_subcommand explain" -s h -l help -d 'Print help'
complete -c fcap -n "__fish_fcap_using_subcommand explain" -s V -l version -d 'Print version'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "read" -d 'Show the capabilities of files (getcap-compatible)'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "grant" -d 'Add capabilities to files, keeping the ones they have'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "revoke" -d 'Remove capabilities from files'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "set" -d 'Replace files\' capabilities with a libcap text expression (setcap-compatible)'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "verify" -d 'Predict what a process gets when it executes a file, and why'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "run" -d 'Run a program as another user with ambient capabilities, checked first'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "apply" -d 'Make files carry exactly the capabilities a manifest lists'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "check" -d 'Compare files against manifests; exit 1 on any drift'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "audit" -d 'Judge every privileged file (capabilities, setuid, setgid) against rules and a policy'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "list" -d 'List every capability with what it allows'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "explain" -d 'Explain what one capability allows and how dangerous it is'
complete -c fcap -n "__fish_fcap_using_subcommand help; and not __fish_seen_subcommand_from read grant revoke set verify run apply check audit list explain help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

# fcap's own completers (completions/src/extra.fish): capability names (after commas
# too) for grant, revoke and explain and for verify's capability options, and users
# from /etc/passwd for verify --user.
function __fcap_caps
    set -l tok (commandline -ct)
    set -l head (string replace -r '[^,]*$' '' -- $tok)
    for c in cap_chown cap_dac_override cap_dac_read_search cap_fowner cap_fsetid cap_kill cap_setgid cap_setuid cap_setpcap cap_linux_immutable cap_net_bind_service cap_net_broadcast cap_net_admin cap_net_raw cap_ipc_lock cap_ipc_owner cap_sys_module cap_sys_rawio cap_sys_chroot cap_sys_ptrace cap_sys_pacct cap_sys_admin cap_sys_boot cap_sys_nice cap_sys_resource cap_sys_time cap_sys_tty_config cap_mknod cap_lease cap_audit_write cap_audit_control cap_setfcap cap_mac_override cap_mac_admin cap_syslog cap_wake_alarm cap_block_suspend cap_audit_read cap_perfmon cap_bpf cap_checkpoint_restore $argv
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
