#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fcap developers
# MIT or Apache-2.0 (see the fcap repository)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: capability
short_description: Grant, revoke or set the file capabilities of one file, idempotently
version_added: 0.1.0
description:
  - Manages the C(security.capability) extended attribute of a file through the C(fcap) binary
    (C(fcap grant), C(fcap revoke), C(fcap set), each with C(--json)).
  - The comparison is fcap's, on the decoded value, so every spelling of the same capabilities
    (C(cap_net_raw+ep), C(=pe), upper case, any order) is a no-op the second time.
  - Check mode runs the same command with C(--dry-run) and reports exactly the change a real run
    would make. Diff mode shows the value before and after as canonical libcap text.
  - Unlike M(community.general.capabilities), a symlink is followed to the file the kernel
    executes (returned as RV(target)), and removing the last capability removes the attribute
    instead of leaving an empty C(=) value.
author:
  - fcap developers (@fcap)
extends_documentation_fragment:
  - fcap.caps.fcap
attributes:
  check_mode:
    support: full
    description: Runs fcap with C(--dry-run); the result is what a real run would do.
  diff_mode:
    support: full
    description: RV(before) and RV(after) as canonical libcap text (empty when there is no attribute).
options:
  path:
    description:
      - The file to change. A symlink is followed unless O(follow=false).
    type: path
    required: true
    aliases: [dest]
  caps:
    description:
      - Capabilities, in any spelling fcap accepts (C(cap_net_raw), C(CAP_NET_RAW), C(net_raw), a number).
      - One item may instead carry its own flags (C(cap_net_raw+ep), C(cap_net_raw=pe)); with
        O(state=exact) a single item may be a whole libcap expression (C(cap_net_raw=p cap_chown=ep)).
      - Every state takes the same spellings; O(state=exact) passes them to C(fcap set), which
        reads one list and flags in grant's spelling where libcap text would refuse it.
      - With O(state=absent), the item C(all) removes every capability.
      - With O(state=exact), an empty list removes the attribute.
    type: list
    elements: str
    required: true
  flags:
    description:
      - The sets the capabilities go in, for items that do not carry their own flags
        (C(e) effective, C(i) inheritable, C(p) permitted, any order or case).
      - Ignored with O(state=absent), which removes the capabilities from every set.
    type: str
    default: ep
  state:
    description:
      - V(present) adds the capabilities and keeps the others the file has (C(fcap grant)).
      - V(absent) removes them from every set; when none is left the attribute is removed (C(fcap revoke)).
      - V(exact) makes the file carry exactly these capabilities (C(fcap set)).
    type: str
    choices: [present, absent, exact]
    default: present
  follow:
    description:
      - Follow a symlink to the file it points to (the kernel uses the capabilities of the file it executes).
      - With V(false), a symlink is refused with fcap's message.
    type: bool
    default: true
  rootid:
    description:
      - Write a namespaced (v3) value bound to this user-namespace root uid.
      - Without it, an existing rootid is kept by O(state=present).
      - Not used with O(state=absent).
    type: int
seealso:
  - module: fcap.caps.verify
  - module: fcap.caps.manifest
'''

EXAMPLES = r'''
- name: Let node bind ports below 1024 (the symlink is followed to the real binary)
  fcap.caps.capability:
    path: /usr/bin/node
    caps: [cap_net_bind_service]

- name: Two capabilities, permitted only
  fcap.caps.capability:
    path: /usr/local/bin/pinger
    caps: [net_raw, net_admin]
    flags: p

- name: The spelling setcap users know works and is idempotent
  fcap.caps.capability:
    path: /usr/local/bin/pinger
    caps: ['cap_net_raw+ep']

- name: Exactly this value, whatever the file had
  fcap.caps.capability:
    path: /usr/local/bin/pinger
    caps: ['cap_net_raw=p cap_net_admin=p']
    state: exact

- name: Remove every capability (the attribute goes away)
  fcap.caps.capability:
    path: /usr/local/bin/pinger
    caps: [all]
    state: absent
'''

RETURN = r'''
path:
  description: The path as given.
  returned: always
  type: str
  sample: /usr/bin/node
target:
  description: The file that was (or would be) written, after following symlinks.
  returned: success
  type: str
  sample: /usr/lib/node-22/bin/node
before:
  description: The file's capabilities before, as canonical libcap text; null when it had none.
  returned: success
  type: str
  sample: null
after:
  description: The file's capabilities after (in check mode, what a real run would leave); null when none.
  returned: success
  type: str
  sample: cap_net_bind_service=ep
rootid:
  description: The rootid passed to fcap, if any.
  returned: when O(rootid) is set
  type: int
  sample: 100000
cmd:
  description: The fcap command line that ran.
  returned: always
  type: list
  elements: str
  sample: [fcap, grant, --json, --, cap_net_bind_service=ep, /usr/bin/node]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fcap.caps.plugins.module_utils.fcap import (
    EXIT_OK,
    Fcap,
    caps_expression,
    fcap_argument_spec,
    names_expression,
)


def build_command(params, check_mode):
    """The fcap arguments for the module's parameters; (args, error)."""
    state = params['state']
    caps = params['caps'] or []
    if state == 'absent':
        expr = names_expression(caps)
        if not expr:
            return None, 'caps is empty: name the capabilities to remove, or [all]'
        args = ['revoke']
    elif state == 'exact' and not [c for c in caps if c and c.strip()]:
        # Exactly nothing: the attribute goes away.
        args, expr = ['revoke'], 'all'
    else:
        expr, err = caps_expression(caps, params['flags'])
        if err:
            return None, err
        args = ['grant' if state == 'present' else 'set']
        if params['rootid'] is not None:
            args += ['--rootid', str(params['rootid'])]
    args.append('--json')
    if check_mode:
        args.append('--dry-run')
    if not params['follow']:
        args.append('--no-dereference')
    # '--' so that an expression or a path starting with '-' is never read as an option.
    args += ['--', expr, params['path']]
    return args, None


def text_lines(value):
    """A value as diff text: one line, or nothing when the file has no attribute."""
    return '' if value is None else value + '\n'


def main():
    argument_spec = fcap_argument_spec()
    argument_spec.update(
        path=dict(type='path', required=True, aliases=['dest']),
        caps=dict(type='list', elements='str', required=True),
        flags=dict(type='str', default='ep'),
        state=dict(type='str', default='present', choices=['present', 'absent', 'exact']),
        follow=dict(type='bool', default=True),
        rootid=dict(type='int'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    path = params['path']

    args, err = build_command(params, module.check_mode)
    if err:
        module.fail_json(msg=err, path=path)

    fcap = Fcap(module)
    rc, records, dummy, errors, cmd = fcap.run(args)
    if rc != EXIT_OK or len(records) != 1:
        fcap.fail(rc, errors, cmd, path=path, records=records)

    rec = records[0]
    result = dict(
        changed=bool(rec.get('changed')),
        path=path,
        target=rec.get('target'),
        before=rec.get('before'),
        after=rec.get('after'),
        cmd=cmd,
    )
    if params['rootid'] is not None:
        result['rootid'] = params['rootid']
    if module._diff:
        result['diff'] = dict(
            before_header='%s (security.capability)' % rec.get('target'),
            after_header='%s (security.capability)' % rec.get('target'),
            before=text_lines(rec.get('before')),
            after=text_lines(rec.get('after')),
        )
    module.exit_json(**result)


if __name__ == '__main__':
    main()
