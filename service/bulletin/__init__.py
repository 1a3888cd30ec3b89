"""The monthly duty report (月度值班通报): the month's figures per unit, the late and
missing reports, and charts, as PDF, CSV and XLSX."""
