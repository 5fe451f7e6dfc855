"""Reports of a results database: `maeid report` writes `report.md` and its figures.

One section per measure (`symbols`, `shape_bias`, `rendition`, `identifiability`,
`probe`, `reconstruction`) and the sections that are no measure (`theory`, `runs`,
`training`, `agreement`, `readouts`, ...), each registered by name with the metrics it
reads (`maeid.report.registry`), all written through one table layer
(`maeid.report.cells`: rows by cell; `maeid.report.table`: Markdown and number text).
"""

from maeid.report.build import Report, build_report, default_report_dir

__all__ = ["Report", "build_report", "default_report_dir"]
