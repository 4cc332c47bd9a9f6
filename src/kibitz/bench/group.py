"""group: one member sends GROUPCHAT over msync, the group's other M − 1 members pull it.

Each message is one row in the group's queue and one NOTICE → pull → ack per member
session, so what is measured is the server's fan-out of a stored group message to online
members. Three phases, each on its own logged-in group (``--group-phase``):

- ``rate``: M = ``--group-members`` at ``--group-rate`` sends/s (latency at a light load);
- ``saturate``: the same group, the step search of ``saturate`` over delivered msg/s;
- ``large``: M = ``--group-large-members`` at ``--group-large-rate`` sends/s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import httpx

from .phases import Context, close_all, measure, open_sessions, spread, warm
from .saturate import stepper
from .worker import GroupSpec

__all__ = ["create_group", "group"]

_BATCH: Final = 60  # members per REST create / add request (Agora's limit)
_TIMEOUT_S: Final = 60.0


def create_group(ctx: Context, names: Sequence[str], label: str) -> str:
    """A private group over REST with the app token: ``names[0]`` owns it, all are members
    (created with the first 60, the rest added 60 at a time); returns its id."""
    base = ctx.rest_app_urls[0]  # the nodes share one database
    headers = {"Authorization": f"Bearer {ctx.app_token}"}
    owner, others = names[0], list(names[1:])
    with httpx.Client(headers=headers, timeout=_TIMEOUT_S) as http:
        body = {
            "groupname": label,
            "desc": "kibitz bench",
            "public": False,
            "owner": owner,
            "members": others[:_BATCH],
            "maxusers": len(names),
        }
        resp = http.post(f"{base}/chatgroups", json=body)
        if resp.status_code != 200:
            raise RuntimeError(f"creating a group: HTTP {resp.status_code} {resp.text[:300]}")
        gid = str(resp.json()["data"]["groupid"])
        for at in range(_BATCH, len(others), _BATCH):
            chunk = others[at : at + _BATCH]
            resp = http.post(f"{base}/chatgroups/{gid}/users", json={"usernames": chunk})
            if resp.status_code != 200:
                raise RuntimeError(
                    f"adding group members: HTTP {resp.status_code} {resp.text[:300]}"
                )
        resp = http.get(f"{base}/chatgroups/{gid}")
        resp.raise_for_status()
        count = resp.json()["data"][0]["affiliations_count"]
    if count != len(names):
        raise RuntimeError(f"group {gid} has {count} members, wanted {len(names)}")
    return gid


class _Group:
    """A group whose members are logged in; its first member sends, from its worker."""

    def __init__(self, ctx: Context, size: int, label: str) -> None:
        self.ctx = ctx
        self.size = size
        members = list(ctx.users[:size])
        self.sender = members[0][0]
        tag = f"bench {members[0][1]} {size}"
        ctx.progress.begin(f"{label}: create a group of {size}", 0)
        self.gid = create_group(ctx, [u[1] for u in members], tag)
        ctx.progress.end(self.gid)
        self.owners, _ = open_sessions(ctx, f"{label}: login", members, 0.0)
        self.where = spread(ctx)
        receivers = [u[0] for u in members[1:]]
        spec = GroupSpec(self.gid, (members[0][0], members[0][1]), receivers)
        sender_worker = self.owners.get(self.sender)
        ctx.pool.call(
            "group_setup", [[spec] if w == sender_worker else [] for w in range(ctx.pool.size)]
        )

    @property
    def fan(self) -> int:
        """Deliveries per send: every member but the sender."""
        return self.size - 1

    def args(self, sends_per_s: float, seconds: float) -> list[Any]:
        sender_worker = self.owners.get(self.sender)
        size = self.ctx.pool.size
        return [(sends_per_s if w == sender_worker else 0.0, seconds) for w in range(size)]

    def warm(self, sends_per_s: float) -> None:
        warm(self.ctx, "group", self.args(sends_per_s, self.ctx.cfg.warmup))

    def run(self, label: str, sends_per_s: float, seconds: float) -> dict[str, Any]:
        planned = int(sends_per_s * seconds) * self.fan
        args = self.args(sends_per_s, seconds)
        out = measure(self.ctx, label, "group", args, planned, self.owners, seconds)
        out.update(
            group_id=self.gid,
            members=self.size,
            rate=sends_per_s,
            duration_s=seconds,
            offered_per_s=sends_per_s * self.fan,
            latency_is="send to receipt",
            **self.where,
        )
        return out


def group(ctx: Context) -> dict[str, Any]:
    cfg = ctx.cfg
    phases = cfg.group_phases
    out: dict[str, Any] = {"phases": list(phases)}
    if "rate" in phases or "saturate" in phases:
        g = _Group(ctx, cfg.group_members, "group")
        if "rate" in phases:
            g.warm(cfg.group_rate)
            label = f"group {g.size} @{cfg.group_rate:g}/s"
            out["rate"] = g.run(label, cfg.group_rate, cfg.duration)
        if "saturate" in phases:
            g.warm(cfg.group_sat_start / g.fan)

            def step(rate: float, label: str) -> dict[str, Any]:
                return g.run(label, rate / g.fan, cfg.sat_duration)

            sat = stepper(ctx, "group", cfg.group_sat_start, step)
            sat.update(
                members=g.size,
                latency_limit_ms=cfg.latency_limit_ms,
                loss_limit=cfg.loss_limit,
                step_s=cfg.sat_duration,
                **g.where,
            )
            out["saturate"] = sat
        close_all(ctx)
    if "large" in phases:
        big = _Group(ctx, cfg.group_large_members, "group large")
        big.warm(cfg.group_large_rate)
        label = f"group {big.size} @{cfg.group_large_rate:g}/s"
        out["large"] = big.run(label, cfg.group_large_rate, cfg.duration)
        close_all(ctx)
    return out
