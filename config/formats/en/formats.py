"""How staff pages write dates and times: one format everywhere (Django's named formats).

`{{ value }}` of a datetime, `{{ value|date }}` and `{{ value|date:"DATETIME_FORMAT" }}` all
read from here, so no template spells out a format of its own (a test holds them to it).
Day-month-year and a 24-hour clock, as the business (India) and most of the world write them:
"5 Dec 2026, 14:05" and "5 Dec 2026". Times of day alone (live feeds, job logs) keep seconds.
Input formats are Django's defaults for English.
"""

DATE_FORMAT = "j M Y"  # 5 Dec 2026
DATETIME_FORMAT = "j M Y, H:i"  # 5 Dec 2026, 14:05
TIME_FORMAT = "H:i:s"  # 14:05:09
SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
MONTH_DAY_FORMAT = "j M"  # chart axes: 5 Dec
YEAR_MONTH_FORMAT = "M Y"
FIRST_DAY_OF_WEEK = 1  # Monday
