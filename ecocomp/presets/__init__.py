"""Shipped agreement files for the real schemes (澧水, 渌水, 酉水, 湘江, 新安江, 赤水河)."""
