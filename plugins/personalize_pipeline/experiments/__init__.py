"""A/B experiments of recommendation sources: the statistics (``stats``) and the daily report (``report``)."""
