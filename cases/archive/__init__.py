"""The year's archive (档案按年组卷, 保管期限10年): one self-contained, checkable bundle per year.

The city keeps the case archives ten years, filed by the categories of its filing rules and in
time order. ``arrears archive export --year Y`` writes ``arrears-archive-Y.tar``: the letters of
the year as filed, each case's record, the year's segment of the tamper-evident log with the heads
files sealed that year, the texts sent, the quarterly lists of serious non-payers and the year's
figures, under the seven categories (:data:`cases.archive.bundle.CATEGORIES`), with a manifest of
every file's SHA-256 and the date it may be destroyed: 31 December of year Y + 10.

``arrears archive verify BUNDLE`` checks a copy anywhere, without the database
(:mod:`cases.archive.verify`): a changed PDF, event or manifest is named.

Modules: :mod:`~cases.archive.bundle` (layout, manifest, tar), :mod:`~cases.archive.context` and
:mod:`~cases.archive.sections` (what each category holds; one line adds a section),
:mod:`~cases.archive.information` (case records and the log segment),
:mod:`~cases.archive.summaries` (the year's figures), :mod:`~cases.archive.export`,
:mod:`~cases.archive.verify` and :mod:`~cases.archive.logsegment` (offline checks),
:mod:`~cases.archive.record` (the tables of a case's record, shared with the retention purge).

The reports (汇报资料类) and statistics (统计资料类) folders are in every bundle; their sections,
the monthly progress tables and the quarterly assessments, come with :mod:`cases.reports`.
"""
