"""Fault rules and the plan that decides, request by request, which one fires (reference cleo-api §9.4).

Owns when a fault fires and how often it fired; knows nothing of HTTP serving or of either API. What a firing
does to the answer is the serving layer's job (``httpserver``), and the kinds that need an API's own state
(``expire_tokens``, ``login_fail``) are the emulator's (``Emulator.apply_fault``).

A rule matches a method (``""`` = any), a path prefix and a route template (``""`` or ``"*"`` = any), and fires
on the n-th match (``nth``), on every n-th match (``every``), with a seeded probability (``rate``), or on every
match; ``remaining`` caps how many times it fires (without the other triggers: "the next N matching requests").
Rules are tried in order; the first that fires answers, and the rules after it do not see that request.
A ``rate_limit`` rule is different: it never uses those triggers but keeps a token bucket per account and fires
(429 with ``Retry-After``) whenever the account's bucket is empty, for as long as it is installed.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

FaultKind = Literal["status", "reset", "lost_response", "drop_after_commit", "slow", "delay", "trickle",
                    "truncate", "expire_tokens", "login_fail", "rate_limit"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
#: Kinds any emulator serves; the others need the emulator's own state and are enabled per emulator.
GENERIC_KINDS: frozenset[str] = frozenset({"status", "reset", "lost_response", "drop_after_commit", "slow", "delay",
                                           "trickle", "truncate", "rate_limit"})
#: Names the reference's configuration sketch (§9.7) uses, accepted in JSON next to this module's own.
_JSON_ALIASES = {"action": "kind", "probability": "rate", "at_request": "nth", "retry_after_s": "retry_after",
                 "delay_s": "delay"}


@dataclass
class FaultRule:
    """One fault. ``status``/``retry_after`` for ``status`` (``Retry-After`` goes with a 429 only: other statuses
    keep the client's own backoff, as they always did here);
    ``delay`` is the wait of ``slow``/``delay`` and the pause before each ``chunk`` of a ``trickle``;
    ``keep`` is how many body bytes a ``truncate`` sends (None: half); ``per_second``/``burst`` size the
    ``rate_limit`` bucket (``burst`` None: one second's worth, at least 1); ``seed`` gives a ``rate`` rule its
    own generator (else the plan's)."""

    kind: FaultKind
    status: int = 503
    retry_after: float | None = 1
    delay: float = 0.0
    path_prefix: str = ""
    method: str = ""
    remaining: int | None = None  # fire at most this many more times
    rate: float | None = None  # a seeded share of matching requests
    route: str = ""  # a route template such as "/api/files/{file_id}/content"; "" or "*" = any
    nth: int | None = None  # only the n-th matching request
    every: int | None = None  # every n-th matching request
    chunk: int = 16
    keep: int | None = None
    per_second: float = 10.0
    burst: int | None = None
    seed: int | None = None
    matched: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)
    _rng: random.Random | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind: got {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        for name in ("nth", "every", "chunk", "remaining", "burst"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < (0 if name == "remaining" else 1)):
                raise ValueError(f"{name}: got {value!r}; expected a positive integer")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate: got {self.rate!r}; expected a share from 0 to 1")
        if self.kind == "rate_limit" and self.per_second <= 0:
            raise ValueError(f"per_second: got {self.per_second!r}; expected more than 0 requests per second")
        if self.seed is not None:
            self._rng = random.Random(self.seed)
        self.method = self.method.upper()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        """A rule from ``POST /_sandbox/faults``: this class's field names (the original shape), or the
        reference's names (``action``, ``probability``, ``at_request``, ``match: {method, route}``, ``…_s``).
        Raises ``ValueError`` naming the field."""
        fields = dict(data)
        match = fields.pop("match", None)
        if match is not None:
            if not isinstance(match, dict) or set(match) - {"method", "route"}:
                raise ValueError(f"match: got {match!r}; expected {{\"method\"?, \"route\"?}}")
            fields.update(match)
        for alias, name in _JSON_ALIASES.items():
            if alias in fields:
                fields[name] = fields.pop(alias)
        if isinstance(fields.get("nth"), list):  # the sketch writes nth: [3]; one position per rule here
            positions = fields["nth"]
            if len(positions) != 1:
                raise ValueError(f"nth: got {positions!r}; expected one position (add one rule per position)")
            fields["nth"] = positions[0]
        unknown = set(fields) - (set(cls.__dataclass_fields__) - {"matched", "fired", "_rng"})
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        return cls(**fields)

    @property
    def label(self) -> str:
        """The key this rule's firings are counted under (``status_503``, ``trickle``, …)."""
        return f"status_{self.status}" if self.kind == "status" else self.kind

    def matches(self, method: str, path: str, route: str = "") -> bool:
        return (path.startswith(self.path_prefix) and (not self.method or self.method == method)
                and self.route in ("", "*", route))

    def _triggered(self, rng: random.Random) -> bool:
        """Counts one more match; True when this match fires (the caller has checked ``remaining``)."""
        self.matched += 1
        if self.nth is not None and self.matched != self.nth:
            return False
        if self.every is not None and self.matched % self.every != 0:
            return False
        return self.rate is None or (self._rng or rng).random() < self.rate


@dataclass(frozen=True)
class Firing:
    """A rule that fired for one request; ``retry_after`` is what a 429 of ``rate_limit`` should carry."""

    rule: FaultRule
    retry_after: float | None = None


class _Buckets:
    """Token buckets per account for one ``rate_limit`` rule; real time, since clients really wait."""

    def __init__(self, per_second: float, burst: int, clock: Callable[[], float]) -> None:
        self.per_second = per_second
        self.burst = burst
        self.clock = clock
        self._state: dict[str, tuple[float, float]] = {}  # account → (tokens, at)

    def take(self, account: str) -> float | None:
        """None when the account may go ahead, else the seconds until its next token."""
        now = self.clock()
        tokens, at = self._state.get(account, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
        if tokens >= 1.0:
            self._state[account] = (tokens - 1.0, now)
            return None
        self._state[account] = (tokens, now)
        return (1.0 - tokens) / self.per_second


class FaultPlan:
    """Thread-safe list of fault rules; deterministic for a given seed. ``kinds`` are those the emulator
    serves; ``only_on`` limits a kind to one route key (``login_fail`` → ``"POST /api/authentication"``)."""

    def __init__(self, seed: int = 0, *, kinds: Iterable[str] = GENERIC_KINDS,
                 only_on: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._rules: list[FaultRule] = []
        self._buckets: dict[int, _Buckets] = {}
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._clock = clock
        self.kinds = frozenset(kinds)
        self.only_on = dict(only_on or {})
        self.fired: Counter[str] = Counter()

    def add(self, rule: FaultRule) -> None:
        if rule.kind not in self.kinds:
            raise ValueError(f"kind: got {rule.kind!r}; this emulator serves {', '.join(sorted(self.kinds))}")
        with self._lock:
            self._rules.append(rule)
            if rule.kind == "rate_limit":
                burst = rule.burst or max(1, math.floor(rule.per_second))
                self._buckets[id(rule)] = _Buckets(rule.per_second, burst, self._clock)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._buckets.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, method: str, path: str, route_key: str = "", account: str = "") -> Firing | None:
        """The firing for this request, if any, counted under its label. ``route_key`` is "METHOD template"."""
        template = route_key.partition(" ")[2]
        with self._lock:
            for rule in list(self._rules):
                scope = self.only_on.get(rule.kind)
                if (scope is not None and scope != route_key) or not rule.matches(method, path, template):
                    continue
                firing = self._fire(rule, account)
                if firing is None:
                    continue
                rule.fired += 1
                self.fired[rule.label] += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                        self._buckets.pop(id(rule), None)
                return firing
        return None

    def _fire(self, rule: FaultRule, account: str) -> Firing | None:
        if rule.remaining is not None and rule.remaining <= 0:
            return None
        if rule.kind == "rate_limit":
            rule.matched += 1
            wait = self._buckets[id(rule)].take(account)
            return None if wait is None else Firing(rule, wait)
        return Firing(rule) if rule._triggered(self._rng) else None

    def reset_counts(self) -> None:
        with self._lock:
            self.fired.clear()
