"""Designs: one file per design, each a frozen dataclass of its options.

``DESIGNS`` maps the trial document's ``method`` to the design class.
"""

from escalation.designs.base import Design, DesignRules, ModelFit
from escalation.designs.blrm import BLRM
from escalation.designs.boin import BOIN
from escalation.designs.boin12 import BOIN12
from escalation.designs.crm import CRM, TITECRM
from escalation.designs.three_plus_three import ThreePlusThree
from escalation.designs.tite_boin import TITEBOIN
from escalation.designs.tite_boin12 import TITEBOIN12

DESIGNS: dict[str, type[Design]] = {
    cls.method: cls
    for cls in (BOIN, TITEBOIN, CRM, TITECRM, BLRM, ThreePlusThree, BOIN12, TITEBOIN12)
}

__all__ = [
    "BLRM",
    "BOIN",
    "BOIN12",
    "CRM",
    "DESIGNS",
    "TITEBOIN",
    "TITEBOIN12",
    "TITECRM",
    "Design",
    "DesignRules",
    "ModelFit",
    "ThreePlusThree",
]
