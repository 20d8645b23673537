#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fcap developers
# MIT or Apache-2.0 (see the fcap repository)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: manifest
short_description: Make files carry exactly the capabilities a manifest lists
version_added: 0.1.0
description:
  - Applies an fcap manifest with C(fcap apply --json). Every file it lists ends up with exactly the
    capabilities listed for it; the files it does not list are left alone.
  - A manifest is what C(fcap read -r DIR) prints (C(PATH CAPS) per line, getcap's format) or what
    C(fcap read -r --json) prints; C(#) starts a comment.
  - Check mode runs C(fcap apply --dry-run --json) and reports, per file, exactly what a real run
    would change. Diff mode shows the listed files' values before and after.
author:
  - fcap developers (@fcap)
extends_documentation_fragment:
  - fcap.caps.fcap
attributes:
  check_mode:
    support: full
    description: Runs fcap with C(--dry-run).
  diff_mode:
    support: full
    description: One line C(PATH CAPS) per listed file that changes, before and after.
options:
  src:
    description:
      - A manifest file on the managed host.
    type: path
  content:
    description:
      - The manifest's text, given inline (for example from a C(lookup('file', ...)) on the controller).
    type: str
  system:
    description:
      - Also apply every C(*.caps) manifest in the system directory (C(/etc/fcap.d), or O(config_dir)),
        as the package-manager hook does.
    type: bool
    default: false
  config_dir:
    description:
      - The system manifest directory used with O(system=true).
    type: path
notes:
  - At least one of O(src), O(content) and O(system=true) is needed.
seealso:
  - module: fcap.caps.info
  - module: fcap.caps.capability
'''

EXAMPLES = r'''
- name: Restore the reviewed capabilities after an upgrade
  fcap.caps.manifest:
    src: /etc/fcap.d/app.caps

- name: Ship the manifest from the controller
  fcap.caps.manifest:
    content: "{{ lookup('ansible.builtin.file', 'files/app.caps') }}"

- name: Everything the package hook would apply
  fcap.caps.manifest:
    system: true
'''

RETURN = r'''
files:
  description: One record per listed file, as fcap prints it.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The path the manifest lists.
      type: str
    target:
      description: The file written, after following symlinks.
      type: str
    before:
      description: Its capabilities before (canonical libcap text, null for none).
      type: str
    after:
      description: Its capabilities after (in check mode, what a real run would leave).
      type: str
    changed:
      description: Whether this file changes.
      type: bool
    manifest:
      description: The manifest file (C(-) for O(content)).
      type: str
    line:
      description: The line of the manifest.
      type: int
  sample:
    - {path: /usr/bin/ping, target: /usr/bin/ping, before: null, after: cap_net_raw=ep,
       changed: true, manifest: /etc/fcap.d/app.caps, line: 1}
changed_files:
  description: The paths that change (or would change in check mode).
  returned: success
  type: list
  elements: str
  sample: [/usr/bin/ping]
cmd:
  description: The fcap command line that ran.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fcap.caps.plugins.module_utils.fcap import (
    EXIT_OK,
    Fcap,
    fcap_argument_spec,
)


def build_command(params, check_mode):
    """The fcap arguments, and the standard input to give it."""
    args = ['apply', '--json']
    if check_mode:
        args.append('--dry-run')
    if params['system']:
        args.append('--system')
        if params['config_dir']:
            args += ['--config-dir', params['config_dir']]
    data = None
    manifests = []
    if params['src']:
        manifests.append(params['src'])
    if params['content'] is not None:
        manifests.append('-')
        data = params['content']
    return args + ['--'] + manifests, data


def manifest_lines(records, key):
    """The diff text: 'PATH CAPS' for each changing file, with its value before or after."""
    lines = []
    for rec in records:
        if rec.get('changed'):
            lines.append('%s %s\n' % (rec.get('path'), rec.get(key) or '(none)'))
    return ''.join(lines)


def main():
    argument_spec = fcap_argument_spec()
    argument_spec.update(
        src=dict(type='path'),
        content=dict(type='str'),
        system=dict(type='bool', default=False),
        config_dir=dict(type='path'),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[('src', 'content')],
    )
    params = module.params
    if not params['src'] and params['content'] is None and not params['system']:
        module.fail_json(msg='one of src, content or system=true is required')

    args, data = build_command(params, module.check_mode)
    fcap = Fcap(module)
    rc, records, dummy, errors, cmd = fcap.run(args, data=data)
    if rc != EXIT_OK:
        fcap.fail(rc, errors, cmd, records=records)

    changed_files = [r.get('path') for r in records if r.get('changed')]
    result = dict(changed=bool(changed_files), files=records, changed_files=changed_files, cmd=cmd)
    if module._diff:
        result['diff'] = dict(before=manifest_lines(records, 'before'),
                              after=manifest_lines(records, 'after'))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
