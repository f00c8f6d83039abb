"""Content: the FAQ (topics and entries, French and English) and the business settings staff
change at run time (DESIGN.md: "configuration vs settings").

What is where:
- `registry.py`: every known setting (`Knob`): key, section, type, public or not, description,
  its checks and its environment default. Nothing outside the registry can be stored.
- `settings.py`: the reader other packages use (`await value(session, FIDELITY_RATE,
  settings)`: the stored value, else the environment default, typed; cached per process for
  `CACHE_SECONDS`) and the staff reads and writes of `/settings` (audited).
- `faq.py`: topics and entries: public reads of published ones, staff writes.
- `seed.py`: the demo FAQ (`demo_faq.json`) and contact phone; `models.py`, `schemas.py`,
  `router.py` (HTTP only).

The package sits low in the layers (with catalog, zones, notifications) so that orders,
payments and delivery can read settings; it imports only `core`, `audit` and below.
"""

from loumo.core.permissions import SUPPORT, Permission

CONTENT_READ = "content:read"
CONTENT_WRITE = "content:write"
SETTINGS_READ = "settings:read"
SETTINGS_WRITE = "settings:write"

PERMISSIONS = (
    Permission(CONTENT_READ, "Read unpublished FAQ topics and entries", roles=(SUPPORT,)),
    Permission(CONTENT_WRITE, "Write, publish, reorder and delete FAQ topics and entries"),
    Permission(SETTINGS_READ, "Read every business setting, private ones too", roles=(SUPPORT,)),
    Permission(SETTINGS_WRITE, "Change and reset business settings (audited)"),
)
