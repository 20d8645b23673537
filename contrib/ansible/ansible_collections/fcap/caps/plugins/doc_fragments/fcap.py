# -*- coding: utf-8 -*-
# Copyright: fcap developers
# MIT or Apache-2.0 (see the fcap repository)

from __future__ import annotations


class ModuleDocFragment:
    # The option every module of the collection shares: where the fcap binary is.
    DOCUMENTATION = r'''
options:
  fcap_path:
    description:
      - Path of the C(fcap) binary on the managed host.
      - Without it, C(fcap) is looked up in E(PATH) (and C(/usr/local/bin), C(/usr/sbin), C(/sbin)).
      - The role M(fcap.caps.install) installs the static binary on hosts that lack it.
    type: path
requirements:
  - the C(fcap) binary on the managed host (a static build needs nothing else)
notes:
  - The module runs C(fcap ... --json) with C(LC_ALL=C) and reads only its JSON records and its
    exit status (0 yes, 1 a negative answer, 2 an error); it never parses human-readable text.
    Error messages are fcap's own, passed through unchanged.
'''
