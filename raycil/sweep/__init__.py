"""The Ray side: a sweep's settings and plan (:mod:`~raycil.sweep.settings`,
:mod:`~raycil.sweep.plan`, validated and expanded before Ray starts), its Tune trainable
(:mod:`~raycil.sweep.trial`) with the two actors of a trial (:mod:`~raycil.sweep.actors`) and
their checkpoints (:mod:`~raycil.sweep.checkpoints`), the tuner (:mod:`~raycil.sweep.tuner`), live
progress (:mod:`~raycil.sweep.progress`, :mod:`~raycil.sweep.callback`), the cluster connection,
and ``python -m raycil.sweep`` (:mod:`~raycil.sweep.cli`). Nothing here loads torch but the
LearnerActor's own process."""
