"""The learner side of a run: the one training loop (:mod:`~raycil.learner.learner`), the one
inference loop (:mod:`~raycil.learner.inference`), the batch pipeline (:mod:`~raycil.learner.batches`,
:mod:`~raycil.learner.transforms`), the one phase loop (:mod:`~raycil.learner.phases`) and the
``train`` settings (:mod:`~raycil.learner.config`, importable without torch)."""
