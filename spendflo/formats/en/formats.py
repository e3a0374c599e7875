"""Django's fallback formats match the one human format of spendflo.organizations.timezones
(pages render dates with the `when` filter; these cover anything rendered bare)."""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i T"
TIME_FORMAT = "H:i"
