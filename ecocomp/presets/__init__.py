"""Shipped agreement files for the real schemes (澧水, 渌水, 酉水, 湘江, 新安江, 赤水河; air:
湖南, 安徽, 山东, 湖北, 郑州)."""

#: Presets that declare an agreement's shape but leave out amounts nobody has published [U]:
#: the user supplies them (``preset(name, params=...)``, or a copy of the file with the
#: amounts written). ``presets()`` lists them only with ``templates=True``.
TEMPLATES: frozenset[str] = frozenset({"lvshui-jx-hn-2022", "hunan-air-2019-attainment"})
