"""Package data: the GB 3838-2002 standard and the parameter registry."""
