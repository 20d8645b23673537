# -*- coding: utf-8 -*-
# The pure helpers the modules share: how caps become fcap's argument, how output is read.

from __future__ import annotations

import pytest

from ansible_collections.fcap.caps.plugins.module_utils.fcap import (
    caps_expression,
    failure_message,
    has_operator,
    merge_warnings,
    names_expression,
    parse_records,
    split_stderr,
)


@pytest.mark.parametrize('caps,flags,want', [
    (['cap_net_raw'], 'ep', 'cap_net_raw=ep'),
    (['net_raw', 'CAP_NET_ADMIN'], 'pe', 'net_raw,CAP_NET_ADMIN=pe'),
    ([' cap_chown ', ''], 'p', 'cap_chown=p'),
    (['cap_net_raw+ep'], 'i', 'cap_net_raw+ep'),
    (['CAP_NET_RAW=PE'], 'ep', 'CAP_NET_RAW=PE'),
    (['cap_net_raw=p cap_chown=ep'], 'ep', 'cap_net_raw=p cap_chown=ep'),
    (['12'], 'ep', '12=ep'),
])
def test_caps_expression(caps, flags, want):
    assert caps_expression(caps, flags) == (want, None)


def test_caps_expression_refuses_flags_on_one_of_several():
    expr, err = caps_expression(['cap_net_raw+ep', 'cap_chown'], 'ep')
    assert expr is None
    assert 'cap_net_raw+ep carries its own flags' in err


def test_caps_expression_empty():
    assert caps_expression([], 'ep') == (None, 'caps is empty')
    assert caps_expression(['  '], 'ep') == (None, 'caps is empty')


def test_has_operator_ignores_a_leading_dash():
    assert not has_operator('-cap_net_raw')
    assert has_operator('cap_net_raw-e')
    assert not has_operator('cap_net_raw')


def test_names_expression():
    assert names_expression(['cap_net_raw', ' all ', '']) == 'cap_net_raw,all'


def test_parse_records_json_lines_and_single_object():
    out = '{"path":"a","changed":true}\n\n{"path":"b","changed":false}\n'
    assert parse_records(out) == [{'path': 'a', 'changed': True}, {'path': 'b', 'changed': False}]
    assert parse_records('') == []
    with pytest.raises(ValueError):
        parse_records('a: cap_net_raw=ep (was none)\n')


def test_split_stderr():
    err = ("fcap: warning: '/usr/bin/python3.11' is an interpreter: every script it runs gets cap_net_raw\n"
           "\n"
           "fcap: 'x': No such file or directory\n")
    warnings, errors = split_stderr(err)
    assert warnings == ["'/usr/bin/python3.11' is an interpreter: every script it runs gets cap_net_raw"]
    assert errors == ["fcap: 'x': No such file or directory"]


def test_merge_warnings_shows_each_once():
    records = [{'path': 'a', 'warnings': ['w1', 'w2']}, {'path': 'b', 'warnings': ['w1']}, {'path': 'c'}]
    assert merge_warnings(records, ['w2', 'w3']) == ['w1', 'w2', 'w3']
    assert merge_warnings([], []) == []


def test_failure_message_prefers_stderr_then_records():
    assert failure_message(2, ["fcap: 'x': No such file or directory"], []) == "fcap: 'x': No such file or directory"
    assert failure_message(2, [], [{'path': 'x', 'error': "fcap: 'x': gone"}, {'path': 'y'}]) == "fcap: 'x': gone"
    assert failure_message(2, [], []) == 'fcap exited with status 2'
