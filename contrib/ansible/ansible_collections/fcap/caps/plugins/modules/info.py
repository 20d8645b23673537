#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fcap developers
# MIT or Apache-2.0 (see the fcap repository)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: info
short_description: Find every file with capabilities under some directories, and their drift
version_added: 0.1.0
description:
  - Scans O(paths) with C(fcap read -r --json) and returns every file that carries capabilities,
    as structured data (never parsed from getcap's text).
  - With O(register_facts=true) the files also become the host fact C(fcap_files), so one playbook
    run over an inventory answers "which hosts have which privileged binaries".
  - With a reviewed manifest (O(manifest) or O(manifest_content)), also runs
    C(fcap check --json MANIFEST --root PATHS) and returns the drift (listed files whose
    capabilities differ, and files with capabilities the manifest does not list).
  - Never changes anything.
author:
  - fcap developers (@fcap)
extends_documentation_fragment:
  - fcap.caps.fcap
attributes:
  check_mode:
    support: full
    description: Reads only; it runs the same way in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
options:
  paths:
    description:
      - Directories (or files) to scan recursively. Symlinks are never followed during the scan.
    type: list
    elements: path
    default: [/]
  exclude:
    description:
      - Globs to leave out. Without a C(/) a glob matches names at any depth (C(node_modules),
        C(*.so)); with one, whole paths (C(/usr/share/doc)). An excluded directory is not entered.
    type: list
    elements: str
    default: []
  one_file_system:
    description:
      - Do not descend into other filesystems (C(/proc), C(/sys), network mounts under O(paths)).
    type: bool
    default: false
  register_facts:
    description:
      - Also return the files as the fact C(fcap_files) (and the drift as C(fcap_drift)).
    type: bool
    default: false
  manifest:
    description:
      - A reviewed manifest on the managed host to compare with.
    type: path
  manifest_content:
    description:
      - A reviewed manifest's text, given inline.
    type: str
seealso:
  - module: fcap.caps.manifest
'''

EXAMPLES = r'''
- name: Which privileged binaries does this host have?
  fcap.caps.info:
    paths: [/usr, /opt]
    one_file_system: true
    exclude: [/usr/share]
    register_facts: true

- name: Drift against the reviewed manifest
  fcap.caps.info:
    paths: [/usr]
    manifest_content: "{{ lookup('ansible.builtin.file', 'reviewed/' ~ inventory_hostname ~ '.caps') }}"
  register: audit

- name: Fail on drift
  ansible.builtin.assert:
    that: audit.drift | length == 0
'''

RETURN = r'''
files:
  description: Every file with capabilities under O(paths), sorted by path.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    caps:
      description: Its capabilities as canonical libcap text (what getcap prints).
      type: str
    permitted:
      description: The capabilities in its permitted set.
      type: list
      elements: str
    inheritable:
      description: The capabilities in its inheritable set.
      type: list
      elements: str
    effective:
      description: Whether the effective bit is set.
      type: bool
    version:
      description: The attribute's format version (2, or 3 when namespaced).
      type: int
    rootid:
      description: The user-namespace root uid of a v3 value, else null.
      type: int
  sample:
    - {path: /usr/bin/ping, caps: cap_net_raw=ep, permitted: [cap_net_raw], inheritable: [],
       effective: true, version: 2, rootid: null}
drift:
  description:
    - The differences from the manifest, one per file, as C(fcap check --json) prints them.
    - C(status) is V(different) for a listed file whose value differs (C(actual) null when it has none)
      and V(unexpected) for a file with capabilities that the manifest does not list.
  returned: when O(manifest) or O(manifest_content) is set
  type: list
  elements: dict
  sample:
    - {path: /usr/bin/dumpcap, status: unexpected, expected: null, actual: cap_net_admin,cap_net_raw=eip,
       manifest: null, line: null}
cmd:
  description: The fcap command line of the scan.
  returned: always
  type: list
  elements: str
check_cmd:
  description: The fcap command line of the comparison with the manifest.
  returned: when O(manifest) or O(manifest_content) is set
  type: list
  elements: str
ansible_facts:
  description: With O(register_facts=true).
  returned: when O(register_facts=true)
  type: dict
  contains:
    fcap_files:
      description: Same as RV(files).
      type: list
      elements: dict
    fcap_drift:
      description: Same as RV(drift), when a manifest is given.
      type: list
      elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fcap.caps.plugins.module_utils.fcap import (
    EXIT_NO,
    EXIT_OK,
    Fcap,
    fcap_argument_spec,
)


def scan_options(params, exclude_flag):
    args = []
    if params['one_file_system']:
        args.append('--one-file-system')
    for pattern in params['exclude']:
        args += [exclude_flag, pattern]
    return args


def scan_command(params):
    """fcap read -r over the paths."""
    return ['read', '--recursive', '--json'] + scan_options(params, '--exclude') + ['--'] + params['paths']


def check_command(params):
    """fcap check of the manifest with the paths as roots; and its standard input."""
    args = ['check', '--json']
    for root in params['paths']:
        args += ['--root', root]
    args += scan_options(params, '--exclude')
    if params['manifest']:
        return args + ['--', params['manifest']], None
    return args + ['--', '-'], params['manifest_content']


def main():
    argument_spec = fcap_argument_spec()
    argument_spec.update(
        paths=dict(type='list', elements='path', default=['/']),
        exclude=dict(type='list', elements='str', default=[]),
        one_file_system=dict(type='bool', default=False),
        register_facts=dict(type='bool', default=False),
        manifest=dict(type='path'),
        manifest_content=dict(type='str'),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[('manifest', 'manifest_content')],
    )
    params = module.params
    if not params['paths']:
        module.fail_json(msg='paths is empty')

    fcap = Fcap(module)
    rc, files, dummy, errors, cmd = fcap.run(scan_command(params))
    if rc != EXIT_OK:
        fcap.fail(rc, errors, cmd, records=files)
    result = dict(changed=False, files=files, cmd=cmd)
    facts = dict(fcap_files=files)

    if params['manifest'] or params['manifest_content'] is not None:
        check, data = check_command(params)
        rc, drift, dummy, errors, cmd = fcap.run(check, data=data)
        # check exits 1 when it found drift: that is an answer, not a failure.
        if rc not in (EXIT_OK, EXIT_NO):
            fcap.fail(rc, errors, cmd, records=drift, files=files)
        result['drift'] = drift
        result['check_cmd'] = cmd
        facts['fcap_drift'] = drift

    if params['register_facts']:
        result['ansible_facts'] = facts
    module.exit_json(**result)


if __name__ == '__main__':
    main()
