"""Every business setting Loumo knows: staff change these at run time through `/settings`
(DESIGN.md: "configuration vs settings"); what operators set at deploy time stays in the
environment, and is each knob's default here.

A knob declares its key, section, type, whether anyone may read it (`public`), what it means,
the checks its values pass, and its environment default. Only declared keys can be stored: an
unknown key is a 404, so a typo never becomes a setting nobody reads. A package that wants a
new knob declares it here, with the code that reads it.

Types and their JSON form (what `GET /settings` shows and `PUT` takes as `value`):
- `int`: a JSON integer; `bool`: `true`/`false` (no strings, no 0/1);
- `decimal`: a number or a numeric string, answered as a string (`"1.5"`);
- `string`: a JSON string;
- `duration`: an ISO 8601 duration (`"PT30M"`) or a number of seconds, answered in ISO 8601;
- `money`: `{"amount": <integer minor units>, "currency": "XAF"}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, TypeAdapter

from loumo.core.schemas import Currency, Phone
from loumo.core.settings import Settings

T = TypeVar("T")


class SettingType(StrEnum):
    INT = "int"
    DECIMAL = "decimal"
    BOOL = "bool"
    STRING = "string"
    DURATION = "duration"
    MONEY = "money"


class Money(BaseModel):
    """An amount in a currency's minor unit (XAF has none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: Annotated[int, Strict()] = Field(ge=0, le=10**12)
    currency: Currency


# The Python type of each setting type, with the checks every value of that type passes.
BASE_TYPES: dict[SettingType, Any] = {
    SettingType.INT: Annotated[int, Strict(), Field(ge=-(10**12), le=10**12)],
    SettingType.DECIMAL: Annotated[
        Decimal, Field(allow_inf_nan=False, max_digits=18, decimal_places=6)
    ],
    SettingType.BOOL: Annotated[bool, Strict()],
    SettingType.STRING: Annotated[str, Strict(), StringConstraints(max_length=2000)],
    SettingType.DURATION: Annotated[timedelta, Field(ge=timedelta(0), le=timedelta(days=3650))],
    SettingType.MONEY: Money,
}


@dataclass(frozen=True)
class Knob(Generic[T]):
    """A known setting: `value(session, knob, settings)` reads it as a `T`."""

    key: str
    section: str
    type: SettingType
    description: str
    # The environment's value: by default the `Settings` field named like the key.
    env_default: Callable[[Settings], T] | None = None
    public: bool = False
    checks: tuple[Any, ...] = ()  # extra annotated metadata, e.g. Field(gt=0)
    adapter: TypeAdapter[T] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.env_default is None and self.key not in Settings.model_fields:
            raise TypeError(f"knob {self.key!r}: no Settings field of that name, no env_default")
        base: Any = BASE_TYPES[self.type]
        checked: Any = Annotated[(base, *self.checks)] if self.checks else base
        object.__setattr__(self, "adapter", cast(TypeAdapter[T], TypeAdapter(checked)))

    def default(self, settings: Settings) -> T:
        """The value while staff have set none: what the environment configures."""
        if self.env_default is not None:
            return self.env_default(settings)
        return cast(T, getattr(settings, self.key))

    def parse(self, raw: Any) -> T:
        """`raw` (JSON) as this knob's type, or `pydantic.ValidationError`."""
        return self.adapter.validate_python(raw)

    def dump(self, value: T) -> Any:
        """`value` in its JSON form (what is stored and answered)."""
        return self.adapter.dump_python(value, mode="json")


FIDELITY_RATE = Knob[Decimal](
    key="fidelity_rate",
    section="orders",
    type=SettingType.DECIMAL,
    description="Fidelity points per 100 whole units of currency paid for goods (0: none)",
    public=True,
    checks=(Field(ge=0, le=1000),),
)
ORDER_PAYMENT_TIMEOUT = Knob[timedelta](
    key="order_payment_timeout",
    section="orders",
    type=SettingType.DURATION,
    description="How long a prepaid order placed from now on waits for its money",
    checks=(Field(gt=timedelta(0), le=timedelta(days=30)),),
)
ORDER_COMPLETE_AFTER = Knob[timedelta](
    key="order_complete_after",
    section="orders",
    type=SettingType.DURATION,
    description="How long after delivery an order completes and earns its points",
    checks=(Field(le=timedelta(days=365)),),
)
CONTACT_PHONE = Knob[str](
    key="contact_phone",
    section="contact",
    type=SettingType.STRING,
    description="The customer service phone number shown to customers (empty: none)",
    env_default=lambda s: "",
    public=True,
    checks=get_args(Phone)[1:],  # the kit's phone rule
)

DELIVERY_AUTO_ASSIGN = Knob[bool](
    key="delivery_auto_assign",
    section="delivery",
    type=SettingType.BOOL,
    description="Whether the assignment job gives ready fulfilments to available agents",
)
DELIVERY_CODE_TTL = Knob[timedelta](
    key="delivery_code_ttl",
    section="delivery",
    type=SettingType.DURATION,
    description="How long a delivery closing code stays valid after it is issued",
    checks=(Field(gt=timedelta(0), le=timedelta(days=7)),),
)
DELIVERY_DEFAULT_ETA = Knob[timedelta](
    key="delivery_default_eta",
    section="delivery",
    type=SettingType.DURATION,
    description="The arrival estimate a customer gets when the agent starts without giving one",
    checks=(Field(gt=timedelta(0), le=timedelta(days=2)),),
)

KNOBS: dict[str, Knob[Any]] = {
    knob.key: knob
    for knob in (
        FIDELITY_RATE,
        ORDER_PAYMENT_TIMEOUT,
        ORDER_COMPLETE_AFTER,
        CONTACT_PHONE,
        DELIVERY_AUTO_ASSIGN,
        DELIVERY_CODE_TTL,
        DELIVERY_DEFAULT_ETA,
    )
}
"""Every known setting by key: what `/settings` lists and the only keys it stores."""
