"""Statistics behind the designs: interval boundaries, isotonic regression and posteriors.

Modules here compute numbers only; designs and rules decide. Names used outside the core are
exported by ``escalation/__init__.py``.
"""
