"""Designs: one file per design, each a frozen dataclass of its options.

``DESIGNS`` maps the trial document's ``method`` to the design class.
"""

from escalation.designs.base import Design, DesignRules, ModelFit
from escalation.designs.boin import BOIN

DESIGNS: dict[str, type[Design]] = {cls.method: cls for cls in (BOIN,)}

__all__ = ["BOIN", "DESIGNS", "Design", "DesignRules", "ModelFit"]
