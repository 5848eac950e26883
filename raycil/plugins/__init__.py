"""Plug-ins: systems that compose with every CIL method by changing what the memory stores or what
a batch holds. The seam (:mod:`~raycil.plugins.seam`: learner hooks), the spec every plug-in
exports and its settings base (:mod:`~raycil.plugins.spec`), the registry
(:mod:`~raycil.plugins.registry`), the assembly of a run's learner and memory
(:mod:`~raycil.plugins.assembly`) and one package per plug-in: ``cim``, ``mrdc``, ``mnemonics``,
``mfgr``."""
