"""The one place Loumo is wired together: read this file to see which package gives what to which.

Packages sit in layers (DESIGN.md) and import only downwards, so a lower package that needs
something from a higher one declares a port (a small interface or function type) and the
wiring, which sits on top with `main` and `cli`, plugs the higher package's implementation in:

- job modules: the modules whose `@job`/`@periodic` handlers every API and worker process loads;
- permissions: each package's `PERMISSIONS` tuple, registered in the one catalog of `core`;
- principal enrichers: what other packages add to the caller that accounts loads (shops add the
  shops a manager runs);
- the availability source: catalog lists what shops stock, without importing shops;
- the recipient directory: notifications turn user ids and permissions into people through
  accounts, without importing accounts.

`create_app` and `loumo worker` (and the CLI commands that touch data) call `build(settings)`
before anything else; a port left empty fails there, loudly, instead of a page that quietly
shows nothing in stock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from loumo import accounts, audit, catalog, content, orders, payments, promotions, shops, zones
from loumo.accounts.directory import holders_of, recipients_for
from loumo.accounts.principal import PrincipalEnricher
from loumo.catalog.availability import AvailabilitySource, register_availability_source
from loumo.core.permissions import Permission, register_permissions
from loumo.core.settings import Settings
from loumo.jobs.registry import load_task_modules
from loumo.jobs.runtime import task_modules
from loumo.notifications.recipients import (
    HoldersOf,
    ResolveRecipients,
    register_recipient_resolver,
)
from loumo.shops.availability import SHOP_AVAILABILITY
from loumo.shops.managers import with_managed_shops

# Every module that declares job handlers (`JOBS_MODULES` adds more at run time, e.g. in tests).
JOB_MODULES: tuple[str, ...] = (
    "loumo.notifications.tasks",
    "loumo.accounts.tasks",
    "loumo.shops.tasks",
    "loumo.media.tasks",
    "loumo.orders.tasks",
    "loumo.payments.tasks",
    "loumo.payments.sandbox.tasks",
)


class MissingPort(RuntimeError):
    """A port no package provides: the process refuses to start rather than half-work."""


@dataclass(frozen=True, slots=True)
class RecipientDirectory:
    """How notifications reach people: user ids to recipients, permission to holders."""

    resolve: ResolveRecipients
    holders_of: HoldersOf


@dataclass(frozen=True, slots=True)
class Ports:
    """What the packages give each other; `None` is a port nobody filled (refused by `build`)."""

    job_modules: tuple[str, ...]
    permissions: tuple[Permission, ...]
    principal_enrichers: tuple[PrincipalEnricher, ...]
    availability: AvailabilitySource | None
    recipients: RecipientDirectory | None


def default_ports() -> Ports:
    """Loumo as it ships: every port filled by the package that owns the data."""
    return Ports(
        job_modules=JOB_MODULES,
        permissions=(
            *accounts.PERMISSIONS,
            *audit.PERMISSIONS,
            *zones.PERMISSIONS,
            *catalog.PERMISSIONS,
            *shops.PERMISSIONS,
            *promotions.PERMISSIONS,
            *orders.PERMISSIONS,
            *payments.PERMISSIONS,
            *content.PERMISSIONS,
        ),
        principal_enrichers=(with_managed_shops,),
        availability=SHOP_AVAILABILITY,
        recipients=RecipientDirectory(resolve=recipients_for, holders_of=holders_of),
    )


def build(settings: Settings, ports: Ports | None = None) -> Ports:
    """Check every port is filled, plug each in, load the job handlers; returns the ports."""
    ports = ports or default_ports()
    missing = [f.name for f in fields(ports) if getattr(ports, f.name) is None]
    if missing:
        raise MissingPort(
            f"no package provides {', '.join(missing)}: see default_ports() in loumo/wiring.py"
        )
    assert ports.availability is not None and ports.recipients is not None  # checked above
    register_permissions(ports.permissions)
    register_availability_source(ports.availability)
    register_recipient_resolver(ports.recipients.resolve, ports.recipients.holders_of)
    load_task_modules(task_modules(settings, ports.job_modules))
    return ports
