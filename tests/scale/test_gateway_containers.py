"""The gateways are locked down like every other container, and reachable only inside the network.

Only the agents may send to a gateway: a service that did would split its
traces between gateways (docs/scaling.md, "What breaks it").
"""

from __future__ import annotations

import json

from tests.e2e.test_containers import assert_locked_down
from tests.scale.conftest import Policy, docker, gateway_containers


def test_each_gateway_is_locked_down_and_publishes_no_port(policy: Policy) -> None:
    names = gateway_containers()
    assert len(names) == policy.gateways
    for name in names:
        info = json.loads(docker("inspect", name))[0]
        assert_locked_down(info, name)
        assert not info["HostConfig"]["PortBindings"], (name, info["HostConfig"]["PortBindings"])
