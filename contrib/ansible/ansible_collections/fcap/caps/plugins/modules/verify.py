#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fcap developers
# MIT or Apache-2.0 (see the fcap repository)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: verify
short_description: Predict what a process gets when it executes a file, and fail when it is not enough
version_added: 0.1.0
description:
  - Runs C(fcap verify --json), which applies the kernel's exec rules to the file's capabilities and
    a caller (this process, a fresh process of O(user), a running O(pid), a deployment O(profile),
    plus bounding, ambient, inheritable and no_new_privs settings).
  - Fails the task with fcap's reasons when the exec would fail or a capability in O(require) would
    not be effective. Never changes anything.
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
    description: Changes nothing.
options:
  path:
    description: The program that would be executed.
    type: path
    required: true
  user:
    description: Simulate a fresh process of this user (name or uid).
    type: str
  pid:
    description: Use the state of this running process as the caller.
    type: int
  inheritable:
    description: The caller's inheritable set.
    type: list
    elements: str
  ambient:
    description: The caller's ambient set (systemd C(AmbientCapabilities=)); also inheritable.
    type: list
    elements: str
  bounding:
    description: The caller's bounding set, exactly (systemd C(CapabilityBoundingSet=)).
    type: list
    elements: str
  drop:
    description: Remove these from the caller's bounding set (C(docker --cap-drop)).
    type: list
    elements: str
  no_new_privs:
    description: The caller has no_new_privs (C(allowPrivilegeEscalation=false), C(NoNewPrivileges=)).
    type: bool
    default: false
  noroot:
    description: The caller has C(SECBIT_NOROOT).
    type: bool
    default: false
  profile:
    description:
      - Start from a deployment target's setup. V(docker) is Docker's default bounding set;
        V(k8s-restricted) is Pod Security "restricted" (needs O(user)).
    type: str
    choices: [docker, k8s-restricted]
  oci_config:
    description: The caller is this OCI runtime C(config.json)'s process section, applied as runc applies it.
    type: path
  k8s:
    description: The caller is a container of this Kubernetes manifest (Pod, Deployment, Job...), as the O(runtime) starts it.
    type: path
  container:
    description: The container of O(k8s) to use, when it has several.
    type: str
  compose:
    description: The caller is a service of this Docker Compose file.
    type: path
  service:
    description: The service of O(compose) to use, when it has several.
    type: str
  docker_args:
    description: The caller is the container these C(docker run) flags start (C(FLAGS IMAGE [CMD])).
    type: str
  unit:
    description: The caller is the process this systemd unit file (and its C(.d/*.conf) drop-ins) starts.
    type: path
  runtime:
    description: The engine that starts the container for O(k8s), O(compose), O(docker_args) or O(profile).
    type: str
    choices: [containerd, cri-o, docker, podman]
  require:
    description: Fail unless the exec succeeds and each of these capabilities is effective.
    type: list
    elements: str
seealso:
  - module: fcap.caps.capability
'''

EXAMPLES = r'''
- name: The service user gets cap_net_bind_service from node
  fcap.caps.verify:
    path: /usr/bin/node
    user: node
    require: [net_bind_service]

- name: Same, under Kubernetes' restricted profile
  fcap.caps.verify:
    path: /usr/bin/node
    user: node
    profile: k8s-restricted
    require: [net_bind_service]

- name: As a systemd unit with NoNewPrivileges=yes would run it
  fcap.caps.verify:
    path: /usr/local/bin/pinger
    user: pinger
    no_new_privs: true
  register: prediction
'''

RETURN = r'''
result:
  description: fcap's whole JSON answer (C(exec), C(permitted), C(effective), C(reasons), C(caller), ...).
  returned: success
  type: dict
exec:
  description: V(ok) when the exec succeeds, else why it fails.
  returned: success
  type: str
  sample: ok
effective:
  description: The capabilities effective after the exec.
  returned: success
  type: list
  elements: str
  sample: [cap_net_bind_service]
permitted:
  description: The capabilities permitted after the exec.
  returned: success
  type: list
  elements: str
  sample: [cap_net_bind_service]
missing:
  description: The capabilities of O(require) that would not be effective.
  returned: success
  type: list
  elements: str
  sample: []
reasons:
  description: fcap's explanations, one per line.
  returned: success
  type: list
  elements: str
cmd:
  description: The fcap command line that ran.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fcap.caps.plugins.module_utils.fcap import (
    EXIT_NO,
    EXIT_OK,
    Fcap,
    fcap_argument_spec,
)

LIST_OPTIONS = ('inheritable', 'ambient', 'bounding', 'drop', 'require')
# The runtime descriptors, passed to fcap as they are (fcap maps them to the caller).
DESCRIPTOR_OPTIONS = ('oci_config', 'k8s', 'container', 'compose', 'service',
                      'docker_args', 'unit', 'runtime')


def build_command(params):
    args = ['verify', '--json']
    if params['user'] is not None:
        args += ['--user', params['user']]
    if params['pid'] is not None:
        args += ['--pid', str(params['pid'])]
    for name in LIST_OPTIONS:
        value = params[name]
        if value is not None:
            # An empty list is a real answer for a set: none.
            args += ['--%s' % name, ','.join(value) if value else 'none']
    if params['no_new_privs']:
        args.append('--no-new-privs')
    if params['noroot']:
        args.append('--noroot')
    if params['profile']:
        args += ['--profile', params['profile']]
    for name in DESCRIPTOR_OPTIONS:
        if params.get(name) is not None:
            args += ['--%s' % name.replace('_', '-'), params[name]]
    return args + ['--', params['path']]


def main():
    argument_spec = fcap_argument_spec()
    argument_spec.update(
        path=dict(type='path', required=True),
        user=dict(type='str'),
        pid=dict(type='int'),
        inheritable=dict(type='list', elements='str'),
        ambient=dict(type='list', elements='str'),
        bounding=dict(type='list', elements='str'),
        drop=dict(type='list', elements='str'),
        no_new_privs=dict(type='bool', default=False),
        noroot=dict(type='bool', default=False),
        profile=dict(type='str', choices=['docker', 'k8s-restricted']),
        require=dict(type='list', elements='str'),
        oci_config=dict(type='path'),
        k8s=dict(type='path'),
        container=dict(type='str'),
        compose=dict(type='path'),
        service=dict(type='str'),
        docker_args=dict(type='str'),
        unit=dict(type='path'),
        runtime=dict(type='str', choices=['containerd', 'cri-o', 'docker', 'podman']),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[('user', 'pid'),
                                               ('oci_config', 'k8s', 'compose', 'docker_args', 'unit', 'pid')])
    params = module.params
    fcap = Fcap(module)
    rc, records, dummy, errors, cmd = fcap.run(build_command(params))
    if rc not in (EXIT_OK, EXIT_NO) or len(records) != 1:
        fcap.fail(rc, errors, cmd, records=records, path=params['path'])
    answer = records[0]
    reasons = [r.get('message') for r in answer.get('reasons') or [] if r.get('message')]
    result = dict(
        changed=False,
        path=params['path'],
        result=answer,
        exec=answer.get('exec'),
        effective=answer.get('effective'),
        permitted=answer.get('permitted'),
        missing=answer.get('missing'),
        reasons=reasons,
        cmd=cmd,
    )
    if rc == EXIT_NO:
        # The structured answer says why: the exec fails, or required capabilities are missing.
        if answer.get('exec') != 'ok':
            head = 'executing %s fails (%s)' % (answer.get('file') or params['path'], answer.get('exec'))
        else:
            head = 'required capabilities not effective: %s' % ', '.join(answer.get('missing') or [])
        module.fail_json(msg='; '.join([head] + reasons), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
