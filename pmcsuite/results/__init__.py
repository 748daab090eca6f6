"""The results stage: the result directory on disk (``store``), its columnar cache (``cache``), the
tidy table (``load``), files for other tools (``export``) and the importers of other tools' output
(``importers``). Nothing here starts a process."""
