"""Date formats for English pages. The zone abbreviation is part of every date-time shown:
staff pages run in ``STAFF_TIME_ZONE`` (config.staff_time), so a time never reads as ambiguous."""

DATETIME_FORMAT = "M j, Y, g:i A T"
SHORT_DATETIME_FORMAT = "M j, g:i A T"
DATE_FORMAT = "M j, Y"
TIME_FORMAT = "g:i A T"
