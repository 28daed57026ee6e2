"""Cleo Integration Cloud: authentication (``auth``), the path adapter (``paths``), folders and files
(``client``), and the checks of ``freshcleo ping`` (``health``)."""
