"""CIL methods: one file of hooks each (``raycil/methods/<name>.py``, a
:class:`~raycil.methods.base.Method`), its settings section in :mod:`raycil.methods.settings`,
registered with one line in :mod:`raycil.methods.registry`."""
