"""The named Python hooks rule files refer to.

Rules are declarative; what cannot be said as a constraint is a hook with a
name: how an exposure's member type is decided (``exposure_types``), the
validity checks (``valid``), product-name templates (``product``), finalize
steps (``finalize``), values computed from the association (``~ f(name)``),
and the association properties and functions usable in ``check`` and
``onlyif`` expressions. The compiler binds the names, the checker reports
unknown ones, and the engine calls them; each hook says which constraints it
reads and which parameters it takes (:mod:`asnflow.hooks.registry`).

Importing this package fills the tables: each module below registers its
hooks when it is imported here.
"""

from asnflow.hooks import exposure_types, finalize_steps, products, validity, values  # noqa: F401
from asnflow.hooks.registry import (
    ALL_TABLES,
    CONTINUE,
    DYNAMIC_VALUES,
    EXPOSURE_POLICIES,
    FINALIZE_STEPS,
    FUNCTIONS,
    PRODUCT_TEMPLATES,
    PROPERTIES,
    SETTING_TABLES,
    VALIDITY_CHECKS,
    Hook,
    HookTable,
    Param,
    missing_reads,
)

__all__ = [
    "ALL_TABLES", "CONTINUE", "DYNAMIC_VALUES", "EXPOSURE_POLICIES", "FINALIZE_STEPS", "FUNCTIONS",
    "PRODUCT_TEMPLATES", "PROPERTIES", "SETTING_TABLES", "VALIDITY_CHECKS", "Hook", "HookTable", "Param",
    "missing_reads",
]
