# -*- coding: utf-8 -*-
# Copyright: fcap developers
# MIT or Apache-2.0 (see the fcap repository)

"""The one way the collection's modules run fcap: JSON in, exit status, fcap's own messages."""

from __future__ import annotations

import json

# fcap's one warning printer writes exactly this prefix (src/error.rs); the rest of the line
# is the message, which the module hands to Ansible unchanged. grant, set and apply also put
# their warnings in their JSON records; a warning is shown once either way.
WARNING_PREFIX = 'fcap: warning: '
ERROR_PREFIX = 'fcap: '

# Exit statuses fcap documents in `fcap --help`.
EXIT_OK = 0
EXIT_NO = 1
EXIT_ERROR = 2

OPERATORS = ('=', '+', '-')


def fcap_argument_spec():
    """The options every module shares (see the fcap.caps.fcap doc fragment)."""
    return dict(fcap_path=dict(type='path'))


def has_operator(item):
    """Whether a capability item already carries flags (cap_net_raw+ep, CAP_NET_RAW=PE).

    A leading '-' never counts: fcap refuses such a name with its own message."""
    return any(op in item[1:] for op in OPERATORS)


def caps_expression(caps, flags):
    """The CAPS argument of grant/set for a list of items and the default flags.

    Items without flags are joined with commas and get `=flags`: [net_raw, net_admin] with
    'ep' is 'net_raw,net_admin=ep'. One item may carry its own flags instead ('cap_net_raw+ep',
    or a whole libcap expression for state=exact). fcap parses the result, so every spelling
    fcap accepts works and the messages about bad names or flags are fcap's.
    Returns (expression, error) with exactly one of them None.
    """
    items = [c.strip() for c in caps if c is not None and c.strip()]
    if not items:
        return None, 'caps is empty'
    with_flags = [c for c in items if has_operator(c)]
    if with_flags:
        if len(items) > 1:
            return None, ('%s carries its own flags: write the flags once, in the flags option, '
                          'or give a single libcap expression as the only item' % with_flags[0])
        return items[0], None
    return '%s=%s' % (','.join(items), flags), None


def names_expression(caps):
    """The CAPS argument of revoke: the names, comma-joined (fcap refuses flags there)."""
    items = [c.strip() for c in caps if c is not None and c.strip()]
    return ','.join(items)


def parse_records(stdout):
    """fcap --json prints JSON Lines (one object per file) or one object: a list of dicts."""
    records = []
    for line in stdout.splitlines():
        line = line.strip()
        if line:
            records.append(json.loads(line))
    return records


def split_stderr(stderr):
    """fcap's warnings (without their prefix) and its other messages, as two lists."""
    warnings, errors = [], []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        if line.startswith(WARNING_PREFIX):
            warnings.append(line[len(WARNING_PREFIX):])
        else:
            errors.append(line)
    return warnings, errors


def merge_warnings(records, stderr_warnings):
    """Every warning once: the records' own 'warnings' (grant, set and apply put them in
    their JSON), then any other that fcap printed only on stderr."""
    merged = []
    for rec in records:
        listed = rec.get('warnings') if isinstance(rec, dict) else None
        for w in listed or []:
            if w not in merged:
                merged.append(w)
    for w in stderr_warnings:
        if w not in merged:
            merged.append(w)
    return merged


def failure_message(rc, errors, records):
    """fcap's messages on stderr; else any 'error' its JSON records carry; else the status."""
    if errors:
        return '\n'.join(errors)
    from_records = [r['error'] for r in records if isinstance(r, dict) and isinstance(r.get('error'), str)]
    if from_records:
        return '\n'.join(from_records)
    return 'fcap exited with status %d' % rc


class Fcap:
    """Runs the fcap binary for one module invocation."""

    def __init__(self, module):
        self.module = module
        path = module.params.get('fcap_path')
        if path:
            self.bin = path
        else:
            self.bin = module.get_bin_path('fcap', required=True,
                                           opt_dirs=['/usr/local/bin', '/usr/sbin', '/sbin'])
        # A C locale so that nothing fcap or its libraries print depends on the host's language.
        module.run_command_environ_update = {'LANGUAGE': 'C', 'LC_ALL': 'C', 'NO_COLOR': '1'}

    def run(self, args, data=None):
        """Run `fcap ARGS`; return (rc, records, warnings, errors, cmd).

        fcap's warnings become Ansible warnings here, once."""
        cmd = [self.bin] + list(args)
        rc, out, err = self.module.run_command(cmd, data=data, binary_data=data is not None)
        try:
            records = parse_records(out)
        except ValueError as exc:
            self.module.fail_json(msg='fcap printed something that is not JSON: %s' % exc,
                                  cmd=cmd, rc=rc, stdout=out, stderr=err)
        stderr_warnings, errors = split_stderr(err)
        warnings = merge_warnings(records, stderr_warnings)
        for w in warnings:
            self.module.warn(w)
        return rc, records, warnings, errors, cmd

    def fail(self, rc, errors, cmd, records=None, **extra):
        """Fail the task with fcap's own message(s)."""
        msg = failure_message(rc, errors, records or [])
        if records is not None:
            extra['records'] = records
        self.module.fail_json(msg=msg, rc=rc, cmd=cmd, **extra)
