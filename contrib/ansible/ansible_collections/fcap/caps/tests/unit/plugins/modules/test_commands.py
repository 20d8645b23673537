# -*- coding: utf-8 -*-
# Each module's parameters become exactly one fcap command line with --json (and --dry-run
# in check mode). The behaviour of those commands is tested for real by the integration tests.

from __future__ import annotations

import pytest

from ansible_collections.fcap.caps.plugins.modules import capability, info, manifest, verify


def cap_params(**kw):
    params = dict(path='/usr/bin/node', caps=['cap_net_bind_service'], flags='ep', state='present',
                  follow=True, rootid=None, fcap_path=None)
    params.update(kw)
    return params


@pytest.mark.parametrize('kw,check,want', [
    ({}, False, ['grant', '--json', '--', 'cap_net_bind_service=ep', '/usr/bin/node']),
    ({}, True, ['grant', '--json', '--dry-run', '--', 'cap_net_bind_service=ep', '/usr/bin/node']),
    ({'state': 'exact', 'caps': ['a', 'b'], 'flags': 'p'}, False,
     ['set', '--json', '--', 'a,b=p', '/usr/bin/node']),
    ({'state': 'exact', 'caps': []}, False, ['revoke', '--json', '--', 'all', '/usr/bin/node']),
    ({'state': 'absent', 'caps': ['cap_net_raw', 'cap_chown']}, True,
     ['revoke', '--json', '--dry-run', '--', 'cap_net_raw,cap_chown', '/usr/bin/node']),
    ({'follow': False, 'rootid': 1000}, False,
     ['grant', '--rootid', '1000', '--json', '--no-dereference', '--', 'cap_net_bind_service=ep', '/usr/bin/node']),
])
def test_capability_command(kw, check, want):
    assert capability.build_command(cap_params(**kw), check) == (want, None)


def test_capability_absent_needs_names():
    args, err = capability.build_command(cap_params(state='absent', caps=[]), False)
    assert args is None and 'caps is empty' in err


def test_capability_diff_text():
    assert capability.text_lines(None) == ''
    assert capability.text_lines('cap_net_raw=ep') == 'cap_net_raw=ep\n'


def test_manifest_command_content_goes_through_stdin():
    params = dict(src=None, content='/a cap_net_raw=ep\n', system=True, config_dir='/etc/x', fcap_path=None)
    assert manifest.build_command(params, True) == (
        ['apply', '--json', '--dry-run', '--system', '--config-dir', '/etc/x', '--', '-'],
        '/a cap_net_raw=ep\n')


def test_manifest_diff_lists_only_changes():
    recs = [dict(path='/a', before=None, after='cap_chown=ep', changed=True),
            dict(path='/b', before='cap_kill=ep', after='cap_kill=ep', changed=False)]
    assert manifest.manifest_lines(recs, 'before') == '/a (none)\n'
    assert manifest.manifest_lines(recs, 'after') == '/a cap_chown=ep\n'


def test_verify_command():
    params = dict(path='/usr/bin/node', user='node', pid=None, inheritable=None, ambient=[],
                  bounding=['net_bind_service', 'chown'], drop=None, no_new_privs=True, noroot=False,
                  profile='k8s-restricted', require=['net_bind_service'], fcap_path=None)
    assert verify.build_command(params) == [
        'verify', '--json', '--user', 'node', '--ambient', 'none', '--bounding', 'net_bind_service,chown',
        '--require', 'net_bind_service', '--no-new-privs', '--profile', 'k8s-restricted', '--', '/usr/bin/node']


def test_info_commands():
    params = dict(paths=['/usr', '/opt'], exclude=['/usr/share', '*.so'], one_file_system=True,
                  register_facts=False, manifest=None, manifest_content='/usr/bin/ping cap_net_raw=ep\n',
                  fcap_path=None)
    assert info.scan_command(params) == [
        'read', '--recursive', '--json', '--one-file-system', '--exclude', '/usr/share', '--exclude', '*.so',
        '--', '/usr', '/opt']
    assert info.check_command(params) == (
        ['check', '--json', '--root', '/usr', '--root', '/opt', '--one-file-system',
         '--exclude', '/usr/share', '--exclude', '*.so', '--', '-'],
        '/usr/bin/ping cap_net_raw=ep\n')
    params['manifest'] = '/etc/fcap.d/reviewed.caps'
    assert info.check_command(params)[0][-1] == '/etc/fcap.d/reviewed.caps'


def test_verify_command_with_a_descriptor():
    params = dict(path='/usr/bin/node', user=None, pid=None, inheritable=None, ambient=None,
                  bounding=None, drop=None, no_new_privs=False, noroot=False, profile=None,
                  require=['net_bind_service'], k8s='/srv/pod.yaml', container='web',
                  runtime='docker', fcap_path=None)
    assert verify.build_command(params) == [
        'verify', '--json', '--require', 'net_bind_service', '--k8s', '/srv/pod.yaml',
        '--container', 'web', '--runtime', 'docker', '--', '/usr/bin/node']
