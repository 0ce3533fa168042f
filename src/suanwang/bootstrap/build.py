"""The composition root: settings in, a ready control plane out (the only place naming adapters)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from suanwang.bootstrap.health import HealthConfig
from suanwang.bootstrap.plane import ControlPlane
from suanwang.bootstrap.settings import Settings
from suanwang.control.ports import Clock
from suanwang.control.stores import (
    IssuedToken,
    Principal,
    PrincipalExistsError,
    PrincipalStore,
    Role,
    TaskJournal,
)
from suanwang.model import Scenario
from suanwang.scenario import load_scenario, resolve_scenario
from suanwang.scheduling import resolve_profile
from suanwang.storage import Stores, open_store
from suanwang.storage.journal import MemoryTaskJournal, SqlTaskJournal

LIVE_SCENARIO_FILE = "live-scenario.json"
"""File in the data folder holding the scenario last made live through the API."""

FIRST_ADMIN_ID = "admin"
"""Principal id of the admin created at the first start."""


@dataclass(frozen=True, slots=True)
class Built:
    """A control plane ready to start, and the first admin's token if this start created one."""

    plane: ControlPlane
    first_token: IssuedToken | None


def journal_for(stores: Stores) -> TaskJournal:
    """The group-commit journal over the same database as ``stores``."""
    if stores.engine is None:
        return MemoryTaskJournal(stores.tasks, stores.audit)
    return SqlTaskJournal(stores.engine)


def ensure_admin(principals: PrincipalStore, tenant: str) -> IssuedToken | None:
    """Create the first admin and a token for it when no admin exists; None otherwise."""
    if any(Role.ADMIN in p.roles for p in principals.principals()):
        return None
    # An "admin" principal stripped of its role is given the token all the same.
    with contextlib.suppress(PrincipalExistsError):
        principals.add_principal(Principal(FIRST_ADMIN_ID, tenant, frozenset({Role.ADMIN})))
    return principals.create_token(FIRST_ADMIN_ID)


def live_scenario(settings: Settings) -> Scenario:
    """The scenario to serve: the one last made live, else the configured one.

    Raises:
        ScenarioError: the scenario cannot be read.
    """
    kept = settings.data_dir / LIVE_SCENARIO_FILE
    if kept.exists():
        return load_scenario(kept)
    return resolve_scenario(settings.scenario)


def build_plane(settings: Settings, clock: Clock | None = None) -> Built:
    """Open the database, load the scenario and the profile, and assemble the control plane.

    Raises:
        ScenarioError: the scenario cannot be read.
        ProfileError: the profile is unknown or invalid.
        StoreUnavailableError: the database cannot be opened.
    """
    scenario = live_scenario(settings)
    profile = resolve_profile(settings.profile)
    stores = open_store(settings.resolved_database_url())
    first = ensure_admin(stores.principals, settings.admin_tenant)
    health = None
    if settings.down_after_s > 0:
        suspect_after_s = min(settings.suspect_after_s, settings.down_after_s)
        health = HealthConfig(settings.health_tick_s, suspect_after_s, settings.down_after_s)
    plane = ControlPlane(
        stores,
        journal_for(stores),
        scenario,
        profile,
        clock=clock,
        max_batch=settings.max_batch,
        live_scenario_path=settings.data_dir / LIVE_SCENARIO_FILE,
        health=health,
    )
    return Built(plane, first)
