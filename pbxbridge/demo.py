"""Demo data for `pbxbridge run --demo` (what `make run` starts): seeded only into an empty
embedded billing. Any other billing is left alone and the service starts on it all the
same: `make run` runs whatever the config file says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from pbxbridge.app import Core


@dataclass(frozen=True)
class DemoSubscriber:
    login: str
    name: str
    phone: str
    balance: str
    tariff: str
    fee: str
    credit: str = "0"
    credit_days: int | None = None
    frozen: bool = False
    disabled: bool = False


DEMO_SUBSCRIBERS = (
    DemoSubscriber("demo1", "Петренко Іван Петрович", "0501110001", "150", "Test100", "100"),
    DemoSubscriber("demo2", "Debtor Dmytro", "0501110002", "-50", "Test100", "100"),
    DemoSubscriber("demo3", "Frozen Fedir", "0501110003", "200", "Test200", "200", frozen=True),
    DemoSubscriber(
        "demo4",
        "Credit Kateryna",
        "0501110004",
        "-20",
        "Test200",
        "200",
        credit="50",
        credit_days=3,
    ),
    DemoSubscriber("demo5", "Down Denys", "0501110005", "10", "Test100", "100", disabled=True),
)
DEMO_PAYCARD_AMOUNTS = (Decimal("50"), Decimal("100"))


async def seed_demo(core: Core) -> str:
    """Seed the demo data and describe it, or say in one line why nothing was seeded."""
    if core.local is None or core.paycards is None:
        return f"demo data not seeded: billing.backend is {core.settings.billing.backend}"
    if await core.local.has_subscribers():
        return "demo data not seeded: the embedded billing already has subscribers"
    today = core.clock.today()
    lines = ["Demo subscribers (call from these numbers, or use `pbxbridge agi-probe`):"]
    for demo in DEMO_SUBSCRIBERS:
        info = await core.local.add(
            demo.login,
            name=demo.name,
            phones=(demo.phone,),
            balance=Decimal(demo.balance),
            credit=Decimal(demo.credit),
            credit_expire=today + timedelta(days=demo.credit_days) if demo.credit_days else None,
            tariff=demo.tariff,
            fee=Decimal(demo.fee),
            frozen=demo.frozen,
            disabled=demo.disabled,
            actor="demo",
        )
        lines.append(
            f"  {demo.phone}  {info.login:<6} status {int(info.status)}  balance {info.balance:>7}"
            f"  credit {info.credit:>6}  {info.name}"
        )
    lines.append("Demo pay cards:")
    for amount in DEMO_PAYCARD_AMOUNTS:
        (number,) = await core.paycards.generate(1, amount)
        lines.append(f"  {number}  worth {amount}")
    return "\n".join(lines)
